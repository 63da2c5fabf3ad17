"""Convolutional networks in idiomatic PyTorch: ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.Flatten``.

Images are ``(m, C, H, W)``; the models return logits ``(m, K)`` for ``nn.CrossEntropyLoss``. The
parameters map one to one onto scratch's (``scratch.conv``): ``conv1.weight`` is ``W1``
``(C_out, C_in, 3, 3)``, ``conv1.bias`` is ``b1`` ``(C_out,)``, a dense layer's ``weight`` is ``W{l}``
``(n_l, n_{l-1})`` and its ``bias`` is ``b{l}`` flattened. Gradients come from autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from torch_ref import validation as v


def _check_bn(momentum: object, eps: object, dtype: object) -> None:
    v.check_momentum("momentum", momentum)
    v.check_number("eps", eps, low=0.0, low_open=True)
    v.check_float_dtype("dtype", dtype)


def _check_strides(strides: Sequence[int]) -> tuple[int, int]:
    if len(strides) != 2:
        raise ValueError(f"strides must be two strides (one per convolution), got {tuple(strides)}")
    for index, stride in enumerate(strides):
        v.check_positive_int(f"strides[{index}]", stride)
    return int(strides[0]), int(strides[1])


def _feature_size(image_size: int, strides: tuple[int, int]) -> int:
    """The side after each block's ``Conv2d(3, stride s, padding 1)`` then ``MaxPool2d(2)``, which must get an
    even side (``MaxPool2d`` would drop a row silently)."""
    size = image_size
    for index, stride in enumerate(strides, start=1):
        size = (size - 1) // stride + 1
        if size % 2:
            raise ValueError(f"image_size {image_size} with strides {strides}: convolution {index} gives an odd "
                             f"size {size}, which a 2x2 max pooling cannot halve")
        size //= 2
    return size


class LeNet(nn.Module):
    """``Conv3x3 -> ReLU -> MaxPool2 -> Conv3x3 -> ReLU -> MaxPool2 -> Flatten -> Linear -> ReLU -> Linear``.

    ``strides`` are the two convolutions' (padding 1 each).
    """

    def __init__(self, *, in_channels: int = 1, image_size: int = 8, channels: Sequence[int] = (6, 16),
                 hidden: int = 32, n_classes: int = 10, strides: Sequence[int] = (1, 1),
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        super().__init__()
        for name, size in (("in_channels", in_channels), ("image_size", image_size), ("hidden", hidden),
                           ("n_classes", n_classes)):
            v.check_positive_int(name, size)
        widths = v.check_sizes("channels", channels, at_least=2)
        if len(widths) != 2:
            raise ValueError(f"channels must be two sizes (the two convolutions' widths), got {widths}")
        s1, s2 = _check_strides(strides)
        c1, c2 = widths
        v.check_float_dtype("dtype", dtype)
        kw = {"dtype": dtype, "device": device}
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, stride=s1, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, stride=s2, padding=1, **kw), nn.ReLU(), nn.MaxPool2d(2),
        )
        side = _feature_size(image_size, (s1, s2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side ** 2, hidden, **kw), nn.ReLU(),
            nn.Linear(hidden, n_classes, **kw),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + x)``: the residual basic block, 3x3 convs without bias."""

    def __init__(self, width: int, *, momentum: float | None = 0.1, eps: float = 1e-5,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        super().__init__()
        v.check_positive_int("width", width)
        _check_bn(momentum, eps, dtype)
        kw = {"dtype": dtype, "device": device}
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False, **kw)
        self.bn1 = nn.BatchNorm2d(width, momentum=momentum, eps=eps, **kw)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False, **kw)
        self.bn2 = nn.BatchNorm2d(width, momentum=momentum, eps=eps, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class SmallResNet(nn.Module):
    """``Conv3x3 -> ReLU -> BasicBlock -> AvgPool2 -> Flatten -> Linear``."""

    def __init__(self, *, in_channels: int = 1, image_size: int = 8, width: int = 8, n_classes: int = 10,
                 momentum: float | None = 0.1, eps: float = 1e-5, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu"):
        super().__init__()
        for name, size in (("in_channels", in_channels), ("image_size", image_size), ("width", width),
                           ("n_classes", n_classes)):
            v.check_positive_int(name, size)
        _check_bn(momentum, eps, dtype)
        if image_size % 2:
            raise ValueError(f"image_size must be even (one 2x2 average pooling), got {image_size}")
        kw = {"dtype": dtype, "device": device}
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1, **kw)
        self.block = BasicBlock(width, momentum=momentum, eps=eps, **kw)
        self.head = nn.Sequential(nn.AvgPool2d(2), nn.Flatten(),
                                  nn.Linear(width * (image_size // 2) ** 2, n_classes, **kw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(torch.relu(self.stem(x))))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Most probable class per example ``(m,)``, in evaluation mode, restoring the model's mode afterwards."""
    was_training = model.training
    model.eval()
    labels = model(x).argmax(dim=1)
    model.train(was_training)
    return labels
