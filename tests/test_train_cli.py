"""``fastconv train``: a smoke run on a few batches, its outputs, and its errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fastconv import models
from fastconv.cli import main


def test_train_runs_a_few_batches_and_writes_json_weights_and_curves(tmp_path, capsys):
    weights, curves = tmp_path / "lenet5.npz", tmp_path / "curves.png"
    status = main(["train", "--backend", "numpy", "--epochs", "2", "--limit", "128", "--batch-size", "64",
                   "--quiet", "--json", "--save", str(weights), "--plot", str(curves)])
    assert status == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("test accuracy: ")
    result = json.loads(out[-1])
    assert result["model"] == "lenet5" and result["backend"] == "numpy" and result["epochs"] == 2
    assert result["train_samples"] == 128 and result["test_samples"] == 500  # a tenth of the 5,000 digits
    assert 0 <= result["test_accuracy"] <= 1 and result["train_seconds"] > 0
    models.lenet5().load(weights)
    assert curves.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("name", ["tiny_cnn", "pytorch_cnn"])
def test_train_takes_any_zoo_model_and_adam(name, capsys):
    status = main(["train", "--model", name, "--backend", "numpy", "--epochs", "1", "--limit", "32",
                   "--optimizer", "adam", "--shift", "0", "--schedule", "constant", "--quiet", "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model"] == name and result["optimizer"] == "adam" and result["lr"] == 1e-3


def test_train_reports_a_missing_idx_folder(tmp_path, capsys):
    assert main(["train", "--test-idx", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "t10k-images-idx3-ubyte" in capsys.readouterr().err


def test_train_reports_an_unknown_backend(capsys):
    assert main(["train", "--backend", "fortran", "--quiet"]) == 2
    assert "unknown backend" in capsys.readouterr().err


def test_train_is_reproducible_with_a_seed(tmp_path, capsys):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in paths:
        main(["train", "--backend", "numpy", "--epochs", "1", "--limit", "64", "--quiet", "--seed", "3",
              "--save", str(path)])
    first, second = (np.load(p) for p in paths)
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name])
