"""Recurrent networks from scratch: RNN (tanh, ReLU), LSTM and GRU cells, backpropagation through time by hand.

Step for step ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` (stacked layers, two bias vectors, torch's gate order),
written in the course's layout and with its forward/backward-with-cache pairs.

Shapes (examples are columns, as in the course): a sequence ``X`` is ``(n_x, m, T)`` (``X[:, :, t]`` is
the input at time ``t``), a hidden state ``h`` (and an LSTM cell state ``c``) is ``(n_h, m)``, the hidden
states of a layer over time ``H`` are ``(n_h, m, T)``. Layer ``l`` has torch's parameters, under torch's
names and shapes, biases as columns::

    W_ih_l{l} (G n_h, n_in)   W_hh_l{l} (G n_h, n_h)   b_ih_l{l} (G n_h, 1)   b_hh_l{l} (G n_h, 1)

with ``n_in = n_x`` for layer 0 and ``n_h`` above it, and ``G`` stacked gates. Writing
``a = W_ih x + b_ih + W_hh h + b_hh`` and ``a_k`` for its k-th block of ``n_h`` rows::

    RNN  (G = 1)        h' = tanh(a)   (or relu(a))
    LSTM (G = 4: i f g o)  i = s(a_i)  f = s(a_f)  g = tanh(a_g)  o = s(a_o)
                        c' = f * c + i * g            h' = o * tanh(c')
    GRU  (G = 3: r z n)    r = s(a_r)  z = s(a_z)
                        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))    (b_hn *inside* the reset product)
                        h' = (1 - z) * n + z * h  =  (h - n) * z + n     (torch's evaluation order)

``s`` is the sigmoid. The course's LSTM (``Wf, Wi, Wc, Wo`` acting on ``[a_prev; x_t]``) is the same cell;
:func:`course_to_torch` maps its names onto these arrays. The course's GRU applies the reset gate to
``h`` *before* the matrix product (``Wc [r * c, x]``) and is not the same function as torch's.

A layer computes its input projection ``A_x = W_ih X + b_ih`` for all ``T`` steps as one matrix product
before the time loop, and each step adds only ``W_hh h + b_hh`` to its slice (torch's CPU layer does the
same: one ``linear`` over the whole sequence, then ``linear(h, W_hh, b_hh).add_(projected[t])`` per step).
Only the product with ``W_hh`` has to wait for the previous step; the one with ``W_ih`` becomes a single
large product over ``m T`` columns, which BLAS runs faster than ``T`` small ones.

Backpropagation through time walks ``t = T-1 .. 0``, passes ``dh`` (and ``dc``) back to step ``t - 1`` and
keeps each step's gate gradient ``da``. The same weights act at every step, so their gradients are sums
over the steps: after the loop, ``dW_ih``, ``dW_hh`` and the input gradient ``dX`` are each one product
over all steps' gate gradients. A truncated run (:func:`train_truncated_bptt`) carries the final state of
one chunk into the next as plain values: the next chunk's backward stops at its first step (torch:
``h.detach()``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from scratch.activations import sigmoid
from scratch.clipping import clip_grad_norm_
from scratch.softmax import check_labels, log_softmax, softmax
from scratch.validation import (
    as_float_array,
    check_array,
    check_finite,
    check_float_dtype,
    check_positive_int,
    check_shape,
    check_updatable,
    float_inputs,
)

Params = dict[str, np.ndarray]
State = tuple[np.ndarray, ...]  # (h,) for RNN and GRU, (h, c) for LSTM

CELLS = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
HEADS = ("many_to_one", "many_to_many")
LOSSES = ("cross_entropy", "mse")


# --------------------------------------------------------------------------------------------------
# One time step of each cell. A step receives its slice ``ax = W_ih x + b_ih`` of the layer's input
# projection (computed for all steps at once by :func:`layer_forward`) and adds only the hidden
# projection ``W_hh h_prev + b_hh``. Forward returns the new state and a cache; backward takes the
# gradient of the new state and returns the gate gradient (which is that of ``ax``, and of the hidden
# projection) and the gradient of the previous state. The weight gradients are the layer's business.
# --------------------------------------------------------------------------------------------------

class Weights(NamedTuple):
    """One layer's parameters: ``W_ih (G n_h, n_in)``, ``W_hh (G n_h, n_h)``, ``b_ih``, ``b_hh (G n_h, 1)``."""

    W_ih: np.ndarray
    W_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray


