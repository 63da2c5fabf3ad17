"""The gallery: realistic bugs, each one mistake in an otherwise correct solution of this folder.

A bug is a text edit of a correct solution (``c1w2.py`` ... ``c2w2.py``): each ``(old, new)`` pair must
occur exactly once. Several pairs are one mistake made consistently (``+`` instead of ``-`` in every
update line). ``function`` must fail and ``diagnosis`` must be the checker's diagnosis. A training
function's bug (``diagnosis`` :data:`TRAJECTORIES_PART`) must make its whole-training check part from
torch's: in the configuration ``run`` (a course-2 ``model``'s label) and in no other.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The verdict of a whole-training check that fails: the trajectories part from torch's.
TRAJECTORIES_PART = "trajectories_part"


@dataclass(frozen=True)
class Bug:
    id: str
    solution: str
    function: str
    diagnosis: str
    edits: tuple[tuple[str, str], ...]
    description: str
    run: str = ""


BUGS = [
    # --- course 1, week 2 ----------------------------------------------------------------------------
    Bug("sigmoid_int_truncation", "c1w2", "sigmoid", "integer_truncation",
        (("    return 1 / (1 + np.exp(-x))",
          "    s = np.zeros_like(x)\n    s[...] = 1 / (1 + np.exp(-x))\n    return s"),),
        "the result array is made with zeros_like(x): an integer x gives an integer result"),
    Bug("sigmoid_derivative_of_x", "c1w2", "sigmoid_derivative", "sigmoid_derivative_of_input",
        (("    ds = s * (1 - s)", "    ds = x * (1 - x)"),), "s(1 - s) written with x"),
    Bug("softmax_axis0", "c1w2", "softmax", "wrong_axis",
        (("    x_sum = np.sum(x_exp, axis=1, keepdims=True)", "    x_sum = np.sum(x_exp, axis=0, keepdims=True)"),),
        "sums the columns"),
    Bug("normalize_columns", "c1w2", "normalizeRows", "wrong_axis",
        (("ord=2, axis=1, keepdims=True", "ord=2, axis=0, keepdims=True"),), "norms of the columns"),
    Bug("image2vector_row", "c1w2", "image2vector", "transposed",
        (("    v = image.reshape(image.shape[0] * image.shape[1] * image.shape[2], 1)",
          "    v = image.reshape(1, image.shape[0] * image.shape[1] * image.shape[2])"),), "a row, not a column"),
    Bug("L1_mean", "c1w2", "L1", "extra_1_over_m",
        (("    loss = np.sum(np.abs(y - yhat))", "    loss = np.mean(np.abs(y - yhat))"),), "a mean, not a sum"),
    Bug("propagate_dw_not_averaged", "c1w2", "propagate", "missing_1_over_m",
        (("    dw = rows.T @ dZ / m", "    dw = rows.T @ dZ"),), "dw without 1/m"),
    Bug("propagate_cost_sign", "c1w2", "propagate", "sign_flipped",
        (("    cost = -np.sum(", "    cost = np.sum("),), "the cost's minus sign dropped"),
    Bug("optimize_ascent", "c1w2", "optimize", "gradient_ascent",
        (("        w = w - learning_rate * dw", "        w = w + learning_rate * dw"),
         ("        b = b - learning_rate * db", "        b = b + learning_rate * db")), "+ in the update"),
    Bug("predict_inclusive", "c1w2", "predict", "threshold_inclusive",
        (("        if A[0, i] > 0.5:", "        if A[0, i] >= 0.5:"),), ">= 0.5"),
    # --- course 1, week 3 ----------------------------------------------------------------------------
    Bug("forward_sigmoid_hidden", "c1w3", "forward_propagation", "wrong_activation",
        (("    A1 = np.tanh(Z1)", "    A1 = sigmoid(Z1)"),), "sigmoid in the hidden layer"),
    Bug("cost_sum", "c1w3", "compute_cost", "missing_1_over_m",
        (("    cost = -np.sum(logprobs) / m", "    cost = -np.sum(logprobs)"),), "the cost is not averaged"),
    Bug("tanh_prime_of_Z", "c1w3", "backward_propagation", "tanh_derivative_from_Z",
        (("(1 - np.power(A1, 2))", "(1 - np.power(cache[\"Z1\"], 2))"),), "1 - Z1^2"),
    Bug("db1_no_keepdims", "c1w3", "backward_propagation", "keepdims_missing",
        (("    db1 = np.sum(dZ1, axis=1, keepdims=True) / m", "    db1 = np.sum(dZ1, axis=1) / m"),),
        "db1 of shape (n_h,)"),
    Bug("sigmoid_prime_twice_shallow", "c1w3", "backward_propagation", "sigmoid_prime_on_fused",
        (("    dZ2 = A2 - Y", "    dZ2 = (A2 - Y) * A2 * (1 - A2)"),), "sigmoid' on top of A2 - Y"),
    Bug("update_ascent_shallow", "c1w3", "update_parameters", "gradient_ascent",
        tuple((f'parameters["{p}"] - learning_rate', f'parameters["{p}"] + learning_rate')
              for p in ("W1", "b1", "W2", "b2")), "+ in every update line"),
    # --- course 1, week 4 ----------------------------------------------------------------------------
    Bug("init_deep_unseeded", "c1w4", "initialize_parameters_deep", "not_seeded",
        (("def initialize_parameters_deep(layer_dims):\n    np.random.seed(3)\n",
          "def initialize_parameters_deep(layer_dims):\n"),), "np.random.seed(3) forgotten"),
    Bug("forward_all_sigmoid", "c1w4", "L_model_forward", "wrong_activation",
        (('parameters["b" + str(l)], "relu")', 'parameters["b" + str(l)], "sigmoid")'),), "sigmoid in hidden layers"),
    Bug("dW_not_averaged", "c1w4", "linear_backward", "missing_1_over_m",
        (("    dW = 1 / m * np.dot(dZ, A_prev.T)", "    dW = np.dot(dZ, A_prev.T)"),), "dW without 1/m"),
    Bug("dA_prev_averaged", "c1w4", "linear_backward", "extra_1_over_m",
        (("    dA_prev = np.dot(W.T, dZ)", "    dA_prev = 1 / m * np.dot(W.T, dZ)"),), "dA_prev divided by m"),
    Bug("db_no_keepdims", "c1w4", "linear_backward", "keepdims_missing",
        (("    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)", "    db = 1 / m * np.sum(dZ, axis=1)"),),
        "db of shape (n,)"),
    Bug("relu_branch_uses_sigmoid", "c1w4", "linear_activation_backward", "wrong_activation_derivative",
        (("        dZ = relu_backward(dA, activation_cache)", "        dZ = sigmoid_backward(dA, activation_cache)"),),
        "the relu branch calls sigmoid_backward"),
    Bug("relu_grad_at_zero", "c1w4", "relu_backward", "relu_grad_at_zero",
        (("    dZ[Z <= 0] = 0", "    dZ[Z < 0] = 0"),), "relu'(0) = 1"),
    Bug("dAL_fused_then_sigmoid", "c1w4", "L_model_backward", "sigmoid_prime_on_fused",
        (("    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))", "    dAL = AL - Y"),),
        "dAL = AL - Y, then sigmoid_backward multiplies by sigmoid' again"),
    Bug("dAL_sign", "c1w4", "L_model_backward", "sign_flipped",
        (("    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))",
          "    dAL = np.divide(Y, AL) - np.divide(1 - Y, 1 - AL)"),), "dAL's minus sign dropped"),
    Bug("cache_off_by_one", "c1w4", "L_model_backward", "cache_off_by_one",
        (("        current_cache = caches[l]\n", "        current_cache = caches[l + 1]\n"),),
        "the hidden layers' loop reads the next layer's cache (raises where widths differ)"),
    Bug("update_ascent_deep", "c1w4", "update_parameters", "gradient_ascent",
        tuple((f'parameters["{p}" + str(l + 1)] - learning_rate', f'parameters["{p}" + str(l + 1)] + learning_rate')
              for p in "Wb"), "+ in the update"),
    # --- course 2, week 1 ----------------------------------------------------------------------------
    Bug("he_fan_out", "c2w1", "initialize_parameters_he", "he_fan_out",
        (("np.sqrt(2.0 / layers_dims[l - 1])", "np.sqrt(2.0 / layers_dims[l])"),), "scaled by the layer's own size"),
    Bug("he_as_xavier", "c2w1", "initialize_parameters_he", "constant_factor",
        (("np.sqrt(2.0 / layers_dims[l - 1])", "np.sqrt(1.0 / layers_dims[l - 1])"),), "sqrt(1/n) (Xavier's)"),
    Bug("l2_cost_lambda_over_m", "c2w1", "compute_cost_with_regularization", "l2_double",
        (("    L2_regularization_cost = lambd / (2 * m) *", "    L2_regularization_cost = lambd / m *"),),
        "lambd / m in the cost"),
    Bug("l2_cost_all_parameters", "c2w1", "compute_cost_with_regularization", "l2_on_biases",
        (("(np.sum(np.square(W1)) + np.sum(np.square(W2)) + np.sum(np.square(W3)))",
          "sum(np.sum(np.square(p)) for p in parameters.values())"),), "every parameter, biases too"),
    Bug("l2_grad_half", "c2w1", "backward_propagation_with_regularization", "l2_half",
        tuple((f"+ lambd / m * W{k}", f"+ lambd / (2 * m) * W{k}") for k in (1, 2, 3)), "lambd / (2m) W"),
    Bug("l2_grad_missing", "c2w1", "backward_propagation_with_regularization", "l2_missing",
        tuple((f" + lambd / m * W{k}", "") for k in (1, 2, 3)), "the L2 term left out of dW"),
    Bug("relu_prime_ge", "c2w1", "backward_propagation_with_regularization", "relu_grad_at_zero",
        (("    dZ2 = np.multiply(dA2, np.int64(A2 > 0))\n    dW2 = 1.0 / m * np.dot(dZ2, A1.T) + lambd",
          "    dZ2 = np.multiply(dA2, np.int64(Z2 >= 0))\n    dW2 = 1.0 / m * np.dot(dZ2, A1.T) + lambd"),),
        "Z2 >= 0"),
    Bug("dropout_not_inverted", "c2w1", "forward_propagation_with_dropout", "dropout_not_inverted",
        (("    A1 = A1 / keep_prob\n", ""), ("    A2 = A2 / keep_prob\n", "")), "no division by keep_prob"),
    Bug("dropout_mask_gt", "c2w1", "forward_propagation_with_dropout", "dropout_mask_inverted",
        (("(D1 < keep_prob)", "(D1 > keep_prob)"), ("(D2 < keep_prob)", "(D2 > keep_prob)")), "rand > keep_prob"),
    Bug("dropout_mask_randn", "c2w1", "forward_propagation_with_dropout", "dropout_mask_randn",
        (("    D1 = np.random.rand(", "    D1 = np.random.randn("),
         ("    D2 = np.random.rand(", "    D2 = np.random.randn(")),
        "normal, not uniform, draws for the mask"),
    Bug("dropout_backward_no_mask", "c2w1", "backward_propagation_with_dropout", "dropout_no_mask_backward",
        (("    dA2 = dA2 * D2\n", ""), ("    dA1 = dA1 * D1\n", "")), "masks not applied in backward"),
    Bug("dropout_backward_no_scale", "c2w1", "backward_propagation_with_dropout", "dropout_no_scale_backward",
        (("    dA2 = dA2 / keep_prob\n", ""), ("    dA1 = dA1 / keep_prob\n", "")), "no / keep_prob in backward"),
    Bug("gradcheck_1d_eps_not_doubled", "c2w1", "gradient_check", "gradcheck_eps_not_doubled",
        (("    gradapprox = (J_plus - J_minus) / (2 * epsilon)", "    gradapprox = (J_plus - J_minus) / epsilon"),),
        "the centred difference divided by epsilon"),
    Bug("gradcheck_1d_not_relative", "c2w1", "gradient_check", "gradcheck_no_denominator",
        (("    grad = backward_propagation(x, theta)\n    numerator = np.linalg.norm(grad - gradapprox)\n"
          "    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)\n"
          "    difference = numerator / denominator",
          "    grad = backward_propagation(x, theta)\n    numerator = np.linalg.norm(grad - gradapprox)\n"
          "    difference = numerator"),), "the absolute difference, not the relative one"),
    Bug("forward_n_cost_sum", "c2w1", "forward_propagation_n", "missing_1_over_m",
        (("    cost = 1. / m * np.sum(log_probs)", "    cost = np.sum(log_probs)"),), "the cost is not averaged"),
    Bug("backward_n_planted_dW2", "c2w1", "backward_propagation_n", "constant_factor",
        (("    dW2 = 1. / m * np.dot(dZ2, A1.T)", "    dW2 = 1. / m * np.dot(dZ2, A1.T) * 2"),),
        "the notebook's planted bug left in: dW2 doubled"),
    Bug("dictionary_to_vector_dict_order", "c2w1", "dictionary_to_vector", "gradcheck_key_order",
        (('    for key in ["W1", "b1", "W2", "b2", "W3", "b3"]:', "    for key in parameters:"),),
        "walks the dict's own order"),
    Bug("vector_to_dictionary_fortran", "c2w1", "vector_to_dictionary", "gradcheck_column_major",
        (('theta[: 20].reshape((5, 4))', 'theta[: 20].reshape((5, 4), order="F")'),
         ('theta[25: 40].reshape((3, 5))', 'theta[25: 40].reshape((3, 5), order="F")')),
        "the weight matrices filled column by column"),
    Bug("gradients_to_vector_dict_order", "c2w1", "gradients_to_vector", "gradcheck_key_order",
        (('    for key in ["dW1", "db1", "dW2", "db2", "dW3", "db3"]:',
          '    for key in [k for k in gradients if k[1] in "Wb"]:'),),
        "the gradients' own order (dW3, db3, dW2, ...: backward order)"),
    Bug("gradcheck_one_sided", "c2w1", "gradient_check_n", "gradcheck_one_sided",
        (("    for i in range(num_parameters):\n        theta_plus",
          "    J, _ = forward_propagation_n(X, Y, parameters)\n"
          "    for i in range(num_parameters):\n        theta_plus"),
         ("        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)",
          "        gradapprox[i] = (J_plus[i] - J) / epsilon")),
        "a forward difference from J at theta"),
    Bug("gradcheck_n_eps_not_doubled", "c2w1", "gradient_check_n", "gradcheck_eps_not_doubled",
        (("        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)",
          "        gradapprox[i] = (J_plus[i] - J_minus[i]) / epsilon"),), "divided by epsilon"),
    Bug("gradcheck_no_copy", "c2w1", "gradient_check_n", "gradcheck_no_copy",
        (("        theta_plus = np.copy(parameters_values)", "        theta_plus = parameters_values"),),
        "theta_plus is parameters_values itself: every + epsilon stays"),
    Bug("gradcheck_norm_of_sum", "c2w1", "gradient_check_n", "gradcheck_denominator_norm_of_sum",
        (("(2 * epsilon)\n    numerator = np.linalg.norm(grad - gradapprox)\n"
          "    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)",
          "(2 * epsilon)\n    numerator = np.linalg.norm(grad - gradapprox)\n"
          "    denominator = np.linalg.norm(grad + gradapprox)"),), "the norm of the sum"),
    # --- course 2, week 2 ----------------------------------------------------------------------------
    Bug("minibatch_drop_last", "c2w2", "random_mini_batches", "minibatch_last_dropped",
        (("    if m % mini_batch_size != 0:\n"
          "        mini_batch_X = shuffled_X[:, num_complete_minibatches * mini_batch_size:]\n"
          "        mini_batch_Y = shuffled_Y[:, num_complete_minibatches * mini_batch_size:]\n"
          "        mini_batches.append((mini_batch_X, mini_batch_Y))\n", ""),), "the leftover batch forgotten"),
    Bug("minibatch_y_unshuffled", "c2w2", "random_mini_batches", "minibatch_y_not_shuffled",
        (("    shuffled_Y = Y[:, permutation].reshape((1, m))", "    shuffled_Y = Y.reshape((1, m))"),),
        "Y not permuted"),
    Bug("momentum_no_dampening", "c2w2", "update_parameters_with_momentum", "momentum_no_dampening",
        tuple((f'(1 - beta) * grads["d{p}" + str(l)]', f'grads["d{p}" + str(l)]') for p in "Wb"),
        "v = beta v + dW"),
    Bug("adam_no_bias_correction", "c2w2", "update_parameters_with_adam", "adam_no_bias_correction",
        (("v[key] / (1 - beta1 ** t)", "v[key]"), ("s[key] / (1 - beta2 ** t)", "s[key]")), "no bias correction"),
    Bug("adam_eps_in_sqrt", "c2w2", "update_parameters_with_adam", "adam_eps_inside_sqrt",
        (("np.sqrt(s_corrected[key]) + epsilon)", "np.sqrt(s_corrected[key] + epsilon))"),), "sqrt(s + eps)"),
    Bug("adam_t_plus_one", "c2w2", "update_parameters_with_adam", "adam_t_off_by_one",
        (("(1 - beta1 ** t)", "(1 - beta1 ** (t + 1))"), ("(1 - beta2 ** t)", "(1 - beta2 ** (t + 1))")),
        "t counted from 0 (t + 1 in the bias correction)"),
    Bug("decay_not_floored", "c2w2", "schedule_lr_decay", "lr_decay_not_floored",
        (("np.floor(epoch_num / time_interval)", "(epoch_num / time_interval)"),), "continuous decay"),
    # --- whole training --------------------------------------------------------------------------------
    Bug("two_layer_stale_weights", "c1w4", "two_layer_model", TRAJECTORIES_PART,
        (('        parameters = update_parameters(parameters, grads, learning_rate)\n        W1 = parameters["W1"]\n'
          '        b1 = parameters["b1"]\n        W2 = parameters["W2"]\n        b2 = parameters["b2"]\n',
          "        parameters = update_parameters(parameters, grads, learning_rate)\n"),),
        "W1, b1, W2, b2 not read back from parameters after the update: the forward keeps the start"),
    Bug("model_l2_without_l2_backward", "c2w1", "model", TRAJECTORIES_PART,
        (("            grads = backward_propagation_with_regularization(X, Y, cache, lambd)",
          "            grads = backward_propagation_n(X, Y, cache)"),),
        "the L2 branch calls the plain backward pass", run="L2 regularization, lambd = 0.7"),
    Bug("model_adam_t_per_epoch", "c2w2", "model", TRAJECTORIES_PART,
        (("                t = t + 1\n", ""),
         ("        seed = seed + 1\n", "        seed = seed + 1\n        t = t + 1\n")),
        "Adam's t counted in epochs, not in updates", run="adam"),
    # --- errors the checker reports without running out of numbers --------------------------------------
    Bug("propagate_raises", "c1w2", "propagate", "raised",
        (("    db = np.sum(dZ) / m", "    db = np.sum(dz) / m"),), "a NameError (dz for dZ)"),
    Bug("propagate_returns_swapped", "c1w2", "propagate", "wrong_return",
        (("    return grads, cost\n\n\ndef optimize", "    return cost, grads\n\n\ndef optimize"),),
        "(cost, grads) instead of (grads, cost)"),
    Bug("propagate_signature", "c1w2", "propagate", "wrong_signature",
        (("def propagate(w, b, X, Y):", "def propagate(w, b, X):"),), "Y left out of the parameters"),
]


def apply(source: str, bug: Bug) -> str:
    for old, new in bug.edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"bug {bug.id}: {old!r} occurs {count} times in {bug.solution}.py (must be once)")
        source = source.replace(old, new)
    return source
