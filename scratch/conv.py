"""Convolutional networks (course 4, week 1-2): convolution, pooling, flattening, LeNet and a residual block.

Layout. Images are ``(m, C, H, W)`` (the course-4 and CS231n layout, and torch's): example first, then
channel, height, width. A convolution's weights ``W`` are ``(C_out, C_in / groups, kH, kW)`` and its bias
``b`` is ``(C_out,)`` -- the shapes of ``nn.Conv2d.weight`` and ``.bias``. The dense layers after the
convolutions keep the course's layout (examples are columns, ``W{l}`` ``(n_l, n_{l-1})``, ``b{l}``
``(n_l, 1)``); the change of layout happens in one place, :func:`images_to_columns`.

Convolution (cross-correlation, as in the lectures and in torch), stride ``s``, zero padding ``p``,
dilation ``d``, for output position ``(h, w)`` of channel ``o`` in group ``g``::

    Z[i, o, h, w] = b[o] + sum_{c in g, u, v} X_pad[i, c, h s + u d, w s + v d] * W[o, c, u, v]
    H_out = floor((H + 2 p - d (kH - 1) - 1) / s) + 1          (the same for the width)

Backward, for ``dZ`` ``(m, C_out, H_out, W_out)`` (the gradient of the cost; nothing is divided by m here)::

    db[o]          = sum_{i, h, w} dZ[i, o, h, w]
    dW[o, c, u, v] = sum_{i, h, w} dZ[i, o, h, w] X_pad[i, c, h s + u d, w s + v d]
    dX_pad         = every dZ[i, o, h, w] W[o] added back onto the window it came from

Three implementations compute exactly this (same arguments, same caches' meaning), all tested against
``torch.nn.functional.conv2d`` and its autograd gradients:

- :func:`conv_forward_loops` / :func:`conv_backward_loops` -- the course's four nested loops over
  examples, channels and output positions, for reading;
- :func:`conv_forward_im2col` / :func:`conv_backward_im2col` -- every window at once as a strided view
  (``sliding_window_view``) contracted with ``np.tensordot``; the input gradient written as the textbook
  transposed convolution: ``dZ`` dilated by the stride, zero-padded by ``d (k - 1)``, correlated with the
  kernel rotated by 180 degrees and its channel axes swapped;
- :func:`conv_forward` / :func:`conv_backward` -- the fast one the networks use: im2col built by ``kH kW``
  strided copies, then one matrix product (BLAS) per example and group, whose result is already in the
  ``(m, C_out, H_out, W_out)`` layout; col2im by ``kH kW`` strided additions.

Pooling: max pooling routes the gradient to the *first* maximum of its window in row-major order when
entries tie (torch's CPU kernel keeps the running max with ``val > maxval``, so a later equal value does
not replace it); average pooling divides by ``kH kW`` including zero padding (torch's default
``count_include_pad=True``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratch.activations import relu
from scratch.batchnorm import BatchNormState, batchnorm2d_backward, batchnorm2d_forward
from scratch.softmax import check_labels, cross_entropy_from_logits, softmax
from scratch.validation import (
    ANY_SHAPE,
    ELEMENTWISE,
    check_array,
    check_finite,
    check_float_dtype,
    check_nonempty,
    check_positive_int,
    check_shape,
    float_inputs,
)

Pair = tuple[int, int]


def _pair(name: str, value: int | Sequence[int], *, minimum: int) -> Pair:
    """``value`` as ``(height, width)``; an int means both. Each must be an int >= ``minimum``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum for v in pair)):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


@dataclass(frozen=True)
class ConvGeometry:
    """Stride, zero padding and dilation as ``(height, width)`` pairs, and the number of groups."""

    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1

    @classmethod
    def of(cls, *, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
           dilation: int | Sequence[int] = 1, groups: int = 1) -> ConvGeometry:
        """Validated geometry: stride and dilation >= 1, padding >= 0, groups >= 1."""
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ValueError(f"groups must be an int >= 1, got {groups!r}")
        return cls(_pair("stride", stride, minimum=1), _pair("padding", padding, minimum=0),
                   _pair("dilation", dilation, minimum=1), int(groups))

    def output_size(self, size: Pair, kernel: Pair) -> Pair:
        """``floor((n + 2 p - d (k - 1) - 1) / s) + 1`` for the height and the width."""
        return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1  # type: ignore[return-value]
                     for n, k, s, p, d in zip(size, kernel, self.stride, self.padding, self.dilation, strict=True))


ConvCache = tuple[np.ndarray, np.ndarray, bool, ConvGeometry, object]


