"""The same network in PyTorch: to compare results and speed layer for layer.

:func:`to_torch` builds the ``torch.nn.Sequential`` of a fastconv
:class:`~fastconv.nn.Sequential`, with the same layers, arguments, weights and dtype.
fastconv's layers take PyTorch's names, arguments and parameter names, so the copy is
one constructor per layer type and one ``load_state_dict``. PyTorch stays optional:
it is imported only here, when the function is called.
"""
from __future__ import annotations

from . import nn


def _layer(layer, torch):
    """The torch.nn layer that computes what the fastconv ``layer`` computes."""
    tnn = torch.nn
    if isinstance(layer, nn.Conv2d):
        return tnn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                          layer.padding, layer.dilation, bias=layer.bias is not None)
    if isinstance(layer, nn.Linear):
        return tnn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    if isinstance(layer, nn.GlobalAvgPool2d):
        return tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())
    if isinstance(layer, nn.GlobalMaxPool2d):
        return tnn.Sequential(tnn.AdaptiveMaxPool2d(1), tnn.Flatten())
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        pool = tnn.MaxPool2d if isinstance(layer, nn.MaxPool2d) else tnn.AvgPool2d
        return pool(layer.kernel_size, layer.stride, layer.padding)
    if isinstance(layer, nn.Dropout):
        return tnn.Dropout(layer.p)
    if isinstance(layer, nn.Softmax):
        return tnn.Softmax(dim=layer.dim)
    same = {nn.ReLU: tnn.ReLU, nn.Tanh: tnn.Tanh, nn.Sigmoid: tnn.Sigmoid, nn.Flatten: tnn.Flatten}
    if type(layer) in same:
        return same[type(layer)]()
    raise TypeError(f"to_torch: no PyTorch layer for {type(layer).__name__}")


def to_torch(model: nn.Sequential):
    """A ``torch.nn.Sequential`` with the layers, weights and dtype of ``model`` (copied,
    on the CPU). Layer i's parameters keep their names, ``"{i}.weight"`` and ``"{i}.bias"``."""
    import torch

    state = model.state_dict()
    copy = torch.nn.Sequential(*(_layer(layer, torch) for layer in model.layers))
    if state:
        copy.to(torch.from_numpy(next(iter(state.values()))).dtype)
    copy.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in state.items()})
    copy.train(model.training)
    return copy
