"""Layers, losses and optimizers: gradients by finite differences on every backend, and behaviour."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv.functional as F
from fastconv import nn, optim
from fastconv.gradcheck import TOLERANCE, numerical_gradient, relative_error
from fastconv.losses import CrossEntropyLoss, MSELoss
from helpers import MODEL_BACKENDS



def distinct_values(rng, shape):
    """Float64 values at least 0.05 apart and away from 0: no ties for max, no kink for ReLU."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2 + 0.5) * 0.05
    return values.reshape(shape)


LAYERS = {
    "conv2d": (lambda rng: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), rng=rng),
               (2, 2, 6, 7)),
    "conv2d_no_bias": (lambda rng: nn.Conv2d(1, 2, 3, bias=False, rng=rng), (1, 1, 5, 4)),
    "max_pool2d": (lambda rng: nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 5, 6)),
    "avg_pool2d": (lambda rng: nn.AvgPool2d((2, 3), stride=(1, 2), padding=(1, 1)), (2, 2, 5, 6)),
    "global_avg_pool2d": (lambda rng: nn.GlobalAvgPool2d(), (2, 3, 3, 4)),
    "global_max_pool2d": (lambda rng: nn.GlobalMaxPool2d(), (2, 3, 3, 4)),
    "linear": (lambda rng: nn.Linear(5, 3, rng=rng), (4, 5)),
    "relu": (lambda rng: nn.ReLU(), (2, 3, 4)),
    "sigmoid": (lambda rng: nn.Sigmoid(), (3, 5)),
    "tanh": (lambda rng: nn.Tanh(), (3, 5)),
    "flatten": (lambda rng: nn.Flatten(), (2, 3, 2, 2)),
    "softmax": (lambda rng: nn.Softmax(), (3, 4)),
    "dropout": (lambda rng: nn.Dropout(0.4, rng=0), (3, 6)),
}


def reseeding(layer, rng_seed=0):
    """For Dropout: the same mask on every forward pass, so the loss is a fixed function of x."""
    def forward(x):
        if isinstance(layer, nn.Dropout):
            layer.rng = np.random.default_rng(rng_seed)
        return layer.forward(x)
    return forward


@pytest.mark.parametrize("backend", MODEL_BACKENDS)
@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradients_match_finite_differences(name, backend):
    rng = np.random.default_rng(1)
    make, shape = LAYERS[name]
    layer = make(rng).to(backend, dtype=np.float64)
    forward = reseeding(layer)
    x = distinct_values(rng, shape)
    y = forward(x)
    assert y.shape == layer.output_shape(shape)
    weights = rng.standard_normal(y.shape)  # loss = sum(y * weights), so dL/dy = weights

    def loss():
        return float(np.sum(forward(x) * weights))

    dx = layer.backward(weights)
    assert relative_error(dx, numerical_gradient(loss, x)) < TOLERANCE, "dx"
    for param_name, p in layer.named_parameters():
        forward(x)
        layer.backward(weights)
        analytic = p.grad.copy()
        assert relative_error(analytic, numerical_gradient(loss, p.data)) < TOLERANCE, param_name


@pytest.mark.parametrize("backend", MODEL_BACKENDS)
def test_layers_give_the_same_output_on_every_backend(backend):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 7, 7))
    for make, _ in (LAYERS["conv2d"], LAYERS["max_pool2d"], LAYERS["avg_pool2d"]):
        reference = make(np.random.default_rng(0)).to("naive", dtype=np.float64).forward(x)
        actual = make(np.random.default_rng(0)).to(backend, dtype=np.float64).forward(x)
        np.testing.assert_allclose(actual, reference, rtol=1e-10, atol=1e-12)


def test_parameters_are_named_and_counted_as_in_pytorch():
    conv = nn.Conv2d(3, 8, 5)
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    assert conv.weight.shape == (8, 3, 5, 5) and conv.parameter_count() == 8 * 3 * 25 + 8
    assert [name for name, _ in nn.Linear(4, 2, bias=False).named_parameters()] == ["weight"]
    assert nn.Dense is nn.Linear and nn.Conv2D is nn.Conv2d