class StepCache(NamedTuple):
    h_prev: np.ndarray
    c_prev: np.ndarray | None
    values: tuple[np.ndarray, ...]  # the cell's activations, named per cell below
    weights: Weights


@float_inputs(ax=2, h_prev=2, w=2)
def rnn_cell_forward(ax: np.ndarray, h_prev: np.ndarray, w: Weights, *, nonlinearity: str = "tanh"
                     ) -> tuple[np.ndarray, StepCache]:
    """``a = (W_hh h_prev + b_hh) + ax``, ``h = tanh(a)`` (or relu); ``ax (n_h, m)``, ``h (n_h, m)``."""
    a = (w.W_hh @ h_prev + w.b_hh) + ax
    h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return h, StepCache(h_prev, None, (a, h), w)


@float_inputs(dh=2)
def rnn_cell_backward(dh: np.ndarray, cache: StepCache, *, nonlinearity: str = "tanh"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``da = dh * (1 - h^2)`` (tanh) or ``dh * [a > 0]`` (relu), ``dh_prev = W_hh^T da``; returns both."""
    a, h = cache.values
    check_shape("dh", dh, h.shape)
    da = dh * (1 - h * h) if nonlinearity == "tanh" else dh * (a > 0)
    return da, cache.weights.W_hh.T @ da


@float_inputs(ax=2, h_prev=2, c_prev=2, w=2)
def lstm_cell_forward(ax: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, w: Weights
                      ) -> tuple[np.ndarray, np.ndarray, StepCache]:
    """One LSTM step, gates in torch's order i, f, g, o (``a``'s row blocks of ``n_h``)::

        a = (W_hh h_prev + b_hh) + ax      (G n_h, m) = (4 n_h, m)
        i, f, o = s(a_i), s(a_f), s(a_o)   g = tanh(a_g)
        c = f * c_prev + i * g             h = o * tanh(c)

    Returns ``h, c`` ``(n_h, m)`` and the cache.
    """
    n_h = h_prev.shape[0]
    a = (w.W_hh @ h_prev + w.b_hh) + ax
    i, f = np.split(sigmoid(a[:2 * n_h]), 2)  # i and f are adjacent rows: one sigmoid for both
    g, o = np.tanh(a[2 * n_h:3 * n_h]), sigmoid(a[3 * n_h:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, StepCache(h_prev, c_prev, (i, f, g, o, tanh_c), w)


@float_inputs(dh=2, dc=2)
def lstm_cell_backward(dh: np.ndarray, dc: np.ndarray, cache: StepCache
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of one LSTM step::

        do = dh tanh(c)       dc_total = dc + dh o (1 - tanh(c)^2)
        di = dc_total g       df = dc_total c_prev       dg = dc_total i       dc_prev = dc_total f
        da = [di i(1-i); df f(1-f); dg (1-g^2); do o(1-o)]     (4 n_h, m)
        dh_prev = W_hh^T da

    Returns ``da, dh_prev, dc_prev``.
    """
    i, f, g, o, tanh_c = cache.values
    n_h = i.shape[0]
    check_shape("dh", dh, i.shape)
    check_shape("dc", dc, i.shape)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)
    da = np.empty((4 * n_h, i.shape[1]), dtype=i.dtype)  # the four gate blocks, written in place
    da[:n_h] = dc_total * g * i * (1 - i)
    da[n_h:2 * n_h] = dc_total * cache.c_prev * f * (1 - f)
    da[2 * n_h:3 * n_h] = dc_total * i * (1 - g * g)
    da[3 * n_h:] = dh * tanh_c * o * (1 - o)
    return da, cache.weights.W_hh.T @ da, dc_total * f


