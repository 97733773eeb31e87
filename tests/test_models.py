"""The model zoo, Sequential (summary, training, checkpoints, backends) and parity with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

from fastconv import models, nn, optim
from fastconv.losses import CrossEntropyLoss
from fastconv.torch_models import to_torch
from helpers import MODEL_BACKENDS

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (optional: pip install torch)")


def test_lenet5_has_61706_parameters_and_its_summary_says_so():
    model = models.lenet5()
    assert model.parameter_count() == 61_706
    text = model.summary(print_fn=None)
    assert "Total params: 61,706" in text
    assert "(16, 5, 5)" in text and "(10,)" in text
    assert "Forward FLOPs per sample: " in text


@pytest.mark.parametrize("name", models.MODELS)
def test_every_zoo_model_maps_digits_to_ten_scores(name):
    model = models.MODELS[name]().to("numpy")
    x = np.zeros((2, *model.input_shape), dtype=np.float32)
    assert model.forward(x).shape == (2, 10) == model.output_shape(x.shape)
    assert model.backward(np.ones((2, 10), np.float32)).shape == x.shape


def test_summary_needs_an_input_shape_and_checks_it():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    with pytest.raises(ValueError, match="input_shape"):
        model.summary(print_fn=None)
    with pytest.raises(ValueError, match=r"w has 1 input channels but x has 3: x \(1, 3, 8, 8\)"):
        model.summary((3, 8, 8), print_fn=None)


def tiny_problem(count=64, seed=0):
    """Two easy classes: a bright square at the top left or at the bottom right."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, count)
    x = rng.normal(0, 0.1, (count, 1, 8, 8)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, 0, 5 * label:5 * label + 3, 5 * label:5 * label + 3] += 1
    return x, y


def tiny_model(seed=0):
    return nn.Sequential(nn.Conv2d(1, 4, 3, rng=seed), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 3 * 3, 2, rng=seed), input_shape=(1, 8, 8))


@pytest.mark.parametrize("backend", MODEL_BACKENDS)
def test_a_tiny_model_learns_in_a_few_steps(backend):
    x, y = tiny_problem()
    model = tiny_model().to(backend)
    loss = CrossEntropyLoss()
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(8):
        losses.append(loss(model.forward(x), y))
        model.backward(loss.backward())
        sgd.step()
    assert losses[-1] < 0.5 * losses[0]


def test_fit_records_history_with_validation_and_evaluate_agrees():
    x, y = tiny_problem(count=80)
    model = tiny_model().to("numpy")
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, seed=0, progress=False,
                        optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert set(history) == {"loss", "accuracy", "lr", "seconds", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in history.values())
    assert history["loss"][-1] < history["loss"][0]
    result = model.evaluate(x, y)
    assert result["accuracy"] > 0.9
    np.testing.assert_array_equal(model.predict(x, batch_size=7).argmax(1), model.predict(x).argmax(1))


def test_fit_is_reproducible_with_a_seed():
    x, y = tiny_problem()
    runs = []
    for _ in range(2):
        model = tiny_model(seed=3).to("numpy")
        model.fit(x, y, epochs=2, batch_size=8, seed=5, progress=False,
                  augment=lambda batch, rng: batch + rng.normal(0, 0.01, batch.shape).astype(batch.dtype))
        runs.append(model.state_dict())
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_save_and_load_round_trip(tmp_path):
    model = models.lenet5(seed=1)
    path = tmp_path / "lenet5.npz"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["lenet5.npz"]  # no temporary file left
    restored = models.lenet5(seed=2).to("numpy").load(path)
    model.to("numpy")
    x = np.random.default_rng(0).standard_normal((3, 1, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))
    assert set(np.load(path).files) == {name for name, _ in model.named_parameters()}


