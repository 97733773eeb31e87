"""Gradient checks: the library tiers, their power to catch a wrong gradient, and the CLI."""
import numpy as np
import pytest

import fastconv.functional as F
from fastconv import gradcheck
from fastconv.cli import main
from helpers import SIMULATED_CUDA

# The simulated GPU runs ~250 us per thread: two forward passes per element (elementwise
# tier) or large inputs would take minutes, so there it gets the directional tier on the
# small inputs.
CHECKS = [
    (op, backend, method, "small" if simulated else None)
    for op, backend in gradcheck.targets()
    for simulated in [SIMULATED_CUDA and backend.startswith("cuda")]
    for method in (("directional",) if simulated else ("elementwise", "directional"))
]


@pytest.mark.parametrize("op, backend, method, size", CHECKS)
def test_every_op_passes_on_every_backend(op, backend, method, size):
    result = gradcheck.check_op(op, backend, method, size=size)
    assert result.passed, f"{op} on {backend} ({method}): relative error {result.error:.2e}"


def test_relative_error_formula():
    assert gradcheck.relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert gradcheck.relative_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert gradcheck.relative_error(np.array([0.0]), np.array([0.0])) == 0.0


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    grad = gradcheck.numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(grad, 3 * np.array([1.0, 4.0, 9.0]), rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored


@pytest.mark.parametrize("method", ["elementwise", "directional"])
def test_a_wrong_gradient_is_caught(monkeypatch, method):
    """Halving dw must fail both tiers: the checks can fail."""
    real = F.conv2d_backward

    def half_dw(*args, **kwargs):
        dx, dw, db = real(*args, **kwargs)
        return dx, dw / 2, db

    monkeypatch.setattr(F, "conv2d_backward", half_dw)
    assert not gradcheck.check_op("conv2d", "numpy", method).passed


def test_cli_prints_a_table_and_exits_0(capsys):
    assert main(["gradcheck", "--backends", "naive", "numpy", "--ops", "avg_pool2d"]) == 0
    out = capsys.readouterr().out
    assert "avg_pool2d   numpy" in out and "pass" in out and "all checks passed" in out


def test_cli_exits_1_on_a_failure(monkeypatch, capsys):
    real = F.max_pool2d_backward
    monkeypatch.setattr(F, "max_pool2d_backward", lambda *a, **k: real(*a, **k) * 1.5)
    assert main(["gradcheck", "--backends", "numpy", "--ops", "max_pool2d"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cli_rejects_an_unknown_backend(capsys):
    assert main(["gradcheck", "--backends", "fortran"]) == 2
    assert "unknown backend 'fortran'" in capsys.readouterr().out
