"""Mutation tests: the harness must catch bugs. Each mutant injects one known, realistic bug into the
scratch side (monkeypatching one function) and the parity run of the case it touches must FAIL, for the
right reason.

A mutant is ``Mutant(name, case, patch, expect, step)``: ``patch(monkeypatch)`` installs the bug, ``case``
is the registered ``concept/variant`` run afterwards (few steps, float64, CPU, no timing). The run must
fail, and its *first* divergence (see :func:`first_divergence`) must come at ``step`` and include an
entry whose name starts with ``expect`` (for ``DIVERGED``: the run must stop there on NaN/Inf). So an
optimizer bug must show in ``param.*`` or ``state.*`` after step 0's update while step 0's gradients
still agree, a backward-pass bug in ``grad.*`` at step 0, a forward bug in ``loss``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import scratch.activations as act
import scratch.augmentation as aug
import scratch.batchnorm as bn
import scratch.clipping as sc
import scratch.conv as conv
import scratch.deep_net as dn
import scratch.logistic_regression as lr
import scratch.normalization as norm
import scratch.optim as so
import scratch.regularization as reg
import scratch.rnn as sr
import scratch.softmax as sm
from compare.core.registry import all_cases, select
from compare.core.runner import CaseRun, run_case


@dataclass(frozen=True)
class Mutant:
    name: str
    case: str
    patch: Callable[[pytest.MonkeyPatch], None]
    expect: str
    step: int = 0
    clean: str = ""  # when set, nothing starting with it may be out of tolerance at that first step
    steps: int = 20


def _wrap_propagate(change: Callable[[dict, np.floating, np.ndarray], tuple[dict, np.floating]]):
    """A mutant ``propagate`` that post-processes the correct ``(grads, cost)``; ``X`` gives ``m``."""
    correct = lr.propagate

    def mutant(w, b, X, Y, *, check=True):
        grads, cost = correct(w, b, X, Y, check=check)
        return change(dict(grads), cost, X)

    return mutant


# --- logistic regression ------------------------------------------------------------------------------

def dw_not_divided_by_m(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(lr, "propagate", _wrap_propagate(lambda g, c, X: ({**g, "dw": g["dw"] * X.shape[1]}, c)))


def db_not_divided_by_m(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(lr, "propagate", _wrap_propagate(lambda g, c, X: ({**g, "db": g["db"] * X.shape[1]}, c)))


def dz_sign_flipped(mp: pytest.MonkeyPatch) -> None:
    """dZ = Y - A: gradient ascent on the cost."""
    mp.setattr(lr, "propagate", _wrap_propagate(lambda g, c, X: ({"dw": -g["dw"], "db": -g["db"]}, c)))


def sigmoid_derivative_applied_twice(mp: pytest.MonkeyPatch) -> None:
    """dZ = (A - Y) * sigma'(Z): chaining sigma' onto the already-simplified BCE derivative."""

    def propagate(w, b, X, Y, *, check=True):
        Z = w.T @ X + b
        A = lr.sigmoid(Z)
        dZ = (A - Y) * A * (1 - A)
        return {"dw": X @ dZ.T / X.shape[1], "db": np.sum(dZ) / X.shape[1]}, lr.cost_from_logits(Z, Y)

    mp.setattr(lr, "propagate", propagate)


def sigmoid_sign_error(mp: pytest.MonkeyPatch) -> None:
    """sigma(z) = 1 / (1 + e^z)."""
    mp.setattr(lr, "sigmoid", lambda z: 1 / (1 + np.exp(z)))


def epsilon_inside_the_log(mp: pytest.MonkeyPatch) -> None:
    """The course-style cost from probabilities with a "safety" epsilon: log(A + 1e-8)."""

    def cost(Z, Y):
        A = lr.sigmoid(Z)
        return -np.mean(Y * np.log(A + 1e-8) + (1 - Y) * np.log(1 - A + 1e-8))

    mp.setattr(lr, "cost_from_logits", cost)


def cost_summed_not_averaged(mp: pytest.MonkeyPatch) -> None:
    correct = lr.cost_from_logits
    mp.setattr(lr, "cost_from_logits", lambda Z, Y: correct(Z, Y) * Z.shape[1])


def bias_never_updated(mp: pytest.MonkeyPatch) -> None:
    def update(w, b, grads, learning_rate):
        w -= learning_rate * grads["dw"]
        return w, b

    mp.setattr(lr, "update", update)


def computed_in_float32(mp: pytest.MonkeyPatch) -> None:
    """A silent downcast: the forward/backward pass runs in float32 inside a float64 run."""
    correct = lr.propagate

    def propagate(w, b, X, Y, *, check=True):
        grads, cost = correct(w.astype(np.float32), np.float32(b), X.astype(np.float32), Y.astype(np.float32),
                              check=check)
        return {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}, np.float64(cost)

    mp.setattr(lr, "propagate", propagate)


def loop_skips_the_last_example(mp: pytest.MonkeyPatch) -> None:
    """for i in range(m - 1): an off-by-one in the lectures' loop (still divides by m)."""
    correct = lr.propagate_loop

    def propagate_loop(w, b, X, Y):
        m = X.shape[1]
        grads, cost = correct(w, b, X[:, :-1], Y[:, :-1])
        scale = (m - 1) / m
        return {"dw": grads["dw"] * scale, "db": grads["db"] * scale}, cost * scale

    mp.setattr(lr, "propagate_loop", propagate_loop)


# --- deep net -----------------------------------------------------------------------------------------