@float_inputs(ax=2, h_prev=2, w=2)
def gru_cell_forward(ax: np.ndarray, h_prev: np.ndarray, w: Weights) -> tuple[np.ndarray, StepCache]:
    """One GRU step, gates in torch's order r, z, n, ``b_hn`` inside the reset product::

        ah = W_hh h_prev + b_hh            (3 n_h, m), blocks ah_r, ah_z, ah_n (ax likewise)
        r, z = s(ah_r + ax_r), s(ah_z + ax_z)
        n = tanh(ax_n + r * ah_n)          h = (h_prev - n) * z + n

    Returns ``h (n_h, m)`` and the cache.
    """
    n_h = h_prev.shape[0]
    ah = w.W_hh @ h_prev + w.b_hh
    r, z = np.split(sigmoid(ah[:2 * n_h] + ax[:2 * n_h]), 2)  # r and z are adjacent rows: one sigmoid
    ah_n = ah[2 * n_h:]
    n = np.tanh(ax[2 * n_h:] + r * ah_n)
    h = (h_prev - n) * z + n
    return h, StepCache(h_prev, None, (r, z, n, ah_n), w)


@float_inputs(dh=2)
def gru_cell_backward(dh: np.ndarray, cache: StepCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of one GRU step (``ah_n = W_hn h_prev + b_hn``)::

        dn = dh (1 - z)    dz = dh (h_prev - n)    da_n = dn (1 - n^2)    dr = da_n ah_n
        da_x = [dr r(1-r); dz z(1-z); da_n]        da_h = [dr r(1-r); dz z(1-z); da_n r]     (3 n_h, m)
        dh_prev = dh z + W_hh^T da_h

    ``da_x`` is the gradient of ``ax``, ``da_h`` that of ``ah`` (they differ in the ``n`` block, where
    ``r`` scales ``ah_n``). Returns ``da_x, da_h, dh_prev``.
    """
    r, z, n, ah_n = cache.values
    n_h = n.shape[0]
    check_shape("dh", dh, n.shape)
    da_n = dh * (1 - z) * (1 - n * n)
    da_x = np.empty((3 * n_h, n.shape[1]), dtype=n.dtype)  # the three gate blocks, written in place
    da_x[:n_h] = da_n * ah_n * r * (1 - r)
    da_x[n_h:2 * n_h] = dh * (cache.h_prev - n) * z * (1 - z)
    da_x[2 * n_h:] = da_n
    da_h = da_x.copy()
    da_h[2 * n_h:] *= r
    return da_x, da_h, cache.weights.W_hh.T @ da_h + dh * z


@float_inputs(ax=2, state=2, w=2)
def cell_forward(cell: str, ax: np.ndarray, state: State, w: Weights) -> tuple[State, StepCache]:
    """Dispatch one step of ``cell`` (a key of ``CELLS``) on its input projection ``ax (G n_h, m)``; the
    state is ``(h,)`` or ``(h, c)``."""
    if cell == "lstm":
        h, c, cache = lstm_cell_forward(ax, state[0], state[1], w)
        return (h, c), cache
    if cell == "gru":
        h, cache = gru_cell_forward(ax, state[0], w)
        return (h,), cache
    h, cache = rnn_cell_forward(ax, state[0], w, nonlinearity=cell.removeprefix("rnn_"))
    return (h,), cache


@float_inputs(dstate=2)
def cell_backward(cell: str, dstate: State, cache: StepCache) -> tuple[np.ndarray, np.ndarray, State]:
    """Dispatch one backward step: ``dstate`` is ``(dh,)`` or ``(dh, dc)``; returns ``da_x``, ``da_h`` (the
    gradients of the input and hidden projections, the same array except for the GRU) and ``dstate_prev``."""
    if cell == "lstm":
        da, dh_prev, dc_prev = lstm_cell_backward(dstate[0], dstate[1], cache)
        return da, da, (dh_prev, dc_prev)
    if cell == "gru":
        da_x, da_h, dh_prev = gru_cell_backward(dstate[0], cache)
        return da_x, da_h, (dh_prev,)
    da, dh_prev = rnn_cell_backward(dstate[0], cache, nonlinearity=cell.removeprefix("rnn_"))
    return da, da, (dh_prev,)


# --------------------------------------------------------------------------------------------------
# A layer over time, and a stack of layers.
# --------------------------------------------------------------------------------------------------

class LayerCache(NamedTuple):
    """One layer's forward pass: its input ``X (n_in, m, T)``, the state every step started from
    ``H_prev (n_h, m, T)`` (``h_0 .. h_{T-1}``), its weights and the caches of its ``T`` steps."""

    X: np.ndarray
    H_prev: np.ndarray
    weights: Weights
    steps: list[StepCache]


def _step_major(n: int, m: int, T: int, dtype: np.dtype) -> np.ndarray:
    """An empty ``(n, m, T)`` sequence whose memory holds one step after the other (a view of ``(n, T, m)``):
    ``S[:, :, t]`` is then ``n`` runs of ``m`` adjacent numbers, not ``n m`` numbers ``T`` apart."""
    return np.empty((n, T, m), dtype=dtype).transpose(0, 2, 1)


def _step_columns(sequence: np.ndarray) -> np.ndarray:
    """``(n, m, T)`` -> ``(n, T m)``, the columns of step ``t`` at ``t m .. t m + m - 1``: every example at
    every step side by side, one matrix for one product over all steps (a view for a step-major sequence)."""
    return sequence.transpose(0, 2, 1).reshape(sequence.shape[0], -1)


@float_inputs(X=3, state0=2, w=2)
def layer_forward(cell: str, X: np.ndarray, state0: State, w: Weights) -> tuple[np.ndarray, State, LayerCache]:
    """Run one layer over ``X (n_in, m, T)`` from ``state0``; returns ``H (n_h, m, T)``, the final state and
    the cache.

    The input projection of every step, ``A_x = W_ih X + b_ih (G n_h, m, T)``, is one matrix product over
    all ``m T`` columns before the time loop; step ``t`` then adds only ``W_hh h_{t-1} + b_hh`` to its slice
    ``A_x[:, :, t]``. ``A_x``, ``H`` and ``H_prev`` are step-major (:func:`_step_major`).
    """
    n_h, (m, T) = w.W_hh.shape[1], X.shape[1:]
    A_x = (w.W_ih @ _step_columns(X) + w.b_ih).reshape(-1, T, m).transpose(0, 2, 1)
    H = _step_major(n_h, m, T, X.dtype)
    state, steps = state0, []
    for t in range(T):
        state, cache = cell_forward(cell, A_x[:, :, t], state, w)
        H[:, :, t] = state[0]
        steps.append(cache)
    H_prev = _step_major(n_h, m, T, X.dtype)
    H_prev[:, :, 0], H_prev[:, :, 1:] = state0[0], H[:, :, :-1]
    return H, state, LayerCache(X, H_prev, w, steps)


@float_inputs(dH=3)
def layer_backward(cell: str, dH: np.ndarray, cache: LayerCache) -> tuple[np.ndarray, State, Weights]:
    """BPTT through one layer: ``dH (n_h, m, T)`` is the loss's gradient w.r.t. each step's output ``h_t``.

    Walking ``t = T-1 .. 0``, the gradient of ``h_t`` is ``dH[:, :, t]`` plus what step ``t + 1`` sent back;
    each step's gate gradients fill slice ``t`` of ``dA_x`` and ``dA_h (G n_h, m, T)`` (one array except for
    the GRU). The same weights act at every step, so their gradients are sums over the steps, each one
    matrix product over all ``m T`` columns after the loop::

        dW_ih = dA_x X^T    dW_hh = dA_h H_prev^T    db_ih, db_hh = row sums of dA_x, dA_h    dX = W_ih^T dA_x

    Returns ``dX (n_in, m, T)``, the gradient of the initial state and the weight gradients.
    """
    X, H_prev, w, steps = cache
    n_in, m, T = X.shape
    check_shape("dH", dH, H_prev.shape)
    dA_x = _step_major(w.W_hh.shape[0], m, T, dH.dtype)
    dA_h = _step_major(*dA_x.shape, dH.dtype) if cell == "gru" else dA_x
    dstate: State = tuple(np.zeros_like(dH[:, :, 0]) for _ in range(2 if cell == "lstm" else 1))
    for t in reversed(range(T)):
        dstate = (dstate[0] + dH[:, :, t], *dstate[1:])
        da_x, da_h, dstate = cell_backward(cell, dstate, steps[t])
        dA_x[:, :, t] = da_x
        if dA_h is not dA_x:
            dA_h[:, :, t] = da_h
    dA_x, dA_h = _step_columns(dA_x), _step_columns(dA_h)
    db_ih = dA_x.sum(axis=1, keepdims=True)
    # A copy, not the same array: an in-place update of one gradient (clipping) must not change the other.
    db_hh = dA_h.sum(axis=1, keepdims=True) if cell == "gru" else db_ih.copy()
    dW = Weights(dA_x @ _step_columns(X).T, dA_h @ _step_columns(H_prev).T, db_ih, db_hh)
    dX = (w.W_ih.T @ dA_x).reshape(n_in, T, m).transpose(0, 2, 1)
    return dX, dstate, dW


def layer_weights(params: Mapping[str, np.ndarray], layer: int) -> Weights:
    return Weights(*(params[f"{name}_l{layer}"] for name in ("W_ih", "W_hh", "b_ih", "b_hh")))


@float_inputs(X=3, params=2, states0=2)
def stack_forward(cell: str, X: np.ndarray, params: Mapping[str, np.ndarray], states0: Sequence[State],
                  num_layers: int) -> tuple[np.ndarray, list[State], list[LayerCache]]:
    """Layers ``0 .. num_layers-1``, each fed the ``H`` of the one below; ``states0`` one state per layer."""
    caches, states = [], []
    H = X
    for layer in range(num_layers):
        H, state, cache = layer_forward(cell, H, states0[layer], layer_weights(params, layer))
        states.append(state)
        caches.append(cache)
    return H, states, caches


@float_inputs(dH=3)
def stack_backward(cell: str, dH: np.ndarray, caches: list[LayerCache]
                   ) -> tuple[np.ndarray, Params, list[State]]:
    """BPTT through the stack, top layer first; returns ``dX``, grads ``{"dW_ih_l0": ...}``, ``dstates0``."""
    grads: Params = {}
    dstates0: list[State] = []
    for layer in reversed(range(len(caches))):
        dH, dstate0, dW = layer_backward(cell, dH, caches[layer])
        dstates0.insert(0, dstate0)
        for name, value in zip(("W_ih", "W_hh", "b_ih", "b_hh"), dW, strict=True):
            grads[f"d{name}_l{layer}"] = value
    return dH, grads, dstates0


# --------------------------------------------------------------------------------------------------
# Embedding and heads.
# --------------------------------------------------------------------------------------------------

def check_indices(indices: np.ndarray, vocab_size: int) -> None:
    """Integer ``indices (m, T)`` in ``0 .. vocab_size - 1`` (an embedding's rows are looked up, not computed)."""
    check_array("indices", indices)
    if indices.ndim != 2 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be integer indices of shape (m, T), got {indices.dtype} {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= vocab_size):
        raise ValueError(f"indices must hold indices in 0..{vocab_size - 1}, "
                         f"got values in [{indices.min()}, {indices.max()}]")


@float_inputs(E=2)
def embedding_forward(indices: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Rows of ``E (V, n_x)`` (``nn.Embedding.weight``) for integer ``indices (m, T)``: ``X (n_x, m, T)``."""
    check_indices(indices, E.shape[0])
    return E[indices].transpose(2, 0, 1)


@float_inputs(dX=3, E=2)
def embedding_backward(dX: np.ndarray, indices: np.ndarray, E: np.ndarray) -> np.ndarray:
    """``dE``: each used row receives the sum of the gradients of all positions that looked it up."""
    check_indices(indices, E.shape[0])
    check_shape("dX", dX, (E.shape[1], *indices.shape))
    dE = np.zeros_like(E)
    np.add.at(dE, indices, dX.transpose(1, 2, 0))
    return dE


@float_inputs(Z=2)
def head_loss(Z: np.ndarray, targets: np.ndarray, loss: str) -> tuple[np.floating, np.ndarray]:
    """Mean loss over all columns of ``Z (n_y, N)`` and ``dZ``: cross-entropy with integer ``targets (N,)``
    (``nn.CrossEntropyLoss``) or squared error with ``targets (n_y, N)`` (``nn.MSELoss``, mean over entries)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss == "cross_entropy":
        targets = check_labels("targets", targets, Z.shape[0], Z.shape[1])
        columns = np.arange(targets.size)
        value = -np.mean(log_softmax(Z)[targets, columns])
        dZ = softmax(Z)
        dZ[targets, columns] -= 1
        return value, dZ / targets.size
    targets = as_float_array("targets", targets)
    check_finite("targets", targets)
    check_shape("targets", targets, Z.shape)
    diff = Z - targets
    return np.mean(diff * diff), 2 * diff / diff.size


@dataclass(frozen=True)
class RecurrentNet:
    """Architecture of ``[Embedding] -> RNN/LSTM/GRU x num_layers -> Linear`` (torch: ``torch_ref.rnn``).

    ``vocab_size`` set: inputs are integer indices ``(m, T)`` looked up in ``E (vocab_size, n_x)``; else
    inputs are ``X (n_x, m, T)``. ``head``: ``"many_to_one"`` reads ``h_T`` of the top layer (one output
    per sequence, ``Z (n_y, m)``), ``"many_to_many"`` reads every ``h_t`` (``Z (n_y, m T)``, column
    ``i T + t``). Targets: class indices ``(m,)`` / ``(m, T)`` for ``"cross_entropy"``, values
    ``(n_y, m)`` / ``(n_y, m, T)`` for ``"mse"``.
    """

    cell: str
    n_x: int
    n_h: int
    n_y: int
    num_layers: int = 1
    head: str = "many_to_many"
    loss: str = "cross_entropy"
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("n_x", "n_h", "n_y", "num_layers"):
            check_positive_int(name, getattr(self, name))
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.vocab_size is not None:
            check_positive_int("vocab_size", self.vocab_size)

    @property
    def gates(self) -> int:
        return CELLS[self.cell]

    def shapes(self) -> dict[str, tuple[int, int]]:
        """Every parameter's shape, in torch's registration order (embedding, layers, head)."""
        shapes = {"E": (self.vocab_size, self.n_x)} if self.vocab_size else {}
        rows = self.gates * self.n_h
        for layer in range(self.num_layers):
            n_in = self.n_x if layer == 0 else self.n_h
            shapes |= {f"W_ih_l{layer}": (rows, n_in), f"W_hh_l{layer}": (rows, self.n_h),
                       f"b_ih_l{layer}": (rows, 1), f"b_hh_l{layer}": (rows, 1)}
        return shapes | {"Wy": (self.n_y, self.n_h), "by": (self.n_y, 1)}

    def init_params(self, rng: np.random.Generator, dtype: np.dtype | str = "float64") -> Params:
        """torch's default initialization: recurrent weights and the head ``U(-1/sqrt(fan), 1/sqrt(fan))``
        (``fan = n_h``), the embedding ``N(0, 1)``."""
        params = {}
        for name, shape in self.shapes().items():
            if name == "E":
                params[name] = rng.standard_normal(shape).astype(dtype)
            else:
                bound = 1 / np.sqrt(self.n_h)
                params[name] = rng.uniform(-bound, bound, size=shape).astype(dtype)
        return params

    def zero_state(self, m: int, dtype: np.dtype | str = "float64") -> list[State]:
        """Zero ``h`` (and ``c``) per layer: what torch uses when no initial state is passed."""
        return [tuple(np.zeros((self.n_h, m), dtype=dtype) for _ in range(2 if self.cell == "lstm" else 1))
                for _ in range(self.num_layers)]

    def check(self, params: Mapping[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
        """Parameter names, dtypes and shapes, and :meth:`check_inputs` (whose result is returned)."""
        expected = self.shapes()
        if set(params) != set(expected):
            raise ValueError(f"params must have the names {sorted(expected)}, got {sorted(params)}")
        for name, shape in expected.items():
            check_array(f"params[{name!r}]", params[name])
            check_float_dtype(f"params[{name!r}]", params[name])
            if params[name].shape != shape:
                raise ValueError(f"params[{name!r}] must have shape {shape}, got {params[name].shape}")
        return self.check_inputs(inputs)

    def check_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """``inputs`` under the dtype policy: integer indices ``(m, T)`` with ``vocab_size`` (checked, not
        promoted), else a finite ``X (n_x, m, T)`` (integers and booleans promoted to float64); returned."""
        if self.vocab_size:
            check_array("inputs", inputs)
            if inputs.ndim != 2 or not np.issubdtype(inputs.dtype, np.integer):
                raise ValueError(f"inputs must be integer indices of shape (m, T), got {inputs.dtype} {inputs.shape}")
            if inputs.size and (inputs.min() < 0 or inputs.max() >= self.vocab_size):
                raise ValueError(f"inputs must hold indices in 0..{self.vocab_size - 1}, "
                                 f"got values in [{inputs.min()}, {inputs.max()}]")
        else:
            inputs = as_float_array("inputs", inputs)
            if inputs.ndim != 3 or inputs.shape[0] != self.n_x:
                raise ValueError(f"inputs must have shape (n_x={self.n_x}, m, T), got {inputs.shape}")
            check_finite("inputs", inputs)
        if inputs.shape[-1] == 0 or inputs.shape[-2] == 0:
            raise ValueError(f"inputs must hold at least one sequence and one time step, got shape {inputs.shape}")
        return inputs

    def check_targets(self, targets: np.ndarray) -> np.ndarray:
        """Integer class indices for ``"cross_entropy"`` (checked), finite values for ``"mse"`` (promoted)."""
        if self.loss == "cross_entropy":
            check_array("targets", targets)
            if not np.issubdtype(targets.dtype, np.integer):
                raise ValueError(f"targets must hold integer class indices, got dtype {targets.dtype}")
            return targets
        targets = as_float_array("targets", targets)
        check_finite("targets", targets)
        return targets

    @float_inputs(params=2, states0=2)
    def forward(self, params: Mapping[str, np.ndarray], inputs: np.ndarray, states0: Sequence[State] | None = None
                ) -> tuple[np.ndarray, list[State], Any]:
        """Logits ``Z`` (see the class), the final state of each layer and the cache for :meth:`backward`."""
        inputs = self.check(params, inputs)
        X = embedding_forward(inputs, params["E"]) if self.vocab_size else inputs
        m, T = X.shape[1], X.shape[2]
        states0 = self.zero_state(m, X.dtype) if states0 is None else states0
        H, states, caches = stack_forward(self.cell, X, params, states0, self.num_layers)
        top = H[:, :, -1] if self.head == "many_to_one" else H.reshape(self.n_h, m * T)
        Z = params["Wy"] @ top + params["by"]
        return Z, states, (inputs, H, top, caches)

    @float_inputs(params=2, dZ=2)
    def backward(self, params: Mapping[str, np.ndarray], dZ: np.ndarray, cache: Any) -> tuple[Params, list[State]]:
        """Gradients of every parameter (``"d" + name``) and of the initial states, from ``dZ``."""
        inputs, H, top, caches = cache
        grads = {"dWy": dZ @ top.T, "dby": dZ.sum(axis=1, keepdims=True)}
        dtop = params["Wy"].T @ dZ
        if self.head == "many_to_one":
            dH = np.zeros_like(H)
            dH[:, :, -1] = dtop
        else:
            dH = dtop.reshape(H.shape)
        dX, layer_grads, dstates0 = stack_backward(self.cell, dH, caches)
        if self.vocab_size:
            grads["dE"] = embedding_backward(dX, inputs, params["E"])
        return grads | layer_grads, dstates0

    def flat_targets(self, targets: np.ndarray) -> np.ndarray:
        """Targets laid out like ``Z``'s columns (see the class)."""
        if self.loss == "cross_entropy":
            return targets.reshape(-1)
        return targets.reshape(self.n_y, -1)

    @float_inputs(params=2, states0=2)
    def loss_and_grads(self, params: Mapping[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray,
                       states0: Sequence[State] | None = None) -> tuple[np.floating, Params, list[State]]:
        """Mean loss, gradients ``{"dW_ih_l0": ...}`` and the final states (to carry into the next chunk)."""
        Z, states, cache = self.forward(params, inputs, states0)
        flat = self.flat_targets(self.check_targets(targets))
        if (self.loss == "cross_entropy" and flat.shape != (Z.shape[1],)) or \
                (self.loss == "mse" and flat.shape != Z.shape):
            raise ValueError(f"targets of shape {targets.shape} do not match the {self.head} outputs {Z.shape}")
        value, dZ = head_loss(Z, flat, self.loss)
        grads, _ = self.backward(params, dZ, cache)
        return value, grads, states


@float_inputs(course=2)
def course_to_torch(course: Mapping[str, np.ndarray], *, cell: str) -> Params:
    """The course's parameter names as this module's (torch's) arrays, for one layer and the head.

    RNN (``rnn_cell_forward``: ``a = tanh(Wax x + Waa a_prev + ba)``, ``y = softmax(Wya a + by)``)::

        W_ih_l0 = Wax   W_hh_l0 = Waa   b_ih_l0 = ba   b_hh_l0 = 0   Wy = Wya   by = by

    LSTM (``lstm_cell_forward``: each of ``Wf, Wi, Wc, Wo`` is ``(n_a, n_a + n_x)`` acting on
    ``concat = [a_prev; x_t]``, so its first ``n_a`` columns multiply ``a_prev``); torch stacks the gates
    in the order i, f, g (the course's candidate ``c~``, weights ``Wc``), o::

        W_ih_l0 = [Wi; Wf; Wc; Wo][:, n_a:]   W_hh_l0 = [Wi; Wf; Wc; Wo][:, :n_a]
        b_ih_l0 = [bi; bf; bc; bo]            b_hh_l0 = 0              Wy = Wy   by = by

    torch's second bias ``b_hh`` has no counterpart (the course has one bias per gate), so it is 0.
    The course's GRU is a different function from torch's (reset gate applied before the product), so it
    has no exact mapping and is refused.
    """
    if cell in ("rnn_tanh", "rnn_relu"):
        ba = course["ba"]
        return {"W_ih_l0": course["Wax"].copy(), "W_hh_l0": course["Waa"].copy(), "b_ih_l0": ba.copy(),
                "b_hh_l0": np.zeros_like(ba), "Wy": course["Wya"].copy(), "by": course["by"].copy()}
    if cell == "lstm":
        n_a = course["Wf"].shape[0]
        stacked = np.concatenate([course["Wi"], course["Wf"], course["Wc"], course["Wo"]])
        biases = np.concatenate([course["bi"], course["bf"], course["bc"], course["bo"]])
        return {"W_ih_l0": stacked[:, n_a:].copy(), "W_hh_l0": stacked[:, :n_a].copy(), "b_ih_l0": biases,
                "b_hh_l0": np.zeros_like(biases), "Wy": course["Wy"].copy(), "by": course["by"].copy()}
    raise ValueError(f"cell must be 'rnn_tanh', 'rnn_relu' or 'lstm' (the course's GRU is not torch's), got {cell!r}")


def train_truncated_bptt(net: RecurrentNet, params: Params, step: Callable[[Params, Params], None],
                         inputs: np.ndarray, targets: np.ndarray, *, chunk_length: int,
                         max_norm: float | None = None) -> tuple[list[float], list[float]]:
    """Truncated BPTT over the time axis (the last axis of ``inputs`` and ``targets``), many-to-many.

    Chunk ``k`` starts from the final state of chunk ``k - 1`` as values only, so its gradient stops at
    the chunk's first step. After each chunk: optional global norm clipping, then ``step(params, grads)``
    (an optimizer's ``step``). Returns the chunk losses and the total gradient norms before clipping.
    """
    check_positive_int("chunk_length", chunk_length)
    check_updatable("params", params)  # the optimizer's step updates them in place
    inputs, targets = net.check_inputs(inputs), net.check_targets(targets)
    if net.head != "many_to_many":
        raise ValueError(f"truncated BPTT needs a many_to_many head (a loss at every step), got {net.head!r}")
    states = None
    losses, norms = [], []
    for start in range(0, inputs.shape[-1], chunk_length):
        chunk = slice(start, start + chunk_length)
        loss, grads, states = net.loss_and_grads(params, inputs[..., chunk], targets[..., chunk], states)
        if max_norm is not None:
            norms.append(float(clip_grad_norm_(grads, max_norm=max_norm)))
        step(params, grads)
        losses.append(float(loss))
    return losses, norms


@float_inputs(params=2, uniforms=1)
def sample(net: RecurrentNet, params: Mapping[str, np.ndarray], first: int, uniforms: np.ndarray) -> list[int]:
    """Characters drawn one at a time from a many-to-many language model (``vocab_size`` inputs and outputs).

    Step ``k`` feeds the previous index, takes ``p = softmax(z)`` and returns the first index whose
    cumulative probability exceeds ``uniforms[k]`` (inverse-CDF sampling). Given the same uniforms (drawn
    once, shared), the torch side picks the same indices.
    """
    if not net.vocab_size or net.head != "many_to_many" or net.n_y != net.vocab_size:
        raise ValueError("sample needs a many_to_many language model with vocab_size inputs and n_y = vocab_size")
    states, index, drawn = None, first, []
    for u in uniforms:
        Z, states, _ = net.forward(params, np.array([[index]]), states)
        cumulative = np.cumsum(softmax(Z)[:, 0])
        index = min(int(np.searchsorted(cumulative, u, side="right")), net.vocab_size - 1)
        drawn.append(index)
    return drawn
