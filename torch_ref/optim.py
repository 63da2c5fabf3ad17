"""The optimizers as a PyTorch user writes them: ``torch.optim``, ``DataLoader``, ``lr_scheduler``.

Mirrors ``scratch/optim.py`` and ``scratch/minibatch.py``. The only pieces written here are the ones a
user writes too: the sampler that replays a given sequence of permutations (so the batches are the
harness's, one permutation per epoch), the ``LambdaLR`` for the course's inverse-time decay (torch has
no built-in for ``1 / (1 + d * epoch)``), and the torch hyperparameters equal to the course's
formulations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch.optim import lr_scheduler
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader, Sampler, TensorDataset

from torch_ref import validation as v

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "SGD": torch.optim.SGD,
    "RMSprop": torch.optim.RMSprop,
    "Adagrad": torch.optim.Adagrad,
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "Adadelta": torch.optim.Adadelta,
    "Adamax": torch.optim.Adamax,
    "NAdam": torch.optim.NAdam,
    "RAdam": torch.optim.RAdam,
}

SCHEDULERS: dict[str, type] = {
    "StepLR": lr_scheduler.StepLR,
    "MultiStepLR": lr_scheduler.MultiStepLR,
    "ExponentialLR": lr_scheduler.ExponentialLR,
    "CosineAnnealingLR": lr_scheduler.CosineAnnealingLR,
    "OneCycleLR": lr_scheduler.OneCycleLR,
    "ReduceLROnPlateau": lr_scheduler.ReduceLROnPlateau,
}


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], **hyper: object) -> torch.optim.Optimizer:
    """``torch.optim.<name>(params, **hyper)``, or the torch equivalent of a course formulation."""
    if name in OPTIMIZERS:
        return OPTIMIZERS[name](params, **hyper)
    if name in COURSE_EQUIVALENTS:
        return COURSE_EQUIVALENTS[name](params, **hyper)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS) + sorted(COURSE_EQUIVALENTS)}")


def momentum_course(params: Iterable[torch.nn.Parameter], *, lr: float = 0.0007, beta: float = 0.9
                    ) -> torch.optim.SGD:
    """The course's ``v = beta v + (1 - beta) dW; W -= lr v`` is SGD with ``lr * (1 - beta)``, momentum beta."""
    return torch.optim.SGD(params, lr=lr * (1 - beta), momentum=beta)


def rmsprop_course(params: Iterable[torch.nn.Parameter], *, lr: float = 0.0007, beta: float = 0.999,
                   epsilon: float = 1e-8) -> torch.optim.RMSprop:
    """The course's RMSprop is ``RMSprop(alpha=beta, eps=epsilon)``."""
    return torch.optim.RMSprop(params, lr=lr, alpha=beta, eps=epsilon)


def adam_course(params: Iterable[torch.nn.Parameter], *, lr: float = 0.0007, beta1: float = 0.9,
                beta2: float = 0.999, epsilon: float = 1e-8) -> torch.optim.Adam:
    """The course's Adam is ``Adam(betas=(beta1, beta2), eps=epsilon)``."""
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=epsilon)


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, **hyper: object
                   ) -> lr_scheduler.LRScheduler:
    """``torch.optim.lr_scheduler.<name>(optimizer, **hyper)``; ``ReduceLROnPlateau.step`` takes the dev loss."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; expected one of {sorted(SCHEDULERS)}")
    return SCHEDULERS[name](optimizer, **hyper)


COURSE_EQUIVALENTS = {"MomentumCourse": momentum_course, "RMSpropCourse": rmsprop_course,
                      "AdamCourse": adam_course}


class PermutationSampler(Sampler[int]):
    """Yields the indices of ``next_permutation()``, called once per epoch (each ``iter``)."""

    def __init__(self, next_permutation: Callable[[], Sequence[int]], m: int):
        if not callable(next_permutation):
            raise TypeError(f"next_permutation must be callable, got {type(next_permutation).__name__}")
        self.next_permutation, self.m = next_permutation, v.check_positive_int("m", m)

    def __iter__(self) -> Iterator[int]:
        yield from (int(i) for i in self.next_permutation())

    def __len__(self) -> int:
        return self.m


def make_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, next_permutation: Callable[[], Sequence[int]]
                ) -> DataLoader:
    """Batch-first ``(x, y)`` in batches of ``batch_size`` (last one smaller), each epoch in the order
    ``next_permutation()`` gives (the harness passes ``np.random.Generator(seed).permutation``)."""
    v.check_positive_int("batch_size", batch_size)
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {len(y)}")
    sampler = PermutationSampler(next_permutation, len(x))
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, sampler=sampler, drop_last=False)


def inverse_time_decay(optimizer: torch.optim.Optimizer, *, decay_rate: float, time_interval: int = 1
                       ) -> LambdaLR:
    """``lr = lr0 / (1 + decay_rate * floor(epoch / time_interval))``; call ``.step()`` once per epoch."""
    v.check_number("decay_rate", decay_rate, low=0.0)
    v.check_positive_int("time_interval", time_interval)
    return LambdaLR(optimizer, lambda epoch: 1 / (1 + decay_rate * (epoch // time_interval)))