def deep_dw_not_divided_by_m(mp: pytest.MonkeyPatch) -> None:
    """dW = dZ A_prev^T, the /m forgotten (db still averaged)."""
    correct = dn.linear_backward

    def linear_backward(dZ, cache):
        dA_prev, dW, db = correct(dZ, cache)
        return dA_prev, dW * cache[0].shape[1], db

    mp.setattr(dn, "linear_backward", linear_backward)


def deep_one_over_m_twice(mp: pytest.MonkeyPatch) -> None:
    """dZ[L] = (A - Y) / m (autograd's convention) *and* dW = dZ A^T / m (the course's): 1/m applied twice."""
    correct = dn.L_model_backward

    def L_model_backward(AL, Y, caches, **options):
        return {name: grad / AL.shape[1] for name, grad in correct(AL, Y, caches, **options).items()}

    mp.setattr(dn, "L_model_backward", L_model_backward)


def deep_cache_index_off_by_one(mp: pytest.MonkeyPatch) -> None:
    """dZ[l-1] = dA[l-1] * g'(Z[l]): the loop reads Z from ``caches[l - 1]`` (layer l) instead of
    ``caches[l - 2]`` (layer l-1). On [8, 16, 16, 16, 1] the shapes still broadcast, so nothing crashes."""

    def L_model_backward(AL, Y, caches, *, hidden_activation="relu"):
        L = len(caches)
        grads = {}
        grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = dn.linear_backward(AL - Y, caches[L - 1][0])
        for l in reversed(range(1, L)):  # noqa: E741
            dZ = dn.activation_backward(grads[f"dA{l}"], caches[l][1], hidden_activation)
            grads[f"dA{l - 1}"], grads[f"dW{l}"], grads[f"db{l}"] = dn.linear_backward(dZ, caches[l - 1][0])
        return grads

    mp.setattr(dn, "L_model_backward", L_model_backward)


def relu_derivative_ge(mp: pytest.MonkeyPatch) -> None:
    """ReLU'(z) = 1 for z >= 0: torch passes the gradient only where z > 0."""
    mp.setitem(dn._DERIVATIVE, "relu", lambda z: z >= 0)


def tanh_derivative_of_z(mp: pytest.MonkeyPatch) -> None:
    """tanh'(z) = 1 - z^2: the course's ``1 - A^2`` written with Z instead of A = tanh(Z)."""
    mp.setitem(dn._DERIVATIVE, "tanh", lambda z: 1 - z * z)


def leaky_relu_derivative_without_slope(mp: pytest.MonkeyPatch) -> None:
    """Leaky ReLU backward copied from ReLU: 0 instead of 0.01 for z <= 0."""
    mp.setitem(dn._DERIVATIVE, "leaky_relu", act.relu_derivative)


# --- optimizers -----------------------------------------------------------------------------------------
# Each is a faithful copy of the scratch.optim core with one deliberate change (``bug``).

def _sgd(bug: str) -> Callable:
    def sgd_step(param, grad, state, *, lr, momentum, dampening, weight_decay, nesterov):
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None and bug == "zero seed":
                # v = 0, then the recursion: the first buffer is (1 - dampening) g instead of g. With
                # dampening 0 this equals torch's seed, so only a dampened case can tell (sgd_momentum_dampening).
                buf = state["momentum_buffer"] = np.zeros_like(grad)
                buf += (1 - dampening) * grad
            elif buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += grad if bug == "dampening ignored" else (1 - dampening) * grad
            if nesterov:
                grad = buf if bug == "nesterov uses the buffer" else grad + momentum * buf
            else:
                grad = buf
        param -= lr * grad

    return sgd_step


def _adam(bug: str) -> Callable:
    def adam_step(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay):
        beta1, beta2 = betas
        state["step"] += 1
        t = state["step"]
        decay = weight_decay != 0 and decoupled_weight_decay
        if decay and bug != "decay after the step":
            param *= 1 - lr * weight_decay
        elif weight_decay != 0 and not decoupled_weight_decay:
            grad = grad + weight_decay * param
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        second = np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"]) if amsgrad \
            else exp_avg_sq
        bc1, bc2 = (1.0, 1.0) if bug == "no bias correction" else (1 - beta1**t, 1 - beta2**t)
        denom = np.sqrt(second / bc2 + eps) if bug == "eps inside the square root" else np.sqrt(second / bc2) + eps
        param -= lr / bc1 * exp_avg / denom
        if decay and bug == "decay after the step":
            param *= 1 - lr * weight_decay

    return adam_step


def _patch_core(name: str, make: Callable[[str], Callable], bug: str) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(so, name, make(bug))
    return patch


def rmsprop_eps_inside_the_square_root(mp: pytest.MonkeyPatch) -> None:
    """param -= lr g / sqrt(v + eps), the form of some papers; torch adds eps after the root."""

    def rmsprop_step(param, grad, state, *, lr, alpha, eps, weight_decay, momentum, centered):
        assert weight_decay == 0 and momentum == 0 and not centered, "written for the plain variant"
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        param -= lr * grad / np.sqrt(square_avg + eps)

    mp.setattr(so, "rmsprop_step", rmsprop_step)


def adagrad_decay_counts_from_one(mp: pytest.MonkeyPatch) -> None:
    """clr = lr / (1 + t lr_decay) with t after the increment: torch uses (t - 1), so step 1 uses lr."""

    def adagrad_step(param, grad, state, *, lr, lr_decay, weight_decay, eps):
        assert weight_decay == 0, "written for the plain variant"
        state["step"] += 1
        clr = lr / (1 + state["step"] * lr_decay)
        state["sum"] += grad * grad
        param -= clr * grad / (np.sqrt(state["sum"]) + eps)

    mp.setattr(so, "adagrad_step", adagrad_step)