def test_load_rejects_other_architectures_by_name_and_shape(tmp_path):
    path = tmp_path / "model.npz"
    models.lenet5().save(path)
    with pytest.raises(ValueError, match="names do not match.*missing"):
        models.pytorch_cnn().load(path)
    wider = nn.Sequential(nn.Conv2d(1, 7, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(7, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                          nn.ReLU(), nn.Linear(84, 10))
    with pytest.raises(ValueError, match=r"0.weight: \(6, 1, 5, 5\) instead of \(7, 1, 5, 5\)"):
        wider.load(path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped"])
def test_load_rejects_a_damaged_file_and_leaves_the_model_unchanged(tmp_path, damage):
    path = tmp_path / "model.npz"
    models.lenet5(seed=1).save(path)
    content = bytearray(path.read_bytes())
    if damage == "garbage":
        content = bytearray(b"not a zip file at all" * 10)
    elif damage == "truncated":
        content = content[: len(content) // 2]
    else:
        content[len(content) // 3] ^= 0xFF  # inside a stored array: the CRC check fails
    path.write_bytes(bytes(content))
    model = models.lenet5(seed=2)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    with pytest.raises(ValueError, match="model.npz"):
        model.load(path)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, **{"0.weight": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="objects.npz"):
        models.lenet5().load(path)


@pytest.mark.parametrize("backend", MODEL_BACKENDS)
def test_to_moves_every_layer_to_a_backend_with_the_same_results(backend):
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32))
    reference = models.lenet5(seed=4, dtype=np.float64).to("numpy")
    model = models.lenet5(seed=4, dtype=np.float64).to(backend)
    assert all(layer.backend == backend for layer in model.layers)
    np.testing.assert_allclose(model.predict(x), reference.predict(x), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="unknown backend"):
        model.to("fortran")


# -- parity with PyTorch -------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("backend", MODEL_BACKENDS)
@pytest.mark.parametrize("variant", [dict(pool="max", activation="relu"), dict(pool="avg", activation="tanh")])
def test_lenet5_matches_pytorch_logits_and_gradients(variant, backend):
    model = models.lenet5(**variant, seed=0, dtype=np.float64).to(backend)
    reference = to_torch(model)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 1, 32, 32)), rng.integers(0, 10, 3)

    loss = CrossEntropyLoss()
    logits = model.forward(x)
    value = loss(logits, y)
    dx = model.backward(loss.backward())

    x_torch = torch.from_numpy(x).requires_grad_()
    logits_torch = reference(x_torch)
    loss_torch = torch.nn.functional.cross_entropy(logits_torch, torch.from_numpy(y))
    loss_torch.backward()

    np.testing.assert_allclose(logits, logits_torch.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np.isclose(value, loss_torch.item(), rtol=1e-12)
    np.testing.assert_allclose(dx, x_torch.grad.numpy(), rtol=1e-8, atol=1e-14)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, reference.get_parameter(name).grad.numpy(), rtol=1e-8, atol=1e-14,
                                   err_msg=name)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_torch_copies_every_layer_type_with_its_weights(dtype):
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=(1, 2), padding=1, dilation=(2, 1), rng=0), nn.Tanh(),
        nn.MaxPool2d(3, stride=2, padding=1), nn.Conv2d(4, 3, 2, bias=False, rng=1), nn.Sigmoid(),
        nn.AvgPool2d(2, stride=1), nn.GlobalMaxPool2d(), nn.Dropout(0.3, rng=0),
        nn.Linear(3, 5, rng=2), nn.ReLU(), nn.Linear(5, 4, bias=False, rng=3), nn.Softmax(),
        input_shape=(2, 11, 12),
    ).to(dtype=dtype)
    x = np.random.default_rng(0).standard_normal((3, 2, 11, 12)).astype(dtype)
    copy = to_torch(model.eval())
    assert not copy.training
    assert copy[0].weight.dtype == torch.from_numpy(x).dtype
    expected = copy(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    averaged = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.GlobalAvgPool2d(), input_shape=(2, 6, 6))
    averaged.to(dtype=dtype)
    np.testing.assert_allclose(averaged.predict(x[:, :, :6, :6]),
                               to_torch(averaged)(torch.from_numpy(x[:, :, :6, :6])).detach().numpy(),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)
    with pytest.raises(TypeError, match="no PyTorch layer for Module"):
        to_torch(nn.Sequential(nn.Module()))


@needs_torch
@pytest.mark.parametrize("make", [
    lambda params: (optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3),
                    lambda tp: torch.optim.SGD(tp, lr=0.1, momentum=0.9, weight_decay=1e-3)),
    lambda params: (optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
                    lambda tp: torch.optim.SGD(tp, lr=0.1, momentum=0.9, nesterov=True)),
    lambda params: (optim.Adam(params, lr=0.01, weight_decay=1e-3),
                    lambda tp: torch.optim.Adam(tp, lr=0.01, weight_decay=1e-3)),
], ids=["sgd", "nesterov", "adam"])
def test_optimizers_match_pytorch_over_a_few_steps(make):
    rng = np.random.default_rng(0)
    params = [nn.Parameter(rng.standard_normal((3, 4))), nn.Parameter(rng.standard_normal(4))]
    torch_params = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    ours, make_theirs = make(params)
    theirs = make_theirs(torch_params)
    for _ in range(4):
        for p, tp in zip(params, torch_params):
            p.grad = rng.standard_normal(p.shape)
            tp.grad = torch.from_numpy(p.grad.copy())
        ours.step()
        theirs.step()
    for p, tp in zip(params, torch_params):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
