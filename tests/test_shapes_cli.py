"""``fastconv shapes``: the conv arithmetic calculator and its explanations."""
from __future__ import annotations

import pytest

from fastconv import models
from fastconv.cli import main
from fastconv.cli.shapes import build, describe
from fastconv.shapes import conv_geometry, im2col_bytes

LENET_28 = ("1x28x28 conv:6:k5:p2 relu maxpool:k2 conv:16:k5 relu maxpool:k2 "
            "flatten linear:120 relu linear:84 relu linear:10").split()


def shapes(capsys, *argv):
    status = main(["shapes", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_lenet5_from_the_zoo(capsys):
    status, out, err = shapes(capsys, "--model", "lenet5")
    assert status == 0 and not err
    assert "parameters: 61,706" in out
    first_conv = next(line for line in out.splitlines() if line.startswith("0 "))
    # 6 filters of 1x5x5 plus 6 biases; 2*6*28*28*25 FLOPs; a 25 x 784 float32 column matrix
    assert first_conv.split() == ["0", "conv:6:k5", "(6,", "28,", "28)", "156", "235,200", "76.6", "KiB"]
    assert "(16, 5, 5)" in out and "(10,)" in out


def test_lenet5_as_a_spec_on_28x28_digits(capsys):
    status, out, _ = shapes(capsys, *LENET_28)
    assert status == 0
    assert "parameters: 61,706" in out
    assert "spec: " + " ".join(LENET_28) in out


def test_im2col_size_and_flops_scale_with_the_batch(capsys):
    status, out, _ = shapes(capsys, "3x32x32", "conv:8:k3:p1", "--batch", "4", "--dtype", "float64")
    assert status == 0
    expected = im2col_bytes(conv_geometry((4, 3, 32, 32), (8, 3, 3, 3), 1, 1), 8, images=4)
    assert expected == 3 * 9 * 32 * 32 * 4 * 8
    assert f"{expected / 2**10:,.1f} KiB" in out
    assert f"forward FLOPs for a batch of 4: {2 * 4 * 8 * 32 * 32 * 27:,}" in out


def test_a_stride_that_does_not_tile_the_input_is_a_warning(capsys):
    status, out, _ = shapes(capsys, "1x28x28", "conv:8:k3:s2", "maxpool:k2")
    assert status == 0
    warnings = [line for line in out.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert "padded 28x28 input with a 3x3 window: its last 1 row(s) and 1 column(s)" in warnings[0]
    assert "floored to 13x13" in warnings[0]
    assert "padded 13x13 input with a 2x2 window" in warnings[1]


@pytest.mark.parametrize("argv, message", [
    (["1x28x28", "conv:6:k5", "conv:16:k5", "maxpool:k2", "conv:16:k11"],
     "layer 3 (conv:16:k11) cannot take an input of (16, 10, 10): conv2d output would be empty"),
    (["1x28x28", "conv:6:k5", "linear:10"], "linear needs a flat input, got (6, 24, 24); put flatten"),
    (["1x28x28", "flatten", "conv:6:k3"], "conv needs a CxHxW input, got (784,)"),
    (["1x28x28", "conv:6:k5:s0"], "layer 0 (conv:6:k5:s0) cannot take an input of (1, 28, 28): stride must be >= 1"),
    (["1x28x28", "maxpool:k2:p2"], "padding (2, 2) must be at most half of kernel_size"),
    (["1x28x28", "conv:6"], "conv needs a kernel size"),
    (["1x28x28", "conv:6:q5"], "cannot read 'q5'"),
    (["1x28x28", "pool:k2"], "unknown layer 'pool'"),
    (["28x28", "conv:6:k5"], "the input size must be CxHxW"),
    ([], "give a zoo model"),
    (["--model", "keras_cnn", "3x28x28"], "w has 1 input channels but x has 3"),
])
def test_invalid_stacks_are_explained_without_a_traceback(capsys, argv, message):
    status, out, err = shapes(capsys, *argv)
    assert status == 2
    assert err.startswith("fastconv shapes: error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_zoo_model_reads_back_from_its_spec(name):
    model = models.MODELS[name]()
    spec = ["x".join(map(str, model.input_shape)), *(describe(layer) for layer in model.layers)]
    input_shape, layers = build(spec)
    assert input_shape == model.input_shape
    assert [describe(layer) for layer in layers] == spec[1:]
    assert sum(layer.parameter_count() for layer in layers) == model.parameter_count()