def test_initialisation_is_seedable_and_scaled():
    a, b = nn.Conv2d(16, 32, 3, rng=7), nn.Conv2d(16, 32, 3, rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert abs(a.weight.data.std() - np.sqrt(2 / (16 * 9))) < 0.01  # He: sqrt(2 / fan_in)
    glorot = nn.Linear(200, 100, init="glorot", rng=0).weight.data
    assert np.abs(glorot).max() <= np.sqrt(6 / 300)
    assert a.weight.data.dtype == np.float32 and not a.bias.data.any()
    with pytest.raises(ValueError, match="init"):
        nn.Linear(2, 2, init="zeros")


def test_dropout_scales_in_training_and_passes_through_in_eval():
    layer = nn.Dropout(0.5, rng=0)
    x = np.ones((200, 50))
    y = layer.forward(x)
    assert set(np.unique(y)) == {0.0, 2.0} and abs(y.mean() - 1) < 0.05
    layer.eval()
    assert layer.forward(x) is x and layer.backward(x) is x


def test_sigmoid_and_softmax_do_not_overflow():
    x = np.array([[-1000.0, 0.0, 1000.0]])
    np.testing.assert_allclose(nn.Sigmoid().forward(x), [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(nn.Softmax().forward(x), [[0.0, 0.0, 1.0]])


def test_cross_entropy_is_stable_and_its_gradient_is_softmax_minus_target():
    loss = CrossEntropyLoss()
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    value = loss(logits, np.array([0, 2]))
    assert np.isclose(value, np.log(3) / 2)
    expected = (nn.softmax(logits) - np.eye(3)[[0, 2]]) / 2
    np.testing.assert_allclose(loss.backward(), expected)
    assert np.isclose(loss(logits, np.eye(3)[[0, 2]]), value)  # one-hot targets work too
    with pytest.raises(ValueError, match="class labels"):
        loss(logits, np.array([0, 3]))


@pytest.mark.parametrize("make_loss", [CrossEntropyLoss, MSELoss])
def test_loss_gradients_match_finite_differences(make_loss):
    rng = np.random.default_rng(3)
    outputs, labels = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    loss = make_loss()
    loss(outputs, labels)
    analytic = loss.backward()
    assert relative_error(analytic, numerical_gradient(lambda: loss(outputs, labels), outputs)) < TOLERANCE


def test_sgd_follows_the_momentum_and_weight_decay_rule():
    p = nn.Parameter(np.array([1.0, -2.0]))
    sgd = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    p.grad = np.array([0.5, 0.5])
    sgd.step()  # v = g + wd w
    v1 = np.array([0.5 + 0.01, 0.5 - 0.02])
    np.testing.assert_allclose(p.data, [1.0, -2.0] - 0.1 * v1)
    w1 = p.data.copy()
    sgd.step()
    v2 = 0.9 * v1 + (0.5 + 0.01 * w1)
    np.testing.assert_allclose(p.data, w1 - 0.1 * v2)


def test_adam_first_step_moves_each_weight_by_the_learning_rate():
    p = nn.Parameter(np.array([1.0, -2.0, 3.0]))
    p.grad = np.array([0.3, -5.0, 1e-3])
    optim.Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.data, [0.99, -1.99, 2.99], rtol=1e-5)


def test_cosine_schedule_goes_from_the_base_rate_to_the_minimum():
    sgd = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    schedule = optim.CosineAnnealingLR(sgd, T_max=4)
    rates = [sgd.lr]
    for _ in range(4):
        schedule.step()
        rates.append(sgd.lr)
    np.testing.assert_allclose(rates, 0.05 * (1 + np.cos(np.pi * np.arange(5) / 4)))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_relu_keeps_nan_and_gives_non_finite_gradients_only_where_they_pass():
    """PyTorch's ReLU: NaN stays NaN, -inf gives 0; the gradient is dout where x > 0 and
    exactly 0 elsewhere, even where dout is inf or NaN (0 * inf would be NaN)."""
    relu = nn.ReLU()
    x = np.array([np.nan, -np.inf, np.inf, -1.0, 2.0, 0.0], np.float32)
    np.testing.assert_array_equal(relu.forward(x), [np.nan, 0, np.inf, 0, 2, 0])
    assert relu.forward(x).dtype == np.float32
    finite = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0], np.float32)
    np.testing.assert_array_equal(relu.backward(finite), [0, 0, 7, 0, 9, 0])
    special = np.array([np.inf, np.nan, np.nan, -np.inf, np.inf, np.nan], np.float32)
    np.testing.assert_array_equal(relu.backward(special), [0, 0, np.nan, 0, np.inf, 0])


@pytest.mark.parametrize("first", ["conv", "pool", "nested"])
def test_training_backward_skips_only_the_first_input_gradient(first, monkeypatch):
    """backward(input_grad=False) returns None, never asks the first conv for dx, and
    fills every parameter gradient exactly as the full backward does."""
    def model():
        rng = np.random.default_rng(3)
        body = [nn.Conv2d(2, 3, 3, padding=1, rng=rng, dtype=np.float64), nn.ReLU(),
                nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 4, rng=rng, dtype=np.float64)]
        if first == "pool":
            return nn.Sequential(nn.AvgPool2d(1), *body)
        if first == "nested":
            return nn.Sequential(nn.Sequential(body[0], body[1]), *body[2:])
        return nn.Sequential(*body)

    rng = np.random.default_rng(4)
    x, dout = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 4))
    # One backend for both: under "auto" the two backward ops are tuned apart and may
    # pick kernels that round db differently.
    full, training = model().to("numpy"), model().to("numpy")
    full.forward(x)
    assert full.backward(dout).shape == x.shape

    asked = []
    conv2d_backward = F.conv2d_backward
    monkeypatch.setattr(F, "conv2d_backward", lambda *a, **k: asked.append(k["input_grad"]) or conv2d_backward(*a, **k))
    training.forward(x)
    assert training.backward(dout, input_grad=False) is None
    assert asked == [first == "pool"]
    for (name, expected), (_, actual) in zip(full.named_parameters(), training.named_parameters()):
        np.testing.assert_array_equal(actual.grad, expected.grad, err_msg=name)