# --- regularization ----------------------------------------------------------------------------------

def dropout_not_inverted(mp: pytest.MonkeyPatch) -> None:
    """A = A * D without the 1/keep_prob (and the same on the way back)."""
    mp.setattr(reg, "dropout_forward", lambda A, D, keep_prob: A * D)
    mp.setattr(reg, "dropout_backward", lambda dA, D, keep_prob: dA * D)


def dropout_mask_missing_in_backward(mp: pytest.MonkeyPatch) -> None:
    """The backward pass scales by 1/keep_prob but forgets to zero the dropped units."""
    mp.setattr(reg, "dropout_backward", lambda dA, D, keep_prob: dA / keep_prob)


def l2_gradient_missing(mp: pytest.MonkeyPatch) -> None:
    """The penalty is added to the cost, but dW never gets its lambda/m W."""
    mp.setattr(reg, "l2_grads", lambda params, lambd, m: {})


def l2_gradient_halved(mp: pytest.MonkeyPatch) -> None:
    """dW += lambda/(2m) W: the cost's 1/2 copied into the gradient (it cancels against the square's 2)."""
    correct = reg.l2_grads
    mp.setattr(reg, "l2_grads", lambda params, lambd, m: correct(params, lambd / 2, m))


# --- softmax --------------------------------------------------------------------------------------------

def softmax_without_max_shift(mp: pytest.MonkeyPatch) -> None:
    """exp(Z) / sum exp(Z) and Z - log sum exp(Z) as written on the slide: exp overflows at logits > 709."""

    def softmax(Z):
        e = np.exp(Z)
        return e / e.sum(axis=0, keepdims=True)

    mp.setattr(sm, "softmax", softmax)
    mp.setattr(sm, "log_softmax", lambda Z: Z - np.log(np.exp(Z).sum(axis=0, keepdims=True)))


def softmax_over_the_examples(mp: pytest.MonkeyPatch) -> None:
    """Normalized along axis 1 (the m examples) instead of axis 0 (the K classes): a batch-first habit."""
    correct = sm.softmax
    mp.setattr(sm, "softmax", lambda Z: correct(Z.T).T)


# --- normalization and augmentation -------------------------------------------------------------------

def sample_std(mp: pytest.MonkeyPatch) -> None:
    """sigma from the sample variance (divide by m - 1, ``np.std(ddof=1)`` / torch.std's default)."""

    def fit_normalizer(X_train):
        std = X_train.std(axis=1, ddof=1, keepdims=True)
        return norm.Normalizer(X_train.mean(axis=1, keepdims=True), np.where(std == 0, 1.0, std))

    mp.setattr(norm, "fit_normalizer", fit_normalizer)


def fitted_on_the_set_it_normalizes(mp: pytest.MonkeyPatch) -> None:
    """Every set normalized with its own statistics (``fit_transform`` on the dev/test set): apply refits."""
    correct = norm.Normalizer.apply
    mp.setattr(norm.Normalizer, "apply", lambda self, X: correct(norm.fit_normalizer(X), X))


def vertical_flip(mp: pytest.MonkeyPatch) -> None:
    """Mirrors rows (axis H) instead of columns (axis W)."""
    mp.setattr(aug, "horizontal_flip",
               lambda images, flip: np.where(flip[:, None, None, None], images[..., ::-1, :], images))


def crop_offsets_swapped(mp: pytest.MonkeyPatch) -> None:
    """random_crop(images, left, top): torchvision's params are (top, left, height, width)."""
    correct = aug.random_crop
    mp.setattr(aug, "random_crop", lambda images, top, left, padding: correct(images, left, top, padding))


LR, LR_LOOP = "logistic_regression/vectorized", "logistic_regression/loop"
# --- recurrent networks, clipping, the new optimizers and schedules ---------------------------------------

def lstm_forget_gate_bias_twice(mp: pytest.MonkeyPatch) -> None:
    """The forget gate's bias added a second time (e.g. the course's bf mapped into both b_ih and b_hh)."""
    correct = sr.lstm_cell_forward

    def mutant(ax, h_prev, c_prev, w):
        n_h = w.W_hh.shape[1]
        ax = ax.copy()  # ax = W_ih x + b_ih already holds the bias once
        ax[n_h:2 * n_h] += w.b_ih[n_h:2 * n_h]
        return correct(ax, h_prev, c_prev, w)

    mp.setattr(sr, "lstm_cell_forward", mutant)


def gru_b_hn_outside_the_reset_product(mp: pytest.MonkeyPatch) -> None:
    """n = tanh(W_in x + b_in + r * (W_hn h) + b_hn): the bias escapes the reset gate (Keras' reset_after=False
    keeps it in, too; only torch's placement is right here)."""

    def mutant(ax, h_prev, w):
        ax_r, ax_z, ax_n = np.split(ax, 3)
        wh_r, wh_z, wh_n = np.split(w.W_hh @ h_prev, 3)
        b_hr, b_hz, b_hn = np.split(w.b_hh, 3)
        r, z = act.sigmoid(ax_r + wh_r + b_hr), act.sigmoid(ax_z + wh_z + b_hz)
        n = np.tanh(ax_n + r * wh_n + b_hn)
        h = (h_prev - n) * z + n
        return h, sr.StepCache(h_prev, None, (r, z, n, wh_n + b_hn), w)

    mp.setattr(sr, "gru_cell_forward", mutant)


