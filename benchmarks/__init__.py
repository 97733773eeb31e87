"""pytest-benchmark suite (``pytest benchmarks/``); the one-table report is ``fastconv bench``.
The cases and measurements of both live in :mod:`fastconv.bench`."""
