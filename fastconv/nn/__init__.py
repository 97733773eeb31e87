"""Layers with forward/backward and named parameters, names and arguments as ``torch.nn``.

Keras-style aliases are provided for readers coming from Keras: ``Dense`` (``Linear``),
``Conv2D`` (``Conv2d``), ``MaxPooling2D``, ``AveragePooling2D``, ``GlobalAveragePooling2D``,
``GlobalMaxPooling2D``; they take the PyTorch arguments.
"""
from .activation import ReLU, Sigmoid, Softmax, Tanh, softmax
from .conv import Conv2d, Conv2D
from .linear import Dense, Dropout, Flatten, Linear
from .module import Module, Parameter
from .pooling import (
    AveragePooling2D,
    AvgPool2d,
    GlobalAveragePooling2D,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    GlobalMaxPooling2D,
    MaxPool2d,
    MaxPooling2D,
)
from .sequential import Sequential

__all__ = [
    "AveragePooling2D", "AvgPool2d", "Conv2D", "Conv2d", "Dense", "Dropout", "Flatten",
    "GlobalAveragePooling2D", "GlobalAvgPool2d", "GlobalMaxPool2d", "GlobalMaxPooling2D",
    "Linear", "MaxPool2d", "MaxPooling2D", "Module", "Parameter", "ReLU", "Sequential",
    "Sigmoid", "Softmax", "Tanh", "softmax",
]
