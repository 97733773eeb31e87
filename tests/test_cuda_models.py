"""Models on the GPU (``model.to("cuda")``): the same training as on the host, with
parameters, activations, gradients and optimizer state kept on the device.

Without a GPU these run on the Numba CUDA simulator: the models are tiny, and float64
makes host and GPU agree to rounding, step after step.
"""
import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import devices, nn
from fastconv.buffers import poisoned
from fastconv.optim import SGD, Adam
from fastconv.shapes import is_device_array
from fastconv.training import fit, predict
from helpers import assert_close

pytestmark = pytest.mark.skipif(
    "cuda" not in fastconv.available_backends(),
    reason="no CUDA GPU here and NUMBA_ENABLE_CUDASIM is not 1",
)
GPU = "cuda:v1_direct"  # the cheapest conv kernel on the simulator; the others are tested op by op


def tiny_model(seed=0):
    """Every layer kind that has a GPU path, on 6x6 images."""
    options = dict(rng=seed, dtype=np.float64)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, **options), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Dropout(0.25, rng=seed), nn.Linear(8, 4, **options), nn.Tanh(), nn.Linear(4, 3, **options),
        nn.Sigmoid(),
    )


def digits(count=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count, 1, 6, 6)), rng.integers(0, 3, count)


def optimizers():
    return {
        "sgd": lambda params: SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
        "adam": lambda params: Adam(params, lr=0.05, weight_decay=0.01),
    }


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_on_the_gpu_matches_the_host(optimizer):
    x, y = digits()
    make = optimizers()[optimizer]
    host, gpu = tiny_model(), tiny_model().to(GPU)
    run = dict(epochs=2, batch_size=2, seed=3, progress=False)
    host_history = fit(host, x, y, optimizer=make(host.parameters()), **run)
    gpu_history = fit(gpu, x, y, optimizer=make(gpu.parameters()), **run)
    assert all(is_device_array(p.data) and is_device_array(p.grad) for p in gpu.parameters())
    np.testing.assert_allclose(gpu_history["loss"], host_history["loss"], rtol=1e-12)
    for (name, expected), got in zip(host.state_dict().items(), gpu.state_dict().values()):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(predict(gpu, x), predict(host, x), rtol=1e-10, atol=1e-12)


def test_activations_and_gradients_stay_on_the_device(monkeypatch):
    """Only the batch goes over (once) and only the (N, classes) outputs come back."""
    from numba import cuda

    x, y = digits()
    model = tiny_model().to(GPU)
    train = dict(epochs=1, batch_size=2, optimizer=SGD(model.parameters(), lr=0.1), progress=False)
    fit(model, x, y, **train)  # first steps: constant zero vectors go over once, and are kept
    sent, received = [], []
    to_device, device_array = cuda.to_device, type(cuda.to_device(x))
    copy_to_host = device_array.copy_to_host
    monkeypatch.setattr(cuda, "to_device", lambda a, *args, **kw: sent.append(np.shape(a)) or to_device(a, *args, **kw))
    monkeypatch.setattr(device_array, "copy_to_host",
                        lambda self, *args, **kw: received.append(tuple(self.shape)) or copy_to_host(self, *args, **kw))
    seen = []
    for layer in model.layers:
        def spy(a, forward=layer.forward):
            seen.append(is_device_array(a))
            return forward(a)

        monkeypatch.setattr(layer, "forward", spy)
    fit(model, x, y, **train)
    assert all(seen) and len(seen) == 2 * len(model.layers)
    batch, dropout_mask, labels = (2, 1, 6, 6), (2, 8), (2,)
    assert sent == [batch, dropout_mask, labels] * 2
    assert all(len(shape) <= 2 and shape[0] <= 2 for shape in received), received


def test_max_pool_layer_on_the_gpu_keeps_its_indices():
    """Ties, -inf and NaN windows: the kept indices route dy as the naive kernel does."""
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 6))
    x[0, 0, :2, :2] = 1.0  # a tie
    x[0, 1, :3, :3] = -np.inf
    x[1, 0, 2, 3] = np.nan
    args = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))
    layer = nn.MaxPool2d(**args).to("cuda")
    with poisoned():
        y = layer.forward(devices.to_gpu(x))
        dy = np.random.default_rng(2).standard_normal(y.shape)
        dx = layer.backward(devices.to_gpu(dy))
    assert_close(devices.to_host(y), F.max_pool2d(x, **args, backend="naive"), np.float64, "forward")
    assert_close(devices.to_host(dx), F.max_pool2d_backward(dy, x, **args, backend="naive"), np.float64, "dx")
    with pytest.raises(ValueError, match="dy"):
        layer.backward(devices.to_gpu(np.zeros((2, 2, 3, 3))))


def test_a_gpu_model_saves_loads_and_comes_back_to_the_host(tmp_path):
    model = tiny_model().to(GPU)
    model.save(tmp_path / "model.npz")
    other = tiny_model(seed=5).to(GPU).load(tmp_path / "model.npz")
    assert all(is_device_array(p.data) for p in other.parameters())
    for (name, expected), got in zip(tiny_model().state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(got, expected, err_msg=name)
    other.to("numpy", dtype=np.float32)
    assert all(isinstance(p.data, np.ndarray) and p.data.dtype == np.float32 for p in other.parameters())


def test_gpu_layers_reject_what_they_cannot_run():
    with pytest.raises(NotImplementedError, match="CrossEntropyLoss"):
        nn.Softmax().forward(devices.to_gpu(np.zeros((2, 3))))
    linear = nn.Linear(4, 3, dtype=np.float64).to("cuda")
    with pytest.raises(ValueError, match="in_features=4"):
        linear.forward(devices.to_gpu(np.zeros((2, 5))))
    with pytest.raises(TypeError, match="dtype"):
        linear.forward(devices.to_gpu(np.zeros((2, 4), np.float32)))