def gru_update_gate_mirrored(mp: pytest.MonkeyPatch) -> None:
    """h' = z n + (1 - z) h: the course's c = u c~ + (1 - u) c_prev with torch's z in place of u."""
    correct = sr.gru_cell_forward

    def mutant(ax, h_prev, w):
        _, cache = correct(ax, h_prev, w)
        r, z, n, ah_n = cache.values
        return z * n + (1 - z) * h_prev, cache

    mp.setattr(sr, "gru_cell_forward", mutant)


def bptt_gradient_not_accumulated(mp: pytest.MonkeyPatch) -> None:
    """Each step's weight gradient overwrites the running one: only t = 0's contribution survives (dX and
    the state gradients stay right)."""
    correct = sr.layer_backward

    def mutant(cell, dH, cache):
        X, H_prev, _, steps = cache
        dstate = tuple(np.zeros_like(dH[:, :, 0]) for _ in range(2 if cell == "lstm" else 1))
        for t in reversed(range(len(steps))):
            dstate = (dstate[0] + dH[:, :, t], *dstate[1:])
            da_x, da_h, dstate = sr.cell_backward(cell, dstate, steps[t])
        dW = sr.Weights(da_x @ X[:, :, 0].T, da_h @ H_prev[:, :, 0].T, da_x.sum(axis=1, keepdims=True),
                        da_h.sum(axis=1, keepdims=True))
        return correct(cell, dH, cache)[0], dstate, dW

    mp.setattr(sr, "layer_backward", mutant)


def hidden_state_not_detached(mp: pytest.MonkeyPatch) -> None:
    """Truncated BPTT whose gradient runs back through the earlier chunks of the pass (torch without
    ``h.detach()`` and with ``retain_graph``): here, the whole pass so far is re-run and differentiated,
    with the loss of the current chunk only."""
    correct = sr.RecurrentNet.loss_and_grads
    earlier: list[np.ndarray] = []

    def mutant(self, params, inputs, targets, states0=None):
        if states0 is None:
            earlier.clear()
            earlier.append(inputs)
            return correct(self, params, inputs, targets, None)
        earlier.append(inputs)
        everything = np.concatenate(earlier, axis=-1)
        Z, states, cache = self.forward(params, everything)
        T_all, T = everything.shape[-1], inputs.shape[-1]
        Z = Z.reshape(self.n_y, -1, T_all)
        loss, dZ_chunk = sr.head_loss(Z[:, :, -T:].reshape(self.n_y, -1), self.flat_targets(targets), self.loss)
        dZ = np.zeros_like(Z)
        dZ[:, :, -T:] = dZ_chunk.reshape(self.n_y, -1, T)
        grads, _ = self.backward(params, dZ.reshape(self.n_y, -1), cache)
        return loss, grads, states

    mp.setattr(sr.RecurrentNet, "loss_and_grads", mutant)


def clipping_per_array(mp: pytest.MonkeyPatch) -> None:
    """Each gradient array clipped to max_norm on its own instead of all of them by their global norm."""
    correct = sc.clip_grad_norm_

    def mutant(grads, *, max_norm, norm_type=2.0, error_if_nonfinite=False):
        total = sc.total_norm(grads, norm_type=norm_type)
        for name in grads:
            correct({name: grads[name]}, max_norm=max_norm, norm_type=norm_type)
        return total

    mp.setattr(sc, "clip_grad_norm_", mutant)


def clip_coefficient_without_epsilon(mp: pytest.MonkeyPatch) -> None:
    """c = max_norm / N (the textbook form) instead of torch's max_norm / (N + 1e-6)."""

    def mutant(grads, *, max_norm, norm_type=2.0, error_if_nonfinite=False):
        norm = sc.total_norm(grads, norm_type=norm_type)
        for grad in grads.values():
            grad *= min(max_norm / norm, 1.0)
        return norm

    mp.setattr(sc, "clip_grad_norm_", mutant)


def nadam_momentum_decay_missing(mp: pytest.MonkeyPatch) -> None:
    """mu_t = beta1 at every step: NAdam without Dozat's momentum schedule."""
    mp.setattr(so, "nadam_momentum", lambda beta1, step, momentum_decay: beta1)


def radam_threshold_off(mp: pytest.MonkeyPatch) -> None:
    """Rectify once rho_t > 4 instead of 5: the switch comes one step early."""
    mp.setattr(so, "RADAM_RHO_THRESHOLD", 4.0)


def _radam_first_step_past(threshold: float, beta2: float = 0.999) -> int:
    """0-based index of the first update whose rho_t exceeds ``threshold`` (from RAdam's formula)."""
    rho_inf = 2 / (1 - beta2) - 1
    t = 1
    while rho_inf - 2 * t * beta2**t / (1 - beta2**t) <= threshold:
        t += 1
    return t - 1


