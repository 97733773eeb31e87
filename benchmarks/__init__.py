"""pytest-benchmark suite (``pytest benchmarks/``) and a one-table report
(``python -m benchmarks.report``); the cases and measurements live in :mod:`fastconv.bench`."""
