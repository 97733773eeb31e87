"""The example scripts: each trains its network for one epoch on a few batches."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import MODEL_BACKENDS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUICK = ["--epochs", "1", "--limit", "32", "--batch-size", "16"]


def example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["lenet5", "tiny_cnn", "keras_cnn", "pytorch_cnn"])
def test_example_trains_and_reports_its_accuracy(name, capsys):
    accuracy = example(name).main(["--backend", "numpy", *QUICK])
    out = capsys.readouterr().out
    assert 0 <= accuracy <= 1
    assert f"test accuracy: {accuracy:.2%} on 500 digits" in out
    assert "Total params:" in out


@pytest.mark.parametrize("backend", [b for b in MODEL_BACKENDS if b not in ("naive", "numpy")])
def test_an_example_runs_on_every_fast_backend(backend, capsys):
    assert 0 <= example("tiny_cnn").main(["--backend", backend, *QUICK]) <= 1


def test_examples_are_scripts_with_a_command_line():
    result = subprocess.run([sys.executable, str(EXAMPLES / "keras_cnn.py"), "--help"],
                            capture_output=True, text=True, check=True)
    assert "--backend" in result.stdout and "--limit" in result.stdout