def adadelta_eps_outside_the_square_root(mp: pytest.MonkeyPatch) -> None:
    """sqrt(acc_delta) + eps over sqrt(square_avg) + eps (Adam's placement): the first step moves by ~lr * 1."""

    def mutant(param, grad, state, *, lr, rho, eps, weight_decay):
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = (np.sqrt(acc_delta) + eps) / (np.sqrt(square_avg) + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= lr * delta

    mp.setattr(so, "adadelta_step", mutant)


def onecycle_momentum_not_cycled(mp: pytest.MonkeyPatch) -> None:
    """OneCycleLR that moves the lr but leaves the optimizer's momentum alone."""
    mp.setattr(so.OneCycleLR, "_set_momentum", lambda self, optimizer, value: None)


DIVERGED = "scratch diverged"  # expect: the run stops with "scratch diverged at step <step>" instead of comparing
DEEP = dict(steps=5)
OPTIM = dict(steps=5, clean="grad.")  # the update is wrong, step 0's gradient is not
REG = dict(steps=5)
RNN = dict(steps=5)


# --- batch normalization ------------------------------------------------------------------------------

def bn_running_variance_biased(mp: pytest.MonkeyPatch) -> None:
    """The running variance fed the biased batch variance var_sum / N instead of var_sum / (N - 1)."""
    correct = bn.BatchNormState.update
    mp.setattr(bn.BatchNormState, "update",
               lambda self, mean, var_sum, count: correct(self, mean, var_sum * (count - 1) / count, count))


def bn_momentum_weights_the_old_statistic(mp: pytest.MonkeyPatch) -> None:
    """running = momentum * running + (1 - momentum) * batch: Keras' convention read into torch's momentum."""

    def update(self, mean, var_sum, count):
        self.num_batches_tracked += 1
        factor = self.dtype.type(self.momentum)
        self.running_mean = (1 - factor) * mean + factor * self.running_mean
        self.running_var = (1 - factor) * (var_sum / (count - 1)).astype(self.dtype) + factor * self.running_var

    mp.setattr(bn.BatchNormState, "update", update)


def bn_normalizes_with_unbiased_variance(mp: pytest.MonkeyPatch) -> None:
    """z_hat = (z - mu) / sqrt(var_unbiased + eps): the N / (N - 1) belongs to the running estimate only."""
    correct = bn._batch_statistics

    def statistics(Z):
        mean, var_sum = correct(Z)
        return mean, var_sum * Z.shape[1] / (Z.shape[1] - 1)

    mp.setattr(bn, "_batch_statistics", statistics)


def _bn_backward_without(term: str):
    def backward(dout, cache):
        Z, mean, invstd, gamma = cache
        count = Z.shape[1]
        centered = Z - mean
        dbeta = dout.sum(axis=1, keepdims=True)
        dot = (dout * centered).sum(axis=1, keepdims=True)
        dZ = dout.copy()
        if term != "mean":
            dZ -= dbeta / count
        if term != "projection":
            dZ -= centered * (dot * invstd * invstd / count)
        return dZ * (invstd * gamma), dot * invstd, dbeta

    return backward


def bn_backward_missing_mean_term(mp: pytest.MonkeyPatch) -> None:
    """dz = gamma invstd (dout - z_hat dgamma / N): the gradient through mu is forgotten."""
    mp.setattr(bn, "batchnorm_backward", _bn_backward_without("mean"))


def bn_backward_missing_variance_term(mp: pytest.MonkeyPatch) -> None:
    """dz = gamma invstd (dout - dbeta / N): the gradient through sigma^2 is forgotten."""
    mp.setattr(bn, "batchnorm_backward", _bn_backward_without("projection"))


def bn_eval_mode_uses_batch_statistics(mp: pytest.MonkeyPatch) -> None:
    """model.eval() ignored: the dev set is normalized with its own batch statistics."""
    correct = bn.batchnorm_forward
    mp.setattr(bn, "batchnorm_forward",
               lambda Z, gamma, beta, state, *, training, check=True: correct(Z, gamma, beta, state, training=True,
                                                                              check=check))


# --- convolutions -------------------------------------------------------------------------------------

def conv_kernel_not_flipped(mp: pytest.MonkeyPatch) -> None:
    """The input gradient correlates dZ with W itself (channels swapped) instead of W rotated by 180 degrees."""
    correct = conv.rotate_kernel
    mp.setattr(conv, "rotate_kernel", lambda W, groups: correct(W, groups)[:, :, ::-1, ::-1])


def conv_input_gradient_padded_like_the_forward(mp: pytest.MonkeyPatch) -> None:
    """dZ zero-padded by the forward's padding p (1) instead of d (k - 1) (2) before the full correlation."""

    def transposed(dZ, W, geometry, padded_shape):
        full = conv.zero_pad(conv.dilate(dZ, geometry.stride), geometry.padding)
        unit = conv.ConvGeometry(dilation=geometry.dilation, groups=geometry.groups)
        reached = unit.output_size(full.shape[2:], W.shape[2:])
        dX_pad = np.zeros(padded_shape, dtype=dZ.dtype)
        dX_pad[:, :, :reached[0], :reached[1]] = conv._correlate(full, conv.rotate_kernel(W, geometry.groups), unit,
                                                                reached)
        return dX_pad

    mp.setattr(conv, "input_gradient_transposed", transposed)


def col2im_overwrites(mp: pytest.MonkeyPatch) -> None:
    """col2im assigns instead of adding: an input pixel read by several kernel taps keeps only the last one."""

    def col2im(dcols, padded_shape, geometry):
        dX_pad = np.zeros(padded_shape, dtype=dcols.dtype)
        for u in range(dcols.shape[2]):
            for v in range(dcols.shape[3]):
                rows, columns = conv._offset_slices((u, v), dcols.shape[4:], geometry)
                dX_pad[:, :, rows, columns] = dcols[:, :, u, v]
        return dX_pad

    mp.setattr(conv, "col2im", col2im)


def col2im_ignores_the_stride(mp: pytest.MonkeyPatch) -> None:
    """col2im adds kernel tap (u, v)'s columns back onto ``X_pad[u:u + H_out, v:v + W_out]``: right for stride 1,
    off by one row/column per output step for stride 2 (the forward's im2col read ``u::2``)."""

    def col2im(dcols, padded_shape, geometry):
        dX_pad = np.zeros(padded_shape, dtype=dcols.dtype)
        (ho, wo), (dh, dw) = dcols.shape[4:], geometry.dilation
        for u in range(dcols.shape[2]):
            for v in range(dcols.shape[3]):
                dX_pad[:, :, u * dh:u * dh + ho, v * dw:v * dw + wo] += dcols[:, :, u, v]
        return dX_pad

    mp.setattr(conv, "col2im", col2im)


def max_pool_ties_to_the_last_maximum(mp: pytest.MonkeyPatch) -> None:
    """Of equal maxima the last one gets the gradient (torch: the first). Pooling the image rotated by 180
    degrees reverses the row-major order inside every window (the 8x8 and 4x4 maps tile exactly into 2x2
    windows), so its first maximum is the original's last; the indices are rotated back."""
    correct = conv.max_pool_forward

    def max_pool(X, *, kernel_size, stride=None, padding=0):
        out, (shape, geometry, padded, index) = correct(X[:, :, ::-1, ::-1], kernel_size=kernel_size, stride=stride,
                                                        padding=padding)
        rows, cols = np.divmod(index, padded[1])
        plane, rows = np.divmod(rows, padded[0])
        mirrored = (plane * padded[0] + padded[0] - 1 - rows) * padded[1] + padded[1] - 1 - cols
        return out[:, :, ::-1, ::-1], (shape, geometry, padded, mirrored[:, :, ::-1, ::-1])

    mp.setattr(conv, "max_pool_forward", max_pool)


def flatten_channels_last(mp: pytest.MonkeyPatch) -> None:
    """Flatten in (h, w, c) order (TensorFlow's) while torch's nn.Flatten uses (c, h, w): W3 reads other pixels."""
    mp.setattr(conv, "images_to_columns", lambda A: A.transpose(0, 2, 3, 1).reshape(A.shape[0], -1).T)
    mp.setattr(conv, "columns_to_images", lambda dA, shape: np.ascontiguousarray(
        dA.T.reshape(shape[0], shape[2], shape[3], shape[1]).transpose(0, 3, 1, 2)))


def residual_gradient_skips_the_identity(mp: pytest.MonkeyPatch) -> None:
    """The block's backward returns only the convolutions' input gradient, not the identity path's dS."""
    correct = conv.basic_block_backward

    def backward(dout, cache, *, training):
        dX, grads = correct(dout, cache, training=training)
        S = cache[-1]
        return dX - dout * (S > 0), grads

    mp.setattr(conv, "basic_block_backward", backward)


def avg_pool_backward_divides_by_kernel_side(mp: pytest.MonkeyPatch) -> None:
    """Average-pool backward divides by k instead of k^2 (the window's element count)."""
    correct = conv.avg_pool_backward
    mp.setattr(conv, "avg_pool_backward", lambda dout, cache: correct(dout, cache) * cache[2][0])


MUTANTS = [
    Mutant("lr: dW not divided by m", LR, dw_not_divided_by_m, "grad.w"),
    Mutant("lr: db not divided by m", LR, db_not_divided_by_m, "grad.b"),
    Mutant("lr: dZ = Y - A (sign)", LR, dz_sign_flipped, "grad."),
    Mutant("lr: sigmoid derivative applied twice", LR, sigmoid_derivative_applied_twice, "grad."),
    Mutant("lr: sigmoid 1/(1+e^z)", LR, sigmoid_sign_error, "grad."),
    Mutant("lr: epsilon inside the log", LR, epsilon_inside_the_log, "loss"),
    Mutant("lr: cost summed, not averaged", LR, cost_summed_not_averaged, "loss"),
    Mutant("lr: bias never updated", LR, bias_never_updated, "param.b"),
    Mutant("lr: float32 inside a float64 run", LR, computed_in_float32, "grad."),
    Mutant("lr loop: range(m - 1)", LR_LOOP, loop_skips_the_last_example, "grad."),
    # deep net: backward-pass bugs show in step 0's gradients
    Mutant("deep: dW not divided by m", "deep_net/relu_depth4", deep_dw_not_divided_by_m, "grad.W", **DEEP),
    Mutant("deep: 1/m applied twice", "deep_net/relu_depth4", deep_one_over_m_twice, "grad.", **DEEP),
    Mutant("deep: cache index off by one", "deep_net/relu_depth4", deep_cache_index_off_by_one, "grad.", **DEEP),
    # Only deep_net/relu_kinks hits Z = 0 exactly (blank examples, zero biases: see its problem); the
    # difference is in db alone, since a blank example contributes nothing to dW = dZ A_prev^T.
    Mutant("deep: ReLU'(z) uses z >= 0", "deep_net/relu_kinks", relu_derivative_ge, "grad.b", clean="grad.W",
           **DEEP),
    Mutant("deep: tanh'(z) = 1 - z^2", "deep_net/tanh_depth4", tanh_derivative_of_z, "grad.", **DEEP),
    Mutant("deep: leaky ReLU' without slope", "deep_net/leaky_relu_depth4", leaky_relu_derivative_without_slope,
           "grad.", **DEEP),
    # optimizers: step 0's gradients agree, step 0's update does not
    Mutant("optim: Adam without bias correction", "optim/adam", _patch_core("adam_step", _adam,
           "no bias correction"), "param.", **OPTIM),
    Mutant("optim: Adam eps inside the square root", "optim/adam", _patch_core("adam_step", _adam,
           "eps inside the square root"), "param.", **OPTIM),
    Mutant("optim: AdamW decays after the step", "optim/adamw", _patch_core("adam_step", _adam,
           "decay after the step"), "param.", **OPTIM),
    Mutant("optim: RMSprop eps inside the square root", "optim/rmsprop", rmsprop_eps_inside_the_square_root,
           "param.", **OPTIM),
    Mutant("optim: momentum buffer seeded with zeros", "optim/sgd_momentum_dampening",
           _patch_core("sgd_step", _sgd, "zero seed"), "state.", **OPTIM),
    # the seed is right, so the buffers part at step 1's recursion
    Mutant("optim: momentum dampening ignored", "optim/sgd_momentum_dampening",
           _patch_core("sgd_step", _sgd, "dampening ignored"), "state.", step=1, **OPTIM),
    Mutant("optim: Nesterov steps along the buffer", "optim/sgd_nesterov",
           _patch_core("sgd_step", _sgd, "nesterov uses the buffer"), "param.", **OPTIM),
    Mutant("optim: Adagrad lr_decay counts t from 1", "optim/adagrad_lr_decay", adagrad_decay_counts_from_one,
           "param.", **OPTIM),
    # regularization
    Mutant("reg: dropout not inverted", "regularization/dropout", dropout_not_inverted, "loss", **REG),
    Mutant("reg: dropout mask missing in backward", "regularization/dropout", dropout_mask_missing_in_backward,
           "grad.", clean="loss", **REG),
    Mutant("reg: L2 gradient term missing", "regularization/l2_penalty", l2_gradient_missing, "grad.W", clean="loss",
           **REG),
    Mutant("reg: L2 gradient lambda/(2m) W", "regularization/l2_penalty", l2_gradient_halved, "grad.W", clean="loss",
           **REG),
    # softmax: the unshifted exp overflows to inf, inf / inf = NaN, and the harness names the divergence
    Mutant("softmax: no max shift (large logits)", "softmax/large_logits", softmax_without_max_shift, DIVERGED,
           steps=5),
    Mutant("softmax: normalized over the examples", "softmax/digits", softmax_over_the_examples, "grad.",
           steps=5),
    # normalization, augmentation
    Mutant("norm: sample std (ddof=1)", "normalization/features", sample_std, "state.input.std",
           steps=5),
    # the training inputs come out the same; only the held-out set's normalized mean (exactly 0) tells
    Mutant("norm: statistics fitted on the dev set", "normalization/features", fitted_on_the_set_it_normalizes,
           "state.input.dev_mean", clean="grad.", steps=5),
    Mutant("aug: vertical instead of horizontal flip", "augmentation/flip_crop", vertical_flip, "grad.",
           steps=5),
    Mutant("aug: crop offsets swapped", "augmentation/flip_crop", crop_offsets_swapped, "grad.",
           steps=5),
    # recurrent networks: forward bugs show in step 0's loss, backward bugs in step 0's gradients
    Mutant("rnn: LSTM forget-gate bias applied twice", "rnn/lstm_chars", lstm_forget_gate_bias_twice, "loss", **RNN),
    Mutant("rnn: GRU b_hn outside the reset product", "rnn/gru_chars", gru_b_hn_outside_the_reset_product, "loss",
           **RNN),
    Mutant("rnn: GRU update gate mirrored", "rnn/gru_adding", gru_update_gate_mirrored, "loss", **RNN),
    Mutant("rnn: BPTT gradient not summed over time", "rnn/lstm_chars", bptt_gradient_not_accumulated, "grad.",
           clean="loss", **RNN),
    # chunk 0 is the same; from chunk 1 on the gradient (and the re-run forward) reach back into chunk 0
    Mutant("rnn: hidden state not detached between chunks", "rnn/lstm_tbptt", hidden_state_not_detached, "grad.",
           step=1, **RNN),
    Mutant("clip: each array clipped by its own norm", "rnn/lstm_chars", clipping_per_array, "grad.", clean="loss",
           **RNN),
    Mutant("clip: coefficient max_norm / N without 1e-6", "rnn/gru_chars", clip_coefficient_without_epsilon,
           "grad.", clean="loss", **RNN),
    Mutant("optim: NAdam without momentum decay", "optim/nadam", nadam_momentum_decay_missing, "param.", **OPTIM),
    Mutant("optim: RAdam rectifies from rho_t > 4", "optim/radam", radam_threshold_off, "param.",
           step=_radam_first_step_past(4.0), steps=8, clean="grad."),
    Mutant("optim: Adadelta eps outside the square roots", "optim/adadelta_weight_decay",
           adadelta_eps_outside_the_square_root, "param.", **OPTIM),
    # at step 0 SGD's buffer is the gradient whatever the momentum; the cycled momentum acts from step 1
    Mutant("sched: OneCycleLR leaves the momentum alone", "optim/onecyclelr", onecycle_momentum_not_cycled,
           "param.", step=1, **OPTIM),
    Mutant("bn: running variance biased (var_sum / N)", "batchnorm/before_relu", bn_running_variance_biased,
           "state.bn1.running_var", clean="grad.", steps=5),
    Mutant("bn: momentum weights the old statistic", "batchnorm/before_relu", bn_momentum_weights_the_old_statistic,
           "state.bn1.running_mean", clean="grad.", steps=5),
    Mutant("bn: normalizes with the unbiased variance", "batchnorm/before_relu", bn_normalizes_with_unbiased_variance,
           "loss", steps=5),
    Mutant("bn: backward missing the mean term", "batchnorm/before_relu", bn_backward_missing_mean_term, "grad.W",
           clean="loss", steps=5),
    Mutant("bn: backward missing the variance term", "batchnorm/after_relu", bn_backward_missing_variance_term,
           "grad.", clean="loss", steps=5),
    Mutant("bn: eval mode uses batch statistics", "batchnorm/train_then_eval", bn_eval_mode_uses_batch_statistics,
           "state.dev.logits", clean="grad.", steps=5),
    Mutant("conv: kernel not flipped in the input gradient", "conv/lenet_im2col", conv_kernel_not_flipped, "grad.W1",
           clean="loss", steps=5),
    Mutant("conv: input gradient padded by p, not d(k-1)", "conv/lenet_im2col",
           conv_input_gradient_padded_like_the_forward, "grad.W1", clean="loss", steps=5),
    Mutant("conv: col2im assigns instead of adding", "conv/lenet_sgd", col2im_overwrites, "grad.W1", clean="loss",
           steps=5),
    Mutant("conv: col2im ignores the stride", "conv/lenet_strided", col2im_ignores_the_stride, "grad.W1",
           clean="loss", steps=5),
    Mutant("conv: max-pool ties to the last maximum", "conv/lenet_pool_ties", max_pool_ties_to_the_last_maximum,
           "grad.W1", clean="loss", steps=5),
    Mutant("conv: flatten in (h, w, c) order", "conv/lenet_sgd", flatten_channels_last, "loss", steps=5),
    Mutant("conv: residual backward skips the identity", "conv/resnet_block", residual_gradient_skips_the_identity,
           "grad.W1", clean="loss", steps=5),
    Mutant("conv: avg-pool backward divides by k, not k^2", "conv/resnet_block",
           avg_pool_backward_divides_by_kernel_side, "grad.", clean="loss", steps=5),
]


def first_divergence(run: CaseRun) -> tuple[int, set[str]] | None:
    """The first step at which anything is out of tolerance, and what: ``"loss"`` and/or observation keys
    (non-finite values count as out of tolerance). Each array is scaled as the parity measure scales it,
    by ``max|torch|`` over the whole run, so a key named here is one the parity verdict counts."""
    tol = run.parity.tolerance
    scratch_out, torch_out = run.scratch, run.torch
    steps = min(len(scratch_out.losses), len(torch_out.losses))
    loss_scale = max(abs(v) for v in torch_out.losses[:steps]) or 1.0
    keys = set().union(*(arrays.keys() for arrays in torch_out.snapshots.values()))
    scale = {k: float(max(np.max(np.abs(a[k])) for a in torch_out.snapshots.values())) or 1.0 for k in keys}
    for step in range(steps):
        failing = set()
        if not abs(scratch_out.losses[step] - torch_out.losses[step]) <= tol * loss_scale:
            failing.add("loss")
        if step in scratch_out.snapshots and step in torch_out.snapshots:
            a, b = scratch_out.snapshots[step], torch_out.snapshots[step]
            failing |= {k for k in keys if not np.max(np.abs(a[k] - b[k])) <= tol * scale[k]}
        if failing:
            return step, failing
    return None


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_the_harness_catches_the_mutant(mutant: Mutant, monkeypatch: pytest.MonkeyPatch) -> None:
    (case,) = select([mutant.case])
    mutant.patch(monkeypatch)
    run = run_case(case, seed=0, steps=mutant.steps)
    assert not run.parity.passed, f"mutant survived: {run.parity.summary()}"
    if mutant.expect == DIVERGED:
        assert run.parity.problems == [f"scratch diverged at step {mutant.step}"], run.parity.summary()
        return
    divergence = first_divergence(run)
    assert divergence is not None, f"the verdict failed but no step is out of tolerance: {run.parity.summary()}"
    step, keys = divergence
    assert step == mutant.step and any(key.startswith(mutant.expect) for key in keys), (
        f"caught for another reason: first divergence at step {step} in {sorted(keys)}, expected step "
        f"{mutant.step} in {mutant.expect}*")
    if mutant.clean:
        assert not any(key.startswith(mutant.clean) for key in keys), (
            f"{mutant.clean}* should still agree at step {step}, but {sorted(keys)} diverged")


@pytest.mark.parametrize("case_name", sorted({m.case for m in MUTANTS}))
def test_the_unmutated_cases_pass(case_name: str) -> None:
    """The control: without a mutant the same runs pass, so a failure above is the bug's doing."""
    (case,) = select([case_name])
    run = run_case(case, seed=0, steps=max(m.steps for m in MUTANTS if m.case == case_name))
    assert run.parity.passed, run.parity.summary()
    assert first_divergence(run) is None


def test_relu_kinks_case_hits_exact_zeros() -> None:
    """The ReLU >= mutant is only catchable where some Z is exactly 0; this keeps its case honest."""
    (case,) = select(["deep_net/relu_kinks"])
    problem = case.make_problem(0, np.dtype("float64"))
    _, caches = dn.L_model_logits(problem.data["X"], problem.params, hidden_activation="relu")
    assert all((Z == 0).any() for _, Z in caches[:-1])


def test_every_mutant_names_a_registered_case() -> None:
    registered = {case.name for case in all_cases()}
    assert {m.case for m in MUTANTS} <= registered
    assert len(MUTANTS) >= 58
