"""``fastconv bench`` on tiny shapes: the table, JSON, the roofline PNG, errors, Ctrl-C."""
import functools
import json

import pytest

from fastconv import autotune, bench
from fastconv.cli import main

TINY = [bench.ConvCase("tiny_conv", 2, 2, 7, 6, 3, 3, 2, 1, 1),
        bench.PoolCase("tiny_max", "max", 2, 2, 6, 6, 2, 2, 0)]
PEERS = ["naive", "numpy", "auto"] + (["torch"] if bench.torch_available() else [])


@pytest.fixture(autouse=True)
def tiny(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "CASES", TINY)
    monkeypatch.setattr(bench, "NAIVE_CASES", [c.name for c in TINY])
    monkeypatch.setattr(bench, "measure_roofs",
                        functools.partial(bench.measure_roofs, matmul_size=64, copy_mib=1, rounds=1))
    monkeypatch.setenv("FASTCONV_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(autotune, "_memory", {})


def bench_cli(*options, peers=("naive", "numpy")):
    return main(["bench", "--quick", "--threads", "1", "--shapes", "tiny_conv", "tiny_max",
                 "--backends", *peers, *options])


def test_the_table_has_one_row_per_peer_case_and_direction(capsys):
    assert bench_cli(peers=PEERS) == 0
    out = capsys.readouterr().out
    for column in ("op", "shape", "dir", "backend:algorithm", "median ms", "rate", "% roof",
                   "x naive", "x numpy", "x torch", "1st call s"):
        assert column in bench.HEADER
    assert bench.HEADER in out and "GFLOP/s" in out and "GB/s" in out
    rows = [line for line in out.splitlines() if "tiny_" in line]
    expected_peers = ["naive:loops", "numpy:im2col", "auto"] + PEERS[3:]
    assert len(rows) == 2 * 2 * len(expected_peers)
    assert all(any(peer in row for row in rows) for peer in expected_peers)


def test_json_holds_every_row_and_the_roofs(capsys):
    assert bench_cli("--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["roofs"]["1"]["gemm_gflops"] > 0 and result["roofs"]["1"]["copy_gbps"] > 0
    assert not result["interrupted"] and not result["failures"]
    numpy_rows = [r for r in result["rows"] if r["peer"] == "numpy:im2col"]
    assert len(numpy_rows) == 4 and all(r["x_numpy"] == 1 and r["x_naive"] > 0 for r in numpy_rows)
    assert {r["unit"] for r in result["rows"]} == {"GFLOP/s", "GB/s"}


def test_plot_writes_a_png(tmp_path, capsys):
    path = tmp_path / "roofline.png"
    assert bench_cli("--plot", str(path)) == 0
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 10_000


@pytest.mark.parametrize("option, value, message", [
    ("--ops", "conv3d", "invalid choice: 'conv3d'"),
    ("--shapes", "huge", "invalid choice: 'huge'"),
    ("--backends", "fortran", "unknown backend 'fortran'"),
])
def test_an_unknown_value_is_a_clear_error_with_status_2(capsys, option, value, message):
    try:
        status = main(["bench", option, value])
    except SystemExit as stop:  # argparse's own check of choices
        status = stop.code
    assert status == 2
    assert message in capsys.readouterr().err


def test_ctrl_c_prints_what_finished_and_exits_130(monkeypatch, capsys):
    real, calls = bench.compare, []

    def compare_then_interrupt(*args, **kwargs):
        calls.append(args)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "compare", compare_then_interrupt)
    assert bench_cli() == 130
    captured = capsys.readouterr()
    assert "interrupted" in captured.err
    rows = [line for line in captured.out.splitlines() if "tiny_" in line]
    assert rows and all("tiny_conv" in row and "forw" in row for row in rows)
