"""Pictures: the data behind each one, and ``fastconv show`` writing them headless."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from fastconv import models, visualize
from fastconv.cli import main


def assert_picture(path):
    """A PNG file that is not one flat colour."""
    assert path.read_bytes().startswith(b"\x89PNG")
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert pixels[..., :3].std() > 0.05


def test_sobel_of_a_step_edge_matches_the_hand_computed_values():
    image = np.zeros((5, 6), dtype=np.float32)
    image[:, 3:] = 10.0  # dark left half, bright right half
    vertical, horizontal = visualize.sobel_edges(image, backend="numpy")
    # Inside: rows -1, 0, 1 of the kernel each see 0 on the left and 10 on the right.
    assert vertical[2, 2] == pytest.approx((1 + 2 + 1) * 10)
    assert horizontal[2, 2] == 0
    # Top border: the zero padding above removes the kernel's first row,
    # vertical = 2*10 + 1*10 and horizontal = (1*0 + 2*0 + 1*10) from the row below.
    assert vertical[0, 2] == pytest.approx(30)
    assert horizontal[0, 2] == pytest.approx(10)


@pytest.mark.parametrize("backend", ["naive", "numpy"])
def test_sobel_of_a_real_digit_is_the_weighted_sum_of_each_neighbourhood(backend):
    from fastconv.data import load_embedded_digits

    digit = load_embedded_digits()[0][0, 0] / 255
    vertical, horizontal = visualize.sobel_edges(digit, backend=backend)
    padded = np.pad(digit, 1)
    i, j = np.unravel_index(np.abs(vertical).argmax(), vertical.shape)
    window = padded[i:i + 3, j:j + 3]
    assert vertical[i, j] == pytest.approx(np.sum(window * visualize.SOBEL_X), abs=1e-5)
    assert horizontal[i, j] == pytest.approx(np.sum(window * visualize.SOBEL_Y), abs=1e-5)
    assert abs(vertical[i, j]) > 1  # a real edge


def test_feature_maps_follow_the_model_layer_by_layer():
    model = models.lenet5().to("numpy")
    maps = visualize.feature_maps(model, np.zeros((1, 32, 32), np.float32))
    assert [name for name, _ in maps][:2] == ["input", "0 Conv2d"]
    shape = (1, 1, 32, 32)
    for (_, y), layer in zip(maps[1:], model.layers):
        shape = layer.output_shape(shape)
        assert y.shape == shape
    assert visualize.conv_layers(model) == [0, 3]


def test_mistakes_come_first_in_their_original_order():
    labels = np.array([1, 2, 3, 4, 5])
    predictions = np.array([1, 0, 3, 0, 5])
    np.testing.assert_array_equal(visualize.mistakes_first(labels, predictions), [1, 3, 0, 2, 4])


def test_plots_write_pictures(tmp_path):
    rng = np.random.default_rng(0)
    visualize.plot_filters(rng.standard_normal((6, 2, 5, 5)), tmp_path / "filters.png", "random")
    images = rng.integers(0, 255, (12, 1, 28, 28))
    visualize.plot_predictions(images, np.arange(12) % 10, np.zeros(12, int), tmp_path / "errors.png")
    for name in ("filters.png", "errors.png"):
        assert_picture(tmp_path / name)


def test_show_sobel_needs_no_model(tmp_path, capsys):
    assert main(["show", "sobel", "--out", str(tmp_path), "--digit", "3", "--backend", "numpy"]) == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(tmp_path / "sobel.png")]
    assert "training" not in err
    assert_picture(tmp_path / "sobel.png")


def test_show_trains_a_quick_model_and_draws_everything(tmp_path, capsys):
    status = main(["show", "filters", "features", "errors", "curves", "--model", "tiny_cnn",
                   "--backend", "numpy", "--limit", "64", "--out", str(tmp_path)])
    assert status == 0
    out, err = capsys.readouterr()
    assert "training a quick tiny_cnn on 64 embedded digits" in err
    names = ["filters.png", "features.png", "errors.png", "curves.png"]
    assert out.split() == [str(tmp_path / name) for name in names]
    for name in names:
        assert_picture(tmp_path / name)


def test_show_loads_saved_weights_and_writes_to_the_current_directory(tmp_path, monkeypatch, capsys):
    model = models.tiny_cnn(seed=1)
    model.save(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    assert main(["show", "filters", "--model", "tiny_cnn", "--weights", "tiny.npz", "--backend", "numpy"]) == 0
    out, err = capsys.readouterr()
    assert out.split() == ["filters.png"] and "training" not in err
    assert_picture(tmp_path / "filters.png")


@pytest.mark.parametrize("argv, message", [
    (["filters", "--model", "tiny_cnn", "--layer", "1"], "layer 1 is not a convolution"),
    (["sobel", "--digit", "100000"], "--digit must be in [0, 500)"),
    (["filters", "--weights", "nowhere.npz"], "nowhere.npz"),
])
def test_show_explains_bad_requests(tmp_path, capsys, argv, message):
    if "--layer" in argv:
        models.tiny_cnn().save(tmp_path / "tiny.npz")
        argv = argv + ["--weights", str(tmp_path / "tiny.npz")]
    assert main(["show", *argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
