"""The catalogue of common-bug signatures, recognised from the numbers a function returned.

Two kinds of evidence:

- **patterns** on a wrong output against the expected one (ratio constant and equal to ``m``, ``1/m``, -1
  or another number; transposed; a ``(n,)`` where ``(n, 1)`` belongs; wrong only where ``Z == 0``; equal to
  the expected values truncated to integers);
- **hypotheses**: the function's catalogue entry names what a specific bug would return (computed with
  torch), and a failing function whose numbers match one of them on every input gets that diagnosis.

A diagnosis is given only when its evidence holds on every failing input; the evidence is stated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: id -> (title, advice). Titles name the bug as a learner would say it.
CATALOGUE: dict[str, tuple[str, str]] = {
    "missing_1_over_m": ("the 1/m average is missing", "divide the sum over examples by m"),
    "extra_1_over_m": ("divided by m once too often", "only dW, db (and the cost) are averaged over m"),
    "sign_flipped": ("sign flipped", "check the sign of the formula (cost, dZ, or the update direction)"),
    "constant_factor": ("off by a constant factor", "a scale (2, 0.5, a learning rate, a sqrt) is wrong"),
    "transposed": ("transposed", "the result has the right numbers in the transposed shape: check .T"),
    "keepdims_missing": ("a (n, 1) column lost its second axis",
                         "use np.sum(..., axis=1, keepdims=True) so db keeps shape (n, 1)"),
    "wrong_shape": ("wrong shape", "compare your shapes with the course's (examples are columns)"),
    "relu_grad_at_zero": ("relu'(0) taken as 1", "relu's derivative at Z == 0 is 0: use Z > 0, not Z >= 0"),
    "integer_truncation": ("integer inputs truncated", "convert to float (np.zeros_like of an int array is int)"),
    "sigmoid_derivative_of_input": ("sigmoid' applied to x instead of sigmoid(x)",
                                    "s = sigmoid(x); ds = s * (1 - s)"),
    "wrong_axis": ("computed over the wrong axis", "rows: axis=1 with keepdims=True"),
    "wrong_activation": ("wrong activation", "hidden layers use the assignment's activation (relu or tanh)"),
    "wrong_activation_derivative": ("derivative of the wrong activation",
                                    "use the derivative of the activation this layer applied"),
    "tanh_derivative_from_Z": ("tanh' computed from Z instead of A", "dZ1 = W2.T @ dZ2 * (1 - A1**2), with A1"),
    "sigmoid_prime_on_fused": ("sigmoid' applied on top of dZL = AL - Y",
                               "AL - Y already includes the sigmoid's derivative"),
    "cache_off_by_one": ("cache indexed off by one layer",
                         "in the loop over l in reversed(range(L - 1)), layer l + 1's cache is caches[l]"),
    "gradient_ascent": ("parameters move up the gradient", "W = W - learning_rate * dW"),
    "threshold_inclusive": ("0.5 counted as class 1", "the course predicts 1 only where A > 0.5"),
    "not_seeded": ("not the course's seeded draws", "call np.random.seed(...) inside, as the notebook does"),
    "he_fan_out": ("He scaling with the layer's own size", "std = sqrt(2 / layers_dims[l - 1]) (fan-in)"),
    "l2_missing": ("L2 term missing", "add lambd / m * W (gradient) or lambd / (2 m) * sum W^2 (cost)"),
    "l2_half": ("L2 gradient uses lambd / (2 m)", "the derivative of lambd / (2 m) W^2 is lambd / m * W"),
    "l2_double": ("L2 cost uses lambd / m", "the cost's term is lambd / (2 m) * sum ||W||^2"),
    "l2_on_biases": ("biases regularized", "only the weights W are regularized"),
    "dropout_not_inverted": ("dropout not inverted", "divide the masked activations by keep_prob"),
    "dropout_mask_inverted": ("mask keeps units with probability 1 - keep_prob", "D = np.random.rand(...) < keep_prob"),
    "dropout_mask_randn": ("mask drawn with randn", "use np.random.rand (uniform in [0, 1)) for the mask"),
    "dropout_no_mask_backward": ("mask not applied in backward", "dA = dA * D / keep_prob in backward as well"),
    "dropout_no_scale_backward": ("backward not divided by keep_prob", "dA = dA * D / keep_prob in backward"),
    "adam_no_bias_correction": ("Adam without bias correction", "v_corrected = v / (1 - beta1**t), same for s"),
    "adam_eps_inside_sqrt": ("epsilon inside the square root", "denominator np.sqrt(s_corrected) + epsilon"),
    "adam_t_off_by_one": ("bias correction with t + 1", "t counts updates from 1: use beta**t as given"),
    "momentum_no_dampening": ("momentum as beta v + dW", "the course averages: v = beta v + (1 - beta) dW"),
    "minibatch_last_dropped": ("last partial mini-batch dropped", "keep the m % mini_batch_size leftover batch"),
    "minibatch_y_not_shuffled": ("Y not shuffled with X", "index Y with the same permutation as X"),
    "lr_decay_not_floored": ("decay not stepped", "use np.floor(epoch_num / time_interval)"),
    "gradcheck_one_sided": ("one-sided difference (J_plus - J) / epsilon",
                            "centred: (J_plus - J_minus) / (2 * epsilon), with J_minus at theta - epsilon"),
    "gradcheck_eps_not_doubled": ("divided by epsilon, not 2 epsilon",
                                  "theta + epsilon and theta - epsilon are 2 epsilon apart: divide by 2 * epsilon"),
    "gradcheck_no_copy": ("theta_plus / theta_minus not copied",
                          "theta_plus = np.copy(parameters_values): without the copy every + or - epsilon stays"),
    "gradcheck_no_denominator": ("difference not divided by norm(grad) + norm(gradapprox)",
                                 "difference = numerator / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))"),
    "gradcheck_denominator_norm_of_sum": ("denominator norm(grad + gradapprox)",
                                          "the denominator is the sum of the two norms, not the norm of the sum"),
    "gradcheck_key_order": ("flattened in the wrong key order",
                            "stack W1, b1, W2, b2, W3, b3 (dW1, db1, ...): the order vector_to_dictionary reads back"),
    "gradcheck_column_major": ("arrays raveled column by column",
                               "np.reshape(W, (-1, 1)) goes row by row; use the same order both ways"),
    "raised": ("raised an exception", "see the traceback"),
    "wrong_signature": ("cannot be called with the course's arguments", "use the course's parameter list"),
    "timeout": ("did not return within the time limit", "look for a loop that never ends"),
    "wrong_return": ("returned the wrong kind of value", "return what the course's docstring says"),
}


@dataclass(frozen=True)
class Diagnosis:
    id: str
    evidence: str

    @property
    def title(self) -> str:
        return CATALOGUE[self.id][0]

    @property
    def advice(self) -> str:
        return CATALOGUE[self.id][1]


def _ratio(got: np.ndarray, expected: np.ndarray) -> float | None:
    """The common ratio got/expected over the entries where expected is not ~0, if there is one."""
    scale = np.max(np.abs(expected)) if expected.size else 0.0
    where = np.abs(expected) > 1e-9 * max(scale, 1e-300)
    if not where.any() or not np.allclose(got[~where], 0, atol=1e-9 * max(scale, 1.0)):
        return None
    ratios = got[where] / expected[where]
    first = ratios.flat[0]
    if first == 0 or not np.allclose(ratios, first, rtol=1e-6, atol=0):
        return None
    return float(first)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def pattern(got: object, expected: np.ndarray, m: int | None, zeros_of_Z: np.ndarray | None = None,
            integer_inputs: bool = False) -> Diagnosis | None:
    """A known signature of one wrong output against the expected one, with its evidence."""
    expected = np.asarray(expected, dtype=float)
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None
    if got.shape != expected.shape:
        if got.shape == expected.T.shape and expected.ndim == 2 and np.allclose(got, expected.T, rtol=1e-7):
            return Diagnosis("transposed", f"shape {got.shape} instead of {expected.shape}, equal to the expected .T")
        if expected.ndim == 2 and expected.shape[1] == 1 and got.shape == expected.shape[:1]:
            return Diagnosis("keepdims_missing", f"shape {got.shape} instead of {expected.shape}")
        return Diagnosis("wrong_shape", f"shape {got.shape} instead of {expected.shape}")
    if integer_inputs and np.array_equal(got, np.trunc(expected)):
        return Diagnosis("integer_truncation", "the inputs were integers and every value equals the expected one "
                                               "rounded toward zero")
    if zeros_of_Z is not None and zeros_of_Z.shape == got.shape:
        wrong = ~np.isclose(got, expected, rtol=1e-7, atol=1e-9)
        if wrong.any() and (zeros_of_Z[wrong]).all():
            return Diagnosis("relu_grad_at_zero", f"the {int(wrong.sum())} wrong entries are exactly where Z == 0")
    ratio = _ratio(got, expected)
    if ratio is None:
        return None
    if np.isclose(ratio, -1.0, rtol=1e-9):
        return Diagnosis("sign_flipped", "got = -expected on every entry")
    if m is not None and m > 1 and np.isclose(ratio, m, rtol=1e-9):
        return Diagnosis("missing_1_over_m", f"ratio got/expected = {_fmt(ratio)} = m on every entry")
    if m is not None and m > 1 and np.isclose(ratio, 1 / m, rtol=1e-9):
        return Diagnosis("extra_1_over_m", f"ratio got/expected = {_fmt(ratio)} = 1/m on every entry")
    return Diagnosis("constant_factor", f"ratio got/expected = {_fmt(ratio)} on every entry")


def combine(per_case: list[Diagnosis | None]) -> Diagnosis | None:
    """One diagnosis when every failing input shows the same signature (the evidence of the first)."""
    if not per_case or any(d is None for d in per_case):
        return None
    ids = {d.id for d in per_case}
    if len(ids) != 1:
        return None
    if ids == {"constant_factor"} and len({d.evidence for d in per_case}) != 1:
        return None
    first = per_case[0]
    suffix = f" (on all {len(per_case)} failing inputs)" if len(per_case) > 1 else ""
    return Diagnosis(first.id, first.evidence + suffix)
