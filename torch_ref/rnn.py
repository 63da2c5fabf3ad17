"""Recurrent networks in idiomatic PyTorch: ``nn.Embedding`` -> ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` -> ``nn.Linear``.

Mirrors ``scratch/rnn.py``. Inputs are batch-first ``(m, T, n_x)`` (indices ``(m, T)`` with an embedding)
or time-first ``(T, m, n_x)`` with ``batch_first=False``; the states ``h_0``/``h_n`` (and ``c_0``/``c_n``) are
``(num_layers, m, n_h)`` either way, as in torch. Parameter names: ``rnn.weight_ih_l{l}`` is scratch's
``W_ih_l{l}``, ``rnn.bias_ih_l{l}`` is ``b_ih_l{l}`` flattened, ``head.weight``/``head.bias`` are
``Wy``/``by``, ``embedding.weight`` is ``E``. Gradients come from autograd.
"""

from __future__ import annotations

import torch
from torch import nn

from torch_ref import validation as v
from torch_ref.optim import make_optimizer  # noqa: F401  (re-exported for study pages)

CELL_MODULES = {"rnn_tanh": (nn.RNN, {"nonlinearity": "tanh"}), "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
                "lstm": (nn.LSTM, {}), "gru": (nn.GRU, {})}

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RecurrentModel(nn.Module):
    """``[Embedding] -> RNN/LSTM/GRU (num_layers) -> Linear``; ``forward`` returns ``(logits, final state)``.

    ``head="many_to_one"``: logits ``(m, n_y)`` from the top layer's last output; ``"many_to_many"``:
    logits at every step, ``(m, T, n_y)`` (``(T, m, n_y)`` time-first).
    """

    def __init__(self, *, cell: str, n_x: int, n_h: int, n_y: int, num_layers: int = 1,
                 head: str = "many_to_many", vocab_size: int | None = None, batch_first: bool = True,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        super().__init__()
        if cell not in CELL_MODULES:
            raise ValueError(f"cell must be one of {sorted(CELL_MODULES)}, got {cell!r}")
        if head not in ("many_to_one", "many_to_many"):
            raise ValueError(f"head must be 'many_to_one' or 'many_to_many', got {head!r}")
        for name, size in (("n_x", n_x), ("n_h", n_h), ("n_y", n_y), ("num_layers", num_layers)):
            v.check_positive_int(name, size)
        if vocab_size is not None:
            v.check_positive_int("vocab_size", vocab_size)
        v.check_float_dtype("dtype", dtype)
        module, options = CELL_MODULES[cell]
        self.head_kind, self.batch_first = head, batch_first
        self.embedding = nn.Embedding(vocab_size, n_x, dtype=dtype, device=device) if vocab_size else None
        self.rnn = module(n_x, n_h, num_layers=num_layers, batch_first=batch_first, dtype=dtype, device=device,
                          **options)
        self.head = nn.Linear(n_h, n_y, dtype=dtype, device=device)

    def forward(self, inputs: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        x = self.embedding(inputs) if self.embedding is not None else inputs
        out, state = self.rnn(x, state)
        if self.head_kind == "many_to_one":
            out = out[:, -1] if self.batch_first else out[-1]
        return self.head(out), state


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean ``nn.CrossEntropyLoss`` over every position (targets: class indices) or ``nn.MSELoss``."""
    if loss == "cross_entropy":
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return nn.functional.mse_loss(logits, targets)


def detach_state(state: State) -> State:
    """The state as values only: the next chunk's backward stops here (truncated BPTT)."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def train_truncated_bptt(model: RecurrentModel, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                         targets: torch.Tensor, *, loss: str, chunk_length: int, max_norm: float | None = None
                         ) -> tuple[list[float], list[float]]:
    """Truncated BPTT along the time axis (dim 1 batch-first, dim 0 time-first), many-to-many.

    Per chunk: ``zero_grad`` -> forward from the detached previous state -> loss -> backward -> optional
    ``clip_grad_norm_`` -> ``step``. Returns the chunk losses and the total norms before clipping.
    """
    time_dim = 1 if model.batch_first else 0
    state, losses, norms = None, [], []
    for start in range(0, inputs.shape[time_dim], chunk_length):
        x = inputs.narrow(time_dim, start, min(chunk_length, inputs.shape[time_dim] - start))
        y = targets.narrow(time_dim, start, x.shape[time_dim])
        optimizer.zero_grad()
        logits, state = model(x, state)
        value = loss_fn(logits, y, loss)
        value.backward()
        state = detach_state(state)
        if max_norm is not None:
            norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        optimizer.step()
        losses.append(float(value.detach()))
    return losses, norms


@torch.no_grad()
def sample(model: RecurrentModel, first: int, uniforms: torch.Tensor) -> list[int]:
    """Inverse-CDF sampling, one index per uniform: the index whose cumulative probability first exceeds it."""
    state, index, drawn = None, first, []
    device = model.head.weight.device
    for u in uniforms:
        logits, state = model(torch.tensor([[index]], device=device), state)
        cumulative = torch.cumsum(torch.softmax(logits.reshape(-1), dim=0), dim=0)
        found = torch.searchsorted(cumulative, u.to(cumulative.dtype).reshape(1), right=True)
        index = min(int(found.item()), cumulative.numel() - 1)
        drawn.append(index)
    return drawn


def torch_name(scratch_name: str) -> str:
    """``"W_ih_l0"`` -> ``"rnn.weight_ih_l0"``, ``"b_hh_l1"`` -> ``"rnn.bias_hh_l1"``, ``"Wy"`` -> ``"head.weight"``,
    ``"by"`` -> ``"head.bias"``, ``"E"`` -> ``"embedding.weight"`` (scratch's biases are columns, torch's flat)."""
    fixed = {"E": "embedding.weight", "Wy": "head.weight", "by": "head.bias"}
    if scratch_name in fixed:
        return fixed[scratch_name]
    kind, _, layer = scratch_name.rpartition("_l")
    names = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}
    if kind not in names or not layer.isdigit():
        raise ValueError(f"unknown recurrent parameter name {scratch_name!r}")
    return f"rnn.{names[kind]}_l{layer}"