def check_conv_inputs(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry) -> Pair:
    """Validate a convolution's arguments; returns the output size ``(H_out, W_out)``."""
    check_array("X", X, ndim=4)
    check_float_dtype("X", X)
    check_finite("X", X)
    check_array("W", W, ndim=4)
    C, groups = X.shape[1], geometry.groups
    if C % groups or W.shape[0] % groups:
        raise ValueError(f"groups={groups} must divide X's {C} channels and W's {W.shape[0]} output channels")
    check_shape("W", W, (None, C // groups, None, None))
    if W.dtype != X.dtype:
        raise ValueError(f"W must have X's dtype {X.dtype}, got {W.dtype}")
    if b is not None:
        check_array("b", b, ndim=1)
        check_shape("b", b, (W.shape[0],))
        if b.dtype != X.dtype:
            raise ValueError(f"b must have X's dtype {X.dtype}, got {b.dtype}")
    out = geometry.output_size(X.shape[2:], W.shape[2:])
    if min(out) < 1:
        padded = tuple(n + 2 * p for n, p in zip(X.shape[2:], geometry.padding, strict=True))
        raise ValueError(f"X's padded size {padded} is smaller than the dilated kernel of W {W.shape[2:]} "
                         f"(dilation {geometry.dilation}): the output would be {out}")
    return out


def _check_output_gradient(name: str, dZ: np.ndarray, X: np.ndarray, W: np.ndarray, geometry: ConvGeometry) -> None:
    """``dZ`` must have the shape of the forward's output ``(m, C_out, H_out, W_out)``."""
    check_shape(name, dZ, (X.shape[0], W.shape[0], *geometry.output_size(X.shape[2:], W.shape[2:])))


@float_inputs(X=4)
def zero_pad(X: np.ndarray, padding: Pair) -> np.ndarray:
    """``X`` ``(m, C, H, W)`` with ``padding`` rows of zeros above and below and columns left and right."""
    ph, pw = padding
    if ph == pw == 0:
        return X
    return np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _window(position: Pair, kernel: Pair, geometry: ConvGeometry) -> tuple[slice, slice]:
    """The slices of the padded input read by output position ``(h, w)``."""
    (h, w), (kh, kw) = position, kernel
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    return slice(h * sh, h * sh + dh * (kh - 1) + 1, dh), slice(w * sw, w * sw + dw * (kw - 1) + 1, dw)


def _offset_slices(offset: Pair, out: Pair, geometry: ConvGeometry) -> tuple[slice, slice]:
    """The slices of the padded input that kernel tap ``(u, v)`` reads over all output positions."""
    (u, v), (ho, wo) = offset, out
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    return slice(u * dh, u * dh + sh * (ho - 1) + 1, sh), slice(v * dw, v * dw + sw * (wo - 1) + 1, sw)


def _group_slices(W: np.ndarray, groups: int, g: int) -> tuple[slice, slice]:
    """Input-channel and output-channel slices of group ``g``."""
    c_in, c_out = W.shape[1], W.shape[0] // groups
    return slice(g * c_in, (g + 1) * c_in), slice(g * c_out, (g + 1) * c_out)


def _crop(X_pad: np.ndarray, padding: Pair) -> np.ndarray:
    ph, pw = padding
    return X_pad[:, :, ph:X_pad.shape[2] - ph, pw:X_pad.shape[3] - pw]


# --- 1. the course's loops -------------------------------------------------------------------------

@float_inputs(window=3, W_o=3, b_o=ANY_SHAPE)
def conv_single_step(window: np.ndarray, W_o: np.ndarray, b_o: float) -> np.ndarray:
    """One output value: ``sum(window * W_o) + b_o`` for a ``(C_in / groups, kH, kW)`` window."""
    check_shape("W_o", W_o, window.shape)
    if np.ndim(b_o) != 0:
        raise ValueError(f"b_o must be a single number, got shape {np.shape(b_o)}")
    return np.sum(window * W_o) + b_o


@float_inputs(X=4, W=4, b=1)
def conv_forward_loops(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, **geometry: int | Sequence[int]
                       ) -> tuple[np.ndarray, ConvCache]:
    """The convolution with explicit loops over examples, output channels and positions (the course's)."""
    geo = ConvGeometry.of(**geometry)
    ho, wo = check_conv_inputs(X, W, b, geo)
    X_pad = zero_pad(X, geo.padding)
    bias = np.zeros(W.shape[0], dtype=X.dtype) if b is None else b
    Z = np.empty((X.shape[0], W.shape[0], ho, wo), dtype=X.dtype)
    for i in range(X.shape[0]):
        for o in range(W.shape[0]):
            channels, _ = _group_slices(W, geo.groups, o // (W.shape[0] // geo.groups))
            for h in range(ho):
                for w in range(wo):
                    rows, cols = _window((h, w), W.shape[2:], geo)
                    Z[i, o, h, w] = conv_single_step(X_pad[i, channels, rows, cols], W[o], bias[o])
    return Z, (X, W, b is not None, geo, X_pad)


@float_inputs(dZ=4)
def conv_backward_loops(dZ: np.ndarray, cache: ConvCache, *, input_grad: bool = True
                        ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """``(dX, dW, db)`` with the same loops: each output's gradient goes back onto its window."""
    X, W, has_bias, geo, X_pad = cache
    _check_output_gradient("dZ", dZ, X, W, geo)
    dX_pad = np.zeros_like(X_pad)
    dW = np.zeros_like(W)
    for i in range(dZ.shape[0]):
        for o in range(W.shape[0]):
            channels, _ = _group_slices(W, geo.groups, o // (W.shape[0] // geo.groups))
            for h in range(dZ.shape[2]):
                for w in range(dZ.shape[3]):
                    rows, cols = _window((h, w), W.shape[2:], geo)
                    if input_grad:
                        dX_pad[i, channels, rows, cols] += W[o] * dZ[i, o, h, w]
                    dW[o] += X_pad[i, channels, rows, cols] * dZ[i, o, h, w]
    db = dZ.sum(axis=(0, 2, 3)) if has_bias else None
    return np.ascontiguousarray(_crop(dX_pad, geo.padding)) if input_grad else None, dW, db


# --- 2. windows as a strided view, tensordot, transposed convolution for dX ----------------------------

@float_inputs(X_pad=ELEMENTWISE)
def conv_windows(X_pad: np.ndarray, kernel: Pair, geometry: ConvGeometry, out: Pair) -> np.ndarray:
    """A read-only view ``(m, C, H_out, W_out, kH, kW)`` of every window of ``X_pad`` (no copy).

    ``X_pad`` may hold any values (max pooling pads with ``-inf``).
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel, geometry.stride, geometry.dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    check_array("X_pad", X_pad, ndim=4)
    if X_pad.shape[2] < span[0] or X_pad.shape[3] < span[1]:
        raise ValueError(f"X_pad's size {X_pad.shape[2:]} is smaller than the dilated kernel {span}")
    windows = sliding_window_view(X_pad, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return windows[:, :, :out[0], :out[1]]


def _correlate(X_pad: np.ndarray, W: np.ndarray, geometry: ConvGeometry, out: Pair) -> np.ndarray:
    """``sum_{c, u, v} windows[i, c, h, w, u, v] W[o, c, u, v]`` per group, ``(m, C_out, H_out, W_out)``."""
    windows = conv_windows(X_pad, W.shape[2:], geometry, out)
    Z = np.empty((X_pad.shape[0], W.shape[0], *out), dtype=X_pad.dtype)
    for g in range(geometry.groups):
        channels, outputs = _group_slices(W, geometry.groups, g)
        Z[:, outputs] = np.tensordot(windows[:, channels], W[outputs], axes=([1, 4, 5], [1, 2, 3])
                                     ).transpose(0, 3, 1, 2)
    return Z


@float_inputs(X=4, W=4, b=1)
def conv_forward_im2col(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, **geometry: int | Sequence[int]
                        ) -> tuple[np.ndarray, ConvCache]:
    """The convolution as one contraction of the strided windows with the kernel (per group)."""
    geo = ConvGeometry.of(**geometry)
    out = check_conv_inputs(X, W, b, geo)
    X_pad = zero_pad(X, geo.padding)
    Z = _correlate(X_pad, W, geo, out)
    if b is not None:
        Z += b.reshape(1, -1, 1, 1)
    return Z, (X, W, b is not None, geo, X_pad)


@float_inputs(dZ=4)
def dilate(dZ: np.ndarray, stride: Pair) -> np.ndarray:
    """``dZ`` with ``stride - 1`` zeros inserted between neighbouring rows and columns."""
    sh, sw = stride
    m, c, ho, wo = dZ.shape
    dilated = np.zeros((m, c, (ho - 1) * sh + 1, (wo - 1) * sw + 1), dtype=dZ.dtype)
    dilated[:, :, ::sh, ::sw] = dZ
    return dilated


@float_inputs(W=4)
def rotate_kernel(W: np.ndarray, groups: int) -> np.ndarray:
    """``W`` rotated by 180 degrees with input and output channels swapped per group: ``(C_in, C_out/g, kH, kW)``."""
    c_out = W.shape[0] // groups
    flipped = W[:, :, ::-1, ::-1]
    return np.concatenate([flipped[g * c_out:(g + 1) * c_out].transpose(1, 0, 2, 3) for g in range(groups)])


@float_inputs(dZ=4, W=4)
def input_gradient_transposed(dZ: np.ndarray, W: np.ndarray, geometry: ConvGeometry, padded_shape: Sequence[int]
                              ) -> np.ndarray:
    """``dX_pad`` ``padded_shape``: the full correlation of the stride-dilated ``dZ`` with the rotated kernel.

    Padding ``dZ`` by ``d (k - 1)`` on each side makes every kernel tap that touched an input position
    meet it again; rows of ``X_pad`` that no window reached (when the stride does not divide the size)
    get zero gradient.
    """
    (kh, kw), (dh, dw) = W.shape[2:], geometry.dilation
    full = zero_pad(dilate(dZ, geometry.stride), (dh * (kh - 1), dw * (kw - 1)))
    unit = ConvGeometry(dilation=geometry.dilation, groups=geometry.groups)
    reached = unit.output_size(full.shape[2:], (kh, kw))
    dX_pad = np.zeros(padded_shape, dtype=dZ.dtype)
    dX_pad[:, :, :reached[0], :reached[1]] = _correlate(full, rotate_kernel(W, geometry.groups), unit, reached)
    return dX_pad


@float_inputs(dZ=4)
def conv_backward_im2col(dZ: np.ndarray, cache: ConvCache, *, input_grad: bool = True
                         ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """``(dX, dW, db)``: ``dW`` contracts ``dZ`` with the windows, ``dX`` is the transposed convolution."""
    X, W, has_bias, geo, X_pad = cache
    _check_output_gradient("dZ", dZ, X, W, geo)
    windows = conv_windows(X_pad, W.shape[2:], geo, dZ.shape[2:])
    dW = np.empty_like(W)
    for g in range(geo.groups):
        channels, outputs = _group_slices(W, geo.groups, g)
        dW[outputs] = np.tensordot(dZ[:, outputs], windows[:, channels], axes=([0, 2, 3], [0, 2, 3]))
    db = dZ.sum(axis=(0, 2, 3)) if has_bias else None
    if not input_grad:
        return None, dW, db
    dX_pad = input_gradient_transposed(dZ, W, geo, X_pad.shape)
    return np.ascontiguousarray(_crop(dX_pad, geo.padding)), dW, db


# --- 3. the fast one: im2col, one matrix product per example and group, col2im ------------------------

@float_inputs(X_pad=4)
def im2col(X_pad: np.ndarray, kernel: Pair, geometry: ConvGeometry, out: Pair) -> np.ndarray:
    """Columns ``(m, C, kH, kW, H_out, W_out)``: entry ``[i, c, u, v, h, w]`` is ``X_pad[i, c, h s + u d, w s + v d]``.

    Built by ``kH kW`` strided copies (one per kernel tap). Example ``i``'s columns reshaped to
    ``(C kH kW, H_out W_out)`` are the matrix that one product with ``W`` reshaped ``(C_out, C kH kW)``
    turns into all of its outputs, already in the ``(C_out, H_out, W_out)`` layout.
    """
    kh, kw = kernel
    cols = np.empty((*X_pad.shape[:2], kh, kw, *out), dtype=X_pad.dtype)
    for u in range(kh):
        for v in range(kw):
            rows, columns = _offset_slices((u, v), out, geometry)
            cols[:, :, u, v] = X_pad[:, :, rows, columns]
    return cols


@float_inputs(dcols=6)
def col2im(dcols: np.ndarray, padded_shape: Sequence[int], geometry: ConvGeometry) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column entry back onto the input position it was copied from."""
    if len(padded_shape) != 4 or tuple(padded_shape[:2]) != dcols.shape[:2]:
        raise ValueError(f"padded_shape must be (m, C, H, W) with dcols' (m, C) {dcols.shape[:2]}, got {padded_shape}")
    dX_pad = np.zeros(padded_shape, dtype=dcols.dtype)
    out = dcols.shape[4:]
    for u in range(dcols.shape[2]):
        for v in range(dcols.shape[3]):
            rows, columns = _offset_slices((u, v), out, geometry)
            dX_pad[:, :, rows, columns] += dcols[:, :, u, v]
    return dX_pad


def _as_matrices(cols: np.ndarray) -> np.ndarray:
    """``(m, C, kH, kW, H_out, W_out) -> (m, C kH kW, H_out W_out)``, a view."""
    m, c, kh, kw, ho, wo = cols.shape
    return cols.reshape(m, c * kh * kw, ho * wo)


@float_inputs(X=4, W=4, b=1)
def conv_forward(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, **geometry: int | Sequence[int]
                 ) -> tuple[np.ndarray, ConvCache]:
    """The convolution as ``W_mat @ cols_i`` for every example (BLAS, per group); the networks' implementation."""
    geo = ConvGeometry.of(**geometry)
    out = check_conv_inputs(X, W, b, geo)
    X_pad = zero_pad(X, geo.padding)
    cols = im2col(X_pad, W.shape[2:], geo, out)
    Z = np.empty((X.shape[0], W.shape[0], out[0] * out[1]), dtype=X.dtype)
    for g in range(geo.groups):
        channels, outputs = _group_slices(W, geo.groups, g)
        np.matmul(W[outputs].reshape(Z[:, outputs].shape[1], -1), _as_matrices(cols[:, channels]), out=Z[:, outputs])
    if b is not None:
        Z += b.reshape(-1, 1)
    return Z.reshape(*Z.shape[:2], *out), (X, W, b is not None, geo, (X_pad.shape, cols))


@float_inputs(dZ=4)
def conv_backward(dZ: np.ndarray, cache: ConvCache, *, input_grad: bool = True
                  ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """``(dX, dW, db)``: ``dW = sum_i dZ_i cols_i^T``, ``dcols_i = W_mat^T dZ_i``, ``dX = col2im(dcols)``.

    ``input_grad=False`` skips ``dX`` (``None``), as torch does for an input that needs no gradient.
    """
    X, W, has_bias, geo, (padded_shape, cols) = cache
    _check_output_gradient("dZ", dZ, X, W, geo)
    dZ_matrices = dZ.reshape(*dZ.shape[:2], -1)  # (m, C_out, H_out W_out)
    dW = np.empty_like(W)
    dcols = np.empty_like(cols) if input_grad else None
    for g in range(geo.groups):
        channels, outputs = _group_slices(W, geo.groups, g)
        cols_g = _as_matrices(cols[:, channels])
        dW[outputs] = np.matmul(dZ_matrices[:, outputs], cols_g.transpose(0, 2, 1)).sum(axis=0
                                                                                         ).reshape(W[outputs].shape)
        if input_grad:
            W_matrix = W[outputs].reshape(W[outputs].shape[0], -1)
            dcols[:, channels] = np.matmul(W_matrix.T, dZ_matrices[:, outputs]).reshape(dcols[:, channels].shape)
    db = dZ.sum(axis=(0, 2, 3)) if has_bias else None
    dX = np.ascontiguousarray(_crop(col2im(dcols, padded_shape, geo), geo.padding)) if input_grad else None
    return dX, dW, db


ConvForward = Callable[..., tuple[np.ndarray, ConvCache]]
ConvBackward = Callable[..., tuple[np.ndarray | None, np.ndarray, np.ndarray | None]]
CONV_IMPLEMENTATIONS: dict[str, tuple[ConvForward, ConvBackward]] = {
    "loops": (conv_forward_loops, conv_backward_loops),
    "im2col": (conv_forward_im2col, conv_backward_im2col),
    "fast": (conv_forward, conv_backward),
}


# --- pooling ---------------------------------------------------------------------------------------

PoolCache = tuple[tuple[int, ...], ConvGeometry, Pair, np.ndarray | None]


def _pool_geometry(X: np.ndarray, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None,
                   padding: int | Sequence[int]) -> tuple[Pair, ConvGeometry, Pair]:
    """Kernel, geometry (``stride`` defaults to the kernel, as torch) and output size of a pooling layer."""
    check_array("X", X, ndim=4)
    check_float_dtype("X", X)
    check_finite("X", X)
    kernel = _pair("kernel_size", kernel_size, minimum=1)
    geo = ConvGeometry.of(stride=kernel if stride is None else stride, padding=padding)
    if any(2 * p > k for p, k in zip(geo.padding, kernel, strict=True)):
        raise ValueError(f"padding {geo.padding} must be at most half of kernel_size {kernel}")
    out = geo.output_size(X.shape[2:], kernel)
    if min(out) < 1:
        raise ValueError(f"X's size {X.shape[2:]} with padding {geo.padding} is smaller than kernel_size {kernel}")
    return kernel, geo, out


@float_inputs(X=4)
def max_pool_forward(X: np.ndarray, *, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                     padding: int | Sequence[int] = 0) -> tuple[np.ndarray, PoolCache]:
    """``max`` over each window of ``X`` ``(m, C, H, W)``; padding is ``-inf`` (never the maximum).

    The cache keeps, per output, the flat index in the padded input of the *first* maximum of its window
    in row-major order, which is where torch's CPU kernel routes the gradient when entries tie.
    """
    kernel, geo, out = _pool_geometry(X, kernel_size, stride, padding)
    (ph, pw), (kh, kw) = geo.padding, kernel
    X_pad = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf) if ph or pw else X
    windows = conv_windows(X_pad, kernel, geo, out).reshape(*X.shape[:2], *out, kh * kw)
    first = windows.argmax(axis=-1)  # argmax returns the first of equal maxima
    rows = np.arange(out[0]).reshape(-1, 1) * geo.stride[0] + first // kw
    cols = np.arange(out[1]) * geo.stride[1] + first % kw
    planes = np.arange(X.shape[0] * X.shape[1]).reshape(X.shape[0], X.shape[1], 1, 1)
    index = (planes * X_pad.shape[2] + rows) * X_pad.shape[3] + cols
    return np.take_along_axis(windows, first[..., None], axis=-1)[..., 0], (X.shape, geo, X_pad.shape[2:], index)


@float_inputs(dout=4)
def max_pool_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """``dX`` ``(m, C, H, W)``: each ``dout`` entry added onto the input that was its window's first maximum."""
    shape, geo, padded, index = cache
    check_shape("dout", dout, index.shape)
    dX_pad = np.bincount(index.ravel(), weights=dout.ravel(), minlength=shape[0] * shape[1] * padded[0] * padded[1])
    dX_pad = dX_pad.astype(dout.dtype, copy=False).reshape(*shape[:2], *padded)
    return np.ascontiguousarray(_crop(dX_pad, geo.padding))


@float_inputs(X=4)
def avg_pool_forward(X: np.ndarray, *, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                     padding: int | Sequence[int] = 0) -> tuple[np.ndarray, PoolCache]:
    """Mean over each window of ``X`` ``(m, C, H, W)``: the window's sum divided by ``kH kW`` (zeros counted)."""
    kernel, geo, out = _pool_geometry(X, kernel_size, stride, padding)
    X_pad = zero_pad(X, geo.padding)
    sums = conv_windows(X_pad, kernel, geo, out).sum(axis=(-2, -1))
    return sums / (kernel[0] * kernel[1]), (X.shape, geo, kernel, None)


@float_inputs(dout=4)
def avg_pool_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """``dX``: each ``dout / (kH kW)`` spread over its window (overlapping windows add up)."""
    shape, geo, kernel, _ = cache
    check_shape("dout", dout, (*shape[:2], *geo.output_size(shape[2:], kernel)))
    share = dout / (kernel[0] * kernel[1])
    m, C, H, W = shape
    padded = (m, C, H + 2 * geo.padding[0], W + 2 * geo.padding[1])
    dcols = np.broadcast_to(share[:, :, None, None], (m, C, *kernel, *dout.shape[2:]))
    return np.ascontiguousarray(_crop(col2im(dcols, padded, geo), geo.padding))


# --- the change of layout ----------------------------------------------------------------------------

@float_inputs(A=4)
def images_to_columns(A: np.ndarray) -> np.ndarray:
    """``(m, C, H, W) -> (C H W, m)``: flatten each example (``nn.Flatten``'s order c, h, w) into a column.

    The one place where the image layout (example first) meets the course's dense layout (examples are
    columns); :func:`columns_to_images` is its backward.
    """
    return A.reshape(A.shape[0], -1).T


@float_inputs(dA=2)
def columns_to_images(dA: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``(C H W, m) -> (m, C, H, W)``: the gradient of :func:`images_to_columns`."""
    if len(shape) != 4:
        raise ValueError(f"shape must be (m, C, H, W), got {shape}")
    check_shape("dA", dA, (int(np.prod(shape[1:])), shape[0]))
    return np.ascontiguousarray(dA.T).reshape(shape)


# --- networks --------------------------------------------------------------------------------------
# Both end in a softmax over K classes; the backward passes start from dJ/dZ = (softmax(Z) - Y_onehot) / m
# (the 1/m of the mean carried from the cost, as torch's autograd does), so no layer divides by m.

def _he_normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """N(0, 2 / fan_in) with ``fan_in`` = all axes but the first (``kaiming_normal_``'s fan-in for ReLU)."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / int(np.prod(shape[1:])))).astype(dtype)


def _lenet_feature_size(image_size: int, strides: Sequence[int] = (1, 1)) -> int:
    """The side of LeNet's last pooled map: per block, ``n -> floor((n - 1) / s) + 1`` (3x3, padding 1, stride
    ``s``) and then ``n / 2`` (2x2 max pooling), which needs an even ``n``."""
    check_positive_int("image_size", image_size)
    if len(strides) != 2:
        raise ValueError(f"strides must be two strides (one per convolution), got {tuple(strides)}")
    size = image_size
    for l, stride in enumerate(strides, start=1):  # noqa: E741
        check_positive_int(f"strides[{l - 1}]", stride)
        size = (size - 1) // stride + 1
        if size % 2:
            raise ValueError(f"image_size {image_size} with strides {tuple(strides)}: convolution {l} gives an odd "
                             f"size {size}, which a 2x2 max pooling cannot halve")
        size //= 2
    return size


def initialize_lenet(*, rng: np.random.Generator, in_channels: int = 1, image_size: int = 8,
                     channels: Sequence[int] = (6, 16), hidden: int = 32, n_classes: int = 10,
                     strides: Sequence[int] = (1, 1), dtype: np.dtype | type | str = np.float64
                     ) -> dict[str, np.ndarray]:
    """He-normal LeNet parameters: conv ``W1 b1``, ``W2 b2`` (3x3, ``(C_out,)`` biases), dense ``W3 b3``, ``W4 b4``.

    The flattened size is ``channels[1] n^2`` with ``n = _lenet_feature_size(image_size, strides)``
    (``image_size / 4`` for unit strides).
    """
    dtype = np.dtype(dtype)
    c1, c2 = channels
    flat = c2 * _lenet_feature_size(image_size, strides) ** 2
    shapes = {"W1": (c1, in_channels, 3, 3), "W2": (c2, c1, 3, 3), "W3": (hidden, flat), "W4": (n_classes, hidden)}
    params = {}
    for name, shape in shapes.items():
        params[name] = _he_normal(rng, shape, dtype)
        bias_shape = (shape[0],) if len(shape) == 4 else (shape[0], 1)
        params["b" + name[1:]] = np.zeros(bias_shape, dtype=dtype)
    return params


#: The number of dimensions of each network's parameters (conv weights 4, conv biases and BN vectors 1, dense 2).
LENET_NDIMS = {"W1": 4, "b1": 1, "W2": 4, "b2": 1, "W3": 2, "b3": 2, "W4": 2, "b4": 2}
RESNET_NDIMS = {"W1": 4, "b1": 1, "W2": 4, "gamma2": 1, "beta2": 1, "W3": 4, "gamma3": 1, "beta3": 1, "W4": 2,
                "b4": 2}


def check_network_params(params: Mapping[str, np.ndarray], ndims: Mapping[str, int]) -> None:
    """``params`` holds exactly the names of ``ndims``, each a non-empty array of that many dimensions."""
    if not isinstance(params, Mapping) or set(params) != set(ndims):
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(f"params must hold {sorted(ndims)}, got {got}")
    for name, ndim in ndims.items():
        check_array(f"params[{name!r}]", params[name], ndim=ndim)
        check_nonempty(f"params[{name!r}]", params[name])


@float_inputs(ZL=2)
def softmax_gradient(ZL: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """dJ/dZ{L} ``(K, m)`` of the mean cross-entropy: ``(softmax(Z{L}) - Y_onehot) / m``."""
    dZ = softmax(ZL)
    dZ[labels, np.arange(labels.size)] -= 1
    dZ /= labels.size
    return dZ


@float_inputs(X=4, params=ANY_SHAPE)
def lenet_forward(X: np.ndarray, params: Mapping[str, np.ndarray], *, impl: str = "fast",
                  strides: Sequence[int] = (1, 1)) -> tuple[np.ndarray, list]:
    """``CONV3x3(pad 1) -> RELU -> MAXPOOL2 -> CONV3x3(pad 1) -> RELU -> MAXPOOL2 -> FLATTEN -> DENSE -> RELU
    -> DENSE``: logits ``(K, m)`` for images ``X`` ``(m, C, H, W)``, and the caches. ``strides`` are the two
    convolutions' (the backward reads them from the caches)."""
    conv, _ = CONV_IMPLEMENTATIONS[impl]
    check_network_params(params, LENET_NDIMS)
    A, caches = X, []
    for l, stride in zip((1, 2), strides, strict=True):  # noqa: E741
        Z, conv_cache = conv(A, params[f"W{l}"], params[f"b{l}"], padding=1, stride=stride)
        A, pool_cache = max_pool_forward(relu(Z), kernel_size=2)
        caches.append((conv_cache, Z, pool_cache))
    F = images_to_columns(A)
    Z3 = params["W3"] @ F + params["b3"]
    A3 = relu(Z3)
    Z4 = params["W4"] @ A3 + params["b4"]
    caches.append((A.shape, F, Z3, A3))
    return Z4, caches


@float_inputs(dZ4=2, params=ANY_SHAPE)
def lenet_backward(dZ4: np.ndarray, params: Mapping[str, np.ndarray], caches: list, *, impl: str = "fast"
                   ) -> dict[str, np.ndarray]:
    """Gradients ``{"dW1", "db1", ..., "dW4", "db4"}`` from dJ/dZ4 ``(K, m)``; ``dX`` is not computed."""
    _, conv_backward_impl = CONV_IMPLEMENTATIONS[impl]
    check_network_params(params, LENET_NDIMS)
    pooled_shape, F, Z3, A3 = caches[2]
    check_shape("dZ4", dZ4, (params["W4"].shape[0], F.shape[1]))
    grads = {"dW4": dZ4 @ A3.T, "db4": dZ4.sum(axis=1, keepdims=True)}
    dZ3 = (params["W4"].T @ dZ4) * (Z3 > 0)
    grads["dW3"], grads["db3"] = dZ3 @ F.T, dZ3.sum(axis=1, keepdims=True)
    dA = columns_to_images(params["W3"].T @ dZ3, pooled_shape)
    for l in (2, 1):  # noqa: E741
        conv_cache, Z, pool_cache = caches[l - 1]
        dZ = max_pool_backward(dA, pool_cache) * (Z > 0)
        dA, grads[f"dW{l}"], grads[f"db{l}"] = conv_backward_impl(dZ, conv_cache, input_grad=l > 1)
    return grads


def check_image_batch(X: np.ndarray, labels: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Images ``(m, C, H, W)``, integer labels ``(1, m)`` or ``(m,)`` in ``0..K-1``, params in ``X``'s dtype."""
    check_array("X", X, ndim=4)
    check_float_dtype("X", X)
    check_finite("X", X)
    for name, value in params.items():
        if value.dtype != X.dtype:
            raise ValueError(f"{name} must have X's dtype {X.dtype}, got {value.dtype}")
        check_finite(name, value)
    n_classes = params[max((k for k in params if k.startswith("W")), key=lambda k: int(k[1:]))].shape[0]
    return check_labels("labels", labels, n_classes, X.shape[0])


@float_inputs(params=ANY_SHAPE, X=4)
def lenet_loss_and_grads(params: Mapping[str, np.ndarray], X: np.ndarray, labels: np.ndarray, *,
                         impl: str = "fast", strides: Sequence[int] = (1, 1), check: bool = True
                         ) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Mean cross-entropy of the LeNet and its gradients; ``impl`` picks the convolution (loops, im2col, fast)."""
    if impl not in CONV_IMPLEMENTATIONS:
        raise ValueError(f"impl must be one of {', '.join(CONV_IMPLEMENTATIONS)}, got {impl!r}")
    flat = check_image_batch(X, labels, params) if check else labels.reshape(-1)
    Z4, caches = lenet_forward(X, params, impl=impl, strides=strides)
    grads = lenet_backward(softmax_gradient(Z4, flat), params, caches, impl=impl)
    return cross_entropy_from_logits(Z4, flat), grads


# --- a residual basic block ---------------------------------------------------------------------------

def initialize_resnet(*, rng: np.random.Generator, in_channels: int = 1, image_size: int = 8, width: int = 8,
                      n_classes: int = 10, dtype: np.dtype | type | str = np.float64) -> dict[str, np.ndarray]:
    """He-normal parameters: stem conv ``W1 b1``; block convs ``W2``, ``W3`` (no bias) with BN ``gamma2 beta2``,
    ``gamma3 beta3`` (1 and 0, as ``nn.BatchNorm2d``); dense ``W4 b4``."""
    if image_size % 2:
        raise ValueError(f"image_size must be even (one 2x2 average pooling), got {image_size}")
    dtype = np.dtype(dtype)
    params = {"W1": _he_normal(rng, (width, in_channels, 3, 3), dtype), "b1": np.zeros(width, dtype=dtype)}
    for l in (2, 3):  # noqa: E741
        params[f"W{l}"] = _he_normal(rng, (width, width, 3, 3), dtype)
        params[f"gamma{l}"] = np.ones(width, dtype=dtype)
        params[f"beta{l}"] = np.zeros(width, dtype=dtype)
    params["W4"] = _he_normal(rng, (n_classes, width * (image_size // 2) ** 2), dtype)
    params["b4"] = np.zeros((n_classes, 1), dtype=dtype)
    return params


def make_resnet_states(width: int = 8, *, momentum: float | None = 0.1, eps: float = 1e-5,
                       dtype: np.dtype | type | str = np.float64) -> list[BatchNormState]:
    """The running statistics of the block's two ``BatchNorm2d`` layers."""
    return [BatchNormState(width, momentum=momentum, eps=eps, dtype=dtype) for _ in range(2)]


BlockCache = tuple[ConvCache, np.ndarray, tuple, np.ndarray, ConvCache, np.ndarray, tuple, np.ndarray, np.ndarray]


@float_inputs(X=4, params=ANY_SHAPE)
def basic_block_forward(X: np.ndarray, params: Mapping[str, np.ndarray], states: Sequence[BatchNormState], *,
                        training: bool) -> tuple[np.ndarray, BlockCache]:
    """``relu(BN(conv(relu(BN(conv(X))))) + X)``: 3x3 convs with padding 1 keep ``(m, C, H, W)``.

    The cache holds both convs' caches and outputs ``Za``, ``Zb``, both BNs' caches and outputs ``Ba``,
    ``Bb``, and the sum ``S = Bb + X`` that the last ReLU reads.
    """
    Za, conv_a = conv_forward(X, params["W2"], None, padding=1)
    Ba, bn_a = batchnorm2d_forward(Za, params["gamma2"], params["beta2"], states[0], training=training)
    Zb, conv_b = conv_forward(relu(Ba), params["W3"], None, padding=1)
    Bb, bn_b = batchnorm2d_forward(Zb, params["gamma3"], params["beta3"], states[1], training=training)
    S = Bb + X
    return relu(S), (conv_a, Za, bn_a, Ba, conv_b, Zb, bn_b, Bb, S)


@float_inputs(dout=4)
def basic_block_backward(dout: np.ndarray, cache: BlockCache, *, training: bool
                         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``dX`` (through both convs *plus* the identity) and the block's parameter gradients."""
    conv_a, _, bn_a, Ba, conv_b, _, bn_b, _, S = cache
    check_shape("dout", dout, S.shape)
    dS = dout * (S > 0)
    grads = {}
    dZb, grads["dgamma3"], grads["dbeta3"] = batchnorm2d_backward(dS, bn_b, training=training)
    dAa, grads["dW3"], _ = conv_backward(dZb, conv_b)
    dZa, grads["dgamma2"], grads["dbeta2"] = batchnorm2d_backward(dAa * (Ba > 0), bn_a, training=training)
    dX, grads["dW2"], _ = conv_backward(dZa, conv_a)
    return dX + dS, grads


@float_inputs(X=4, params=ANY_SHAPE)
def resnet_forward(X: np.ndarray, params: Mapping[str, np.ndarray], states: Sequence[BatchNormState], *,
                   training: bool = True) -> tuple[np.ndarray, tuple]:
    """``CONV -> RELU -> BASIC BLOCK -> AVGPOOL2 -> FLATTEN -> DENSE``: logits ``(K, m)`` and the caches.

    Training mode uses batch statistics and moves ``states``; ``training=False`` uses the running ones.
    """
    check_network_params(params, RESNET_NDIMS)
    Z1, stem = conv_forward(X, params["W1"], params["b1"], padding=1)
    A2, block = basic_block_forward(relu(Z1), params, states, training=training)
    P, pool = avg_pool_forward(A2, kernel_size=2)
    F = images_to_columns(P)
    Z4 = params["W4"] @ F + params["b4"]
    return Z4, (stem, Z1, block, pool, P.shape, F)


@float_inputs(dZ4=2, params=ANY_SHAPE)
def resnet_backward(dZ4: np.ndarray, params: Mapping[str, np.ndarray], caches: tuple, *, training: bool = True
                    ) -> dict[str, np.ndarray]:
    """Gradients of every parameter from dJ/dZ4 ``(K, m)``; the block adds the identity's gradient."""
    check_network_params(params, RESNET_NDIMS)
    stem, Z1, block, pool, pooled_shape, F = caches
    check_shape("dZ4", dZ4, (params["W4"].shape[0], F.shape[1]))
    grads = {"dW4": dZ4 @ F.T, "db4": dZ4.sum(axis=1, keepdims=True)}
    dA2 = avg_pool_backward(columns_to_images(params["W4"].T @ dZ4, pooled_shape), pool)
    dA1, block_grads = basic_block_backward(dA2, block, training=training)
    grads.update(block_grads)
    _, grads["dW1"], grads["db1"] = conv_backward(dA1 * (Z1 > 0), stem, input_grad=False)
    return grads


@float_inputs(params=ANY_SHAPE, X=4)
def resnet_loss_and_grads(params: Mapping[str, np.ndarray], states: Sequence[BatchNormState], X: np.ndarray,
                          labels: np.ndarray, *, training: bool = True, check: bool = True
                          ) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Mean cross-entropy of the residual net and its gradients (:func:`resnet_forward`, :func:`resnet_backward`)."""
    flat = check_image_batch(X, labels, params) if check else labels.reshape(-1)
    Z4, caches = resnet_forward(X, params, states, training=training)
    grads = resnet_backward(softmax_gradient(Z4, flat), params, caches, training=training)
    return cross_entropy_from_logits(Z4, flat), grads
