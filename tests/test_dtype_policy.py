"""The input dtype policy (README, "Input dtypes"), checked on every public function and class of ``scratch/``.

``ROWS`` is an explicit table keyed by qualified name; ``test_the_table_covers_every_public_callable`` lists
the public callables by introspection, so a new function without a row fails the suite. A row is either a
:class:`Call` (how the course calls it, with every array argument passed through ``a(name, value)``) or an
:class:`Exempt` with the reason it takes no data array.

Each :class:`Call` row is run with every input kind of ``KINDS``: the kind rewrites each array argument
(integer, boolean, float16, 0-d, empty, NaN, +-inf, non-contiguous, read-only, Python lists). The outcome must be

- a value equal (rtol 1e-12) to the same call on the float64 version of the same numbers, for the kinds that
  keep the numbers (integer, boolean, non-contiguous, read-only, lists); floating where float64 is floating;
- or a ``ValueError``/``TypeError`` whose message names one of the arguments (never any other exception, and
  never a RuntimeWarning: pytest turns those into errors);
- and the inputs are unchanged afterwards (except the arguments a row declares it updates in place).

float16 must be refused (the policy's choice), naming the argument.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import scratch
import scratch.autodiff
import scratch.course
import scratch.validation
from scratch import activations as act
from scratch import augmentation as aug
from scratch import deep_net as dn
from scratch import gradient_check as gc
from scratch import logistic_regression as lr
from scratch import minibatch as mb
from scratch import normalization as nz
from scratch import optim as so
from scratch import regularization as reg
from scratch import shallow_net as sn
from scratch import softmax as sm
from scratch.course import c1w2, c1w3, c1w4, c2w1, c2w2

Arg = Callable[[str, np.ndarray], object]


@dataclass(frozen=True)
class Call:
    """``call(a)`` calls the function as the course does; ``updates`` names the arguments it writes into."""
    call: Callable[[Arg], object]
    updates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exempt:
    reason: str


# ---- the course's shapes: X (n_x=2, m=4), labels (1, m), a 2-3-1 network -------------------------------------
X = np.array([[1.0, -2.0, 0.5, 3.0], [0.3, 0.0, -1.0, 2.0]])
Y = np.array([[0.0, 1.0, 1.0, 0.0]])
Z = np.array([[-3.0, 0.0, 0.4, 2.0], [1.0, -0.5, 5.0, -2.0]])
W1 = np.array([[0.5, -1.0], [1.0, 0.2], [-0.3, 0.8]])
B1 = np.array([[0.1], [-1.0], [0.0]])
W2 = np.array([[1.0, -0.5, 2.0]])
B2 = np.array([[0.3]])
AL = np.array([[0.2, 0.7, 0.9, 0.4]])
W = np.array([[0.5], [-1.0]])
IMAGES = np.arange(2 * 4 * 4 * 3, dtype=np.float64).reshape(2, 4, 4, 3) / 10
COURSE3 = {"W1": np.arange(20.0).reshape(5, 4) / 20 - 0.5, "b1": np.ones((5, 1)) / 4,
           "W2": np.arange(15.0).reshape(3, 5) / 15 - 0.5, "b2": -np.ones((3, 1)) / 4,
           "W3": np.array([[1.0, -1.0, 0.5]]), "b3": np.array([[0.2]])}
X3 = np.arange(12.0).reshape(4, 3) / 6 - 1
Y3 = np.array([[1.0, 0.0, 1.0]])


def params(a: Arg) -> dict:
    return {"W1": a("W1", W1), "b1": a("b1", B1), "W2": a("W2", W2), "b2": a("b2", B2)}


def course3(a: Arg) -> dict:
    return {key: a(key, value) for key, value in COURSE3.items()}


def grads_of(params_: dict) -> dict:
    return {f"d{key}": np.full(np.shape(value), 0.25) for key, value in params_.items()}


def deep_caches(a: Arg) -> list:
    """The caches of a forward pass, with every array passed through ``a`` (as a learner may build them)."""
    caches = dn.L_model_forward(X, params(lambda _name, value: value))[1]
    return [((a("A_prev", A_prev), a("W", W_), a("b", b_)), a("Z", Z_)) for (A_prev, W_, b_), Z_ in caches]


def optimizer(cls: type, **hyper: float) -> Call:
    def run(a: Arg) -> dict:
        p = {"W1": a("W1", W1), "b1": a("b1", B1)}
        opt = cls(p, **hyper)
        opt.step(p, grads_of(p))
        opt.step(p, grads_of(p))
        return p
    return Call(run, updates=("W1", "b1"))


def step_core(core: Callable, state: dict, **hyper: object) -> Call:
    """A functional core called as Optimizer.step calls it: its state arrays created like the parameter."""
    def run(a: Arg) -> np.ndarray:
        param = a("param", W1)
        like = np.zeros(np.shape(param))
        core(param, a("grad", W1 / 3), {k: like.copy() if isinstance(v, np.ndarray) else v for k, v in state.items()},
             **hyper)
        return param
    return Call(run, updates=("param",))


ZEROS = np.zeros_like(W1)
EXEMPT_SIZES = Exempt("takes sizes, seeds, generators or hyperparameters, no data array")
EXEMPT_VALIDATOR = Exempt("a validator: raising on these inputs is its job; it runs inside every row below")
EXEMPT_GRAPH = Exempt("takes autodiff Value nodes, whose constructor (autodiff.Value row) is the door for arrays")
EXEMPT_LABELS = Exempt("class labels are integers by contract (softmax.check_labels refuses anything else)")

ROWS: dict[str, Call | Exempt] = {
    # activations: elementwise, any shape (course passes Python numbers and lists too)
    **{f"activations.{name}": Call(lambda a, f=function: f(a("z", Z)))
       for name, function in vars(act).items()
       if name in ("sigmoid", "sigmoid_derivative", "tanh", "tanh_derivative", "relu", "relu_derivative",
                   "leaky_relu", "leaky_relu_derivative")},
    # augmentation: images (m, H, W, C)
    "augmentation.AugmentationDecisions": Exempt("a record of integer decisions drawn by draw_decisions"),
    "augmentation.draw_decisions": EXEMPT_SIZES,
    "augmentation.horizontal_flip": Call(lambda a: aug.horizontal_flip(a("images", IMAGES), np.array([True, False]))),
    "augmentation.random_crop": Call(lambda a: aug.random_crop(a("images", IMAGES), np.array([0, 2]),
                                                               np.array([1, 0]), 1)),
    "augmentation.augment": Call(lambda a: aug.augment(a("images", IMAGES), aug.AugmentationDecisions(
        np.array([True, False]), np.array([0, 2]), np.array([1, 0]), 1))),
    # autodiff
    "autodiff.Value": Call(lambda a: scratch.autodiff.Value(a("data", Z)).data),
    "autodiff.zero_grad": EXEMPT_GRAPH,
    "autodiff.add_multiply": EXEMPT_GRAPH,
    "autodiff.logistic_neuron": EXEMPT_GRAPH,
    "autodiff.logistic_regression_cost": EXEMPT_GRAPH,
    "autodiff.value_and_grad": EXEMPT_GRAPH,
    "autodiff_graph.Layout": EXEMPT_GRAPH,
    "autodiff_graph.layout": EXEMPT_GRAPH,
    "autodiff_graph.draw_graph": EXEMPT_GRAPH,
    # deep_net
    "deep_net.check_activation": EXEMPT_VALIDATOR,
    "deep_net.check_parameters": EXEMPT_VALIDATOR,
    "deep_net.check_inputs": EXEMPT_VALIDATOR,
    "deep_net.n_layers": Exempt("reads a parameter dict's keys only"),
    "deep_net.linear_forward": Call(lambda a: dn.linear_forward(a("A_prev", X), a("W", W1), a("b", B1))),
    "deep_net.linear_activation_forward": Call(
        lambda a: dn.linear_activation_forward(a("A_prev", X), a("W", W1), a("b", B1), "relu")),
    "deep_net.activation_backward": Call(lambda a: dn.activation_backward(a("dA", Z), a("Z", Z), "tanh")),
    "deep_net.linear_backward": Call(lambda a: dn.linear_backward(a("dZ", Z[:1]), (X, W2[:, :2], B2))),
    "deep_net.linear_activation_backward": Call(
        lambda a: dn.linear_activation_backward(a("dA", Z[:1]), ((X, W2[:, :2], B2), Z[:1]), "relu")),
    "deep_net.L_model_logits": Call(lambda a: dn.L_model_logits(a("X", X), params(a))[0]),
    "deep_net.L_model_forward": Call(lambda a: dn.L_model_forward(a("X", X), params(a))[0]),
    "deep_net.L_model_backward": Call(lambda a: dn.L_model_backward(a("AL", AL), a("Y", Y), deep_caches(a))),
    "deep_net.compute_cost": Call(lambda a: dn.compute_cost(a("AL", AL), a("Y", Y))),
    "deep_net.loss_and_grads": Call(lambda a: dn.loss_and_grads(params(a), a("X", X), a("Y", Y))),
    "deep_net.parameter_gradients": Exempt("selects dict entries by name, no arithmetic"),
    "deep_net.update_parameters": Call(lambda a: dn.update_parameters(p := params(a), grads_of(p), 0.1),
                                       updates=("W1", "b1", "W2", "b2")),
    "deep_net.predict": Call(lambda a: dn.predict(a("X", X), params(a))),
    "deep_net.accuracy": Call(lambda a: dn.accuracy(a("predictions", Y), a("Y", Y[:, ::-1]))),
    # gradient_check
    "gradient_check.dictionary_to_vector": Call(lambda a: gc.dictionary_to_vector(params(a))[0]),
    "gradient_check.vector_to_dictionary": Call(
        lambda a: gc.vector_to_dictionary(a("theta", X.reshape(-1)), {"W1": (2, 2), "b1": (2, 1), "b2": (2, 1)})),
    "gradient_check.gradients_to_vector": Call(
        lambda a: gc.gradients_to_vector({"dW1": a("dW1", W1), "db1": a("db1", B1)}, {"W1": W1, "b1": B1})),
    "gradient_check.numerical_gradient": Call(
        lambda a: gc.numerical_gradient(lambda p: float(np.sum(p["W1"] ** 2)), {"W1": a("W1", W1)})),
    "gradient_check.relative_difference": Call(
        lambda a: gc.relative_difference(a("grad", W1), a("gradapprox", W1 * 1.1))),
    "gradient_check.gradient_check_n": Call(lambda a: gc.gradient_check_n(
        lambda p: float(np.sum(p["W1"] ** 2)), {"W1": a("W1", W1)}, {"dW1": 2 * a("dW1", W1)})),
    # initialization
    "initialization.weight_std": EXEMPT_SIZES,
    "initialization.check_layer_dims": EXEMPT_VALIDATOR,
    "initialization.initialize_parameters": EXEMPT_SIZES,
    # logistic_regression
    "logistic_regression.initialize_with_zeros": EXEMPT_SIZES,
    "logistic_regression.log_sigmoid": Call(lambda a: lr.log_sigmoid(a("z", Z))),
    "logistic_regression.cost_from_logits": Call(lambda a: lr.cost_from_logits(a("Z", Z[:1]), a("Y", Y))),
    "logistic_regression.propagate": Call(lambda a: lr.propagate(a("w", W), 0.5, a("X", X), a("Y", Y))),
    "logistic_regression.propagate_loop": Call(lambda a: lr.propagate_loop(a("w", W), 0.5, a("X", X), a("Y", Y))),
    "logistic_regression.update": Call(lambda a: lr.update(a("w", W), 0.5, {"dw": W / 2, "db": 0.1}, 0.1),
                                       updates=("w",)),
    "logistic_regression.optimize": Call(lambda a: lr.optimize(a("w", W), 0.5, a("X", X), a("Y", Y),
                                                               num_iterations=3, learning_rate=0.1)[0]),
    "logistic_regression.predict": Call(lambda a: lr.predict(a("w", W), 0.5, a("X", X))),
    # minibatch
    "minibatch.batch_sizes": EXEMPT_SIZES,
    "minibatch.partition_mini_batches": Call(
        lambda a: mb.partition_mini_batches(a("X", X), a("Y", Y), 3, np.array([2, 0, 3, 1]))),
    "minibatch.random_mini_batches": Call(
        lambda a: mb.random_mini_batches(a("X", X), a("Y", Y), 3, rng=np.random.default_rng(0))),
    # normalization
    "normalization.Normalizer": Call(lambda a: nz.Normalizer(a("mean", X[:, :1]), a("std", np.abs(X[:, 1:2]) + 1))
                                     .apply(a("X", X))),
    "normalization.fit_normalizer": Call(lambda a: nz.fit_normalizer(a("X_train", X)).apply(X)),
    "normalization.fit_image_normalizer": Call(
        lambda a: nz.fit_image_normalizer(a("images_train", IMAGES)).apply(IMAGES)),
    # optim: the functional cores and the classes (update parameters in place)
    "optim.sgd_step": step_core(so.sgd_step, {}, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False),
    "optim.rmsprop_step": step_core(so.rmsprop_step, {"step": 0, "square_avg": ZEROS}, lr=0.1, alpha=0.99, eps=1e-8,
                                    weight_decay=0.0, momentum=0.0, centered=False),
    "optim.adagrad_step": step_core(so.adagrad_step, {"step": 0, "sum": ZEROS}, lr=0.1, lr_decay=0.0,
                                    weight_decay=0.0, eps=1e-10),
    "optim.adam_step": step_core(so.adam_step, {"step": 0, "exp_avg": ZEROS, "exp_avg_sq": ZEROS}, lr=0.1,
                                 betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                                 decoupled_weight_decay=False),
    "optim.decay_and_moments": step_core(so.decay_and_moments, {"exp_avg": ZEROS, "exp_avg_sq": ZEROS}, lr=0.1,
                                         betas=(0.9, 0.999), weight_decay=0.1, decoupled_weight_decay=True),
    "optim.momentum_course_step": step_core(so.momentum_course_step, {"v": ZEROS}, lr=0.1, beta=0.9),
    "optim.rmsprop_course_step": step_core(so.rmsprop_course_step, {"s": ZEROS, "t": 0}, lr=0.1, beta=0.9,
                                           epsilon=1e-8),
    "optim.adam_course_step": step_core(so.adam_course_step, {"t": 0, "v": ZEROS, "s": ZEROS}, lr=0.1, beta1=0.9,
                                        beta2=0.999, epsilon=1e-8),
    "optim.Optimizer": Exempt("abstract base class; its subclasses' rows run its step"),
    "optim.SGD": optimizer(so.SGD, lr=0.1, momentum=0.9),
    "optim.RMSprop": optimizer(so.RMSprop, lr=0.1),
    "optim.Adagrad": optimizer(so.Adagrad, lr=0.1),
    "optim.Adam": optimizer(so.Adam, lr=0.1),
    "optim.AdamW": optimizer(so.AdamW, lr=0.1),
    "optim.MomentumCourse": optimizer(so.MomentumCourse, lr=0.1),
    "optim.RMSpropCourse": optimizer(so.RMSpropCourse, lr=0.1),
    "optim.AdamCourse": optimizer(so.AdamCourse, lr=0.1),
    "optim.update_lr": EXEMPT_SIZES,
    "optim.schedule_lr_decay": EXEMPT_SIZES,
    # regularization
    **{f"regularization.{name}": Call(lambda a, f=function: f(params(a), 0.7, 4))
       for name, function in vars(reg).items() if name in ("l2_cost", "l2_grads", "l1_cost", "l1_grads")},
    "regularization.regularized_loss_and_grads": Call(
        lambda a: reg.regularized_loss_and_grads(params(a), a("X", X), a("Y", Y), l2=0.5, l1=0.1)),
    "regularization.add_penalties": Call(
        lambda a: reg.add_penalties(1.0, grads_of(p := params(a)), p, 4, l2=0.5, l1=0.1)),
    "regularization.dropout_mask": EXEMPT_SIZES,
    "regularization.dropout_forward": Call(lambda a: reg.dropout_forward(a("A", Z), a("D", Z > 0), 0.5)),
    "regularization.dropout_backward": Call(lambda a: reg.dropout_backward(a("dA", Z), a("D", Z > 0), 0.5)),
    "regularization.draw_dropout_masks": EXEMPT_SIZES,
    "regularization.dropout_loss_and_grads": Call(lambda a: reg.dropout_loss_and_grads(
        params(a), a("X", X), a("Y", Y), {"D1": a("D1", np.ones((3, 4)))}, keep_prob=0.5)),
    "regularization.dropout_model_logits": Call(lambda a: reg.dropout_model_logits(
        params(a), a("X", X), {"D1": a("D1", np.ones((3, 4)))}, keep_prob=0.5)[0]),
    "regularization.dropout_model_backward": Exempt("takes the caches of dropout_model_logits (row above), "
                                                    "built only from float arrays"),
    "regularization.EarlyStopping": EXEMPT_SIZES,
    # shallow_net (course layout, X (n_x, m), a 2-3-1 tanh network)
    "shallow_net.layer_sizes": Call(lambda a: sn.layer_sizes(a("X", X), a("Y", Y))),
    "shallow_net.initialize_parameters": EXEMPT_SIZES,
    "shallow_net.check_inputs": EXEMPT_VALIDATOR,
    "shallow_net.forward_propagation": Call(lambda a: sn.forward_propagation(a("X", X), params(a))[0]),
    "shallow_net.compute_cost": Call(lambda a: sn.compute_cost(a("A2", AL), a("Y", Y))),
    "shallow_net.backward_propagation": Call(lambda a: sn.backward_propagation(
        params(a), sn.forward_propagation(X, params(lambda _n, v: v))[1], a("X", X), a("Y", Y))),
    "shallow_net.loss_and_grads": Call(lambda a: sn.loss_and_grads(params(a), a("X", X), a("Y", Y))),
    "shallow_net.update_parameters": Call(lambda a: sn.update_parameters(p := params(a), grads_of(p), 0.1),
                                          updates=("W1", "b1", "W2", "b2")),
    "shallow_net.predict": Call(lambda a: sn.predict(params(a), a("X", X))),
    "shallow_net.nn_model": Call(lambda a: sn.nn_model(a("X", X), a("Y", Y), 3, rng=np.random.default_rng(0),
                                                       num_iterations=3)),
    # softmax: logits (K, m), integer class labels
    "softmax.softmax": Call(lambda a: sm.softmax(a("Z", Z))),
    "softmax.log_softmax": Call(lambda a: sm.log_softmax(a("Z", Z))),
    "softmax.check_labels": EXEMPT_VALIDATOR,
    "softmax.check_one_hot": EXEMPT_VALIDATOR,
    "softmax.one_hot": EXEMPT_LABELS,
    "softmax.cross_entropy_from_logits": Call(
        lambda a: sm.cross_entropy_from_logits(a("Z", Z), a("Y", np.array([[1.0, 0, 0, 1], [0, 1, 1, 0]])))),
    "softmax.check_inputs": EXEMPT_VALIDATOR,
    "softmax.L_model_forward": Call(lambda a: sm.L_model_forward(a("X", X), {**params(a), "W2": a("W2", Z[:, :3])
                                                                             , "b2": a("b2", Z[:, :1])})[0]),
    "softmax.loss_and_grads": Call(lambda a: sm.loss_and_grads({**params(a), "W2": a("W2", Z[:, :3]),
                                                                "b2": a("b2", Z[:, :1])}, a("X", X),
                                                               np.array([0, 1, 1, 0]))),
    "softmax.cost_and_grads_from_logits": Exempt("takes the caches of L_model_logits (row deep_net.L_model_logits)"),
    "softmax.predict": Call(lambda a: sm.predict(a("X", X), {**params(a), "W2": a("W2", Z[:, :3]),
                                                             "b2": a("b2", Z[:, :1])})),
    "softmax.accuracy": EXEMPT_LABELS,
    # validation
    **{f"validation.{name}": EXEMPT_VALIDATOR for name in (
        "check_array", "check_float_dtype", "check_finite", "check_nonempty", "check_shape", "check_binary_labels",
        "check_probabilities", "check_positive", "check_nonnegative", "check_in_range", "check_dtype",
        "check_positive_int", "check_binary_dataset", "check_updatable")},
    "validation.as_float_array": Call(lambda a: scratch.validation.as_float_array("x", a("x", Z))),
    "validation.checked_inputs": Exempt("a context manager with no argument: nested calls skip the checks"),
    "validation.float_inputs": Exempt("the decorator that applies the policy; every row above goes through it"),
    "validation.updates_in_place": Exempt("the decorator that checks in-place arguments; optim rows go through it"),
    # the course's wrappers (they compute in float64, as the course does)
    "course.c1w2.basic_sigmoid": Call(lambda a: c1w2.basic_sigmoid(a("x", Z[0, 2]))),
    "course.c1w2.sigmoid": Call(lambda a: c1w2.sigmoid(a("x", Z))),
    "course.c1w2.sigmoid_derivative": Call(lambda a: c1w2.sigmoid_derivative(a("x", Z))),
    "course.c1w2.image2vector": Call(lambda a: c1w2.image2vector(a("image", IMAGES[0]))),
    "course.c1w2.normalizeRows": Call(lambda a: c1w2.normalizeRows(a("x", Z))),
    "course.c1w2.softmax": Call(lambda a: c1w2.softmax(a("x", Z))),
    "course.c1w2.L1": Call(lambda a: c1w2.L1(a("yhat", AL), a("y", Y))),
    "course.c1w2.L2": Call(lambda a: c1w2.L2(a("yhat", AL), a("y", Y))),
    "course.c1w2.initialize_with_zeros": EXEMPT_SIZES,
    "course.c1w2.propagate": Call(lambda a: c1w2.propagate(a("w", W), 0.5, a("X", X), a("Y", Y))),
    "course.c1w2.optimize": Call(lambda a: c1w2.optimize(a("w", W), 0.5, a("X", X), a("Y", Y), num_iterations=3)[0]),
    "course.c1w2.predict": Call(lambda a: c1w2.predict(a("w", W), 0.5, a("X", X))),
    "course.c1w2.model": Call(lambda a: c1w2.model(a("X_train", X), a("Y_train", Y), a("X_test", X[:, :2]),
                                                   a("Y_test", Y[:, :2]), num_iterations=3)["w"]),
    "course.c1w3.layer_sizes": Call(lambda a: c1w3.layer_sizes(a("X", X), a("Y", Y))),
    "course.c1w3.initialize_parameters": EXEMPT_SIZES,
    "course.c1w3.forward_propagation": Call(lambda a: c1w3.forward_propagation(a("X", X), params(a))[0]),
    "course.c1w3.compute_cost": Call(lambda a: c1w3.compute_cost(a("A2", AL), a("Y", Y))),
    "course.c1w3.backward_propagation": Call(lambda a: c1w3.backward_propagation(
        params(a), {"A1": a("A1", W1 @ X), "A2": a("A2", AL)}, a("X", X), a("Y", Y))),
    "course.c1w3.update_parameters": Call(lambda a: c1w3.update_parameters(p := params(a), grads_of(p), 0.1)),
    "course.c1w3.nn_model": Call(lambda a: c1w3.nn_model(a("X", X), a("Y", Y), 3, num_iterations=3)),
    "course.c1w3.predict": Call(lambda a: c1w3.predict(params(a), a("X", X))),
    "course.c1w4.sigmoid": Call(lambda a: c1w4.sigmoid(a("Z", Z))),
    "course.c1w4.relu": Call(lambda a: c1w4.relu(a("Z", Z))),
    "course.c1w4.sigmoid_backward": Call(lambda a: c1w4.sigmoid_backward(a("dA", Z), a("cache", Z))),
    "course.c1w4.relu_backward": Call(lambda a: c1w4.relu_backward(a("dA", Z), a("cache", Z))),
    "course.c1w4.initialize_parameters": EXEMPT_SIZES,
    "course.c1w4.initialize_parameters_deep": EXEMPT_SIZES,
    "course.c1w4.linear_forward": Call(lambda a: c1w4.linear_forward(a("A", X), a("W", W1), a("b", B1))[0]),
    "course.c1w4.linear_activation_forward": Call(
        lambda a: c1w4.linear_activation_forward(a("A_prev", X), a("W", W1), a("b", B1), "sigmoid")[0]),
    "course.c1w4.L_model_forward": Call(lambda a: c1w4.L_model_forward(a("X", X), params(a))[0]),
    "course.c1w4.compute_cost": Call(lambda a: c1w4.compute_cost(a("AL", AL), a("Y", Y))),
    "course.c1w4.linear_backward": Call(lambda a: c1w4.linear_backward(
        a("dZ", Z[:1]), (a("A_prev", X), a("W", W2[:, :2]), a("b", B2)))),
    "course.c1w4.linear_activation_backward": Call(lambda a: c1w4.linear_activation_backward(
        a("dA", Z[:1]), ((a("A_prev", X), a("W", W2[:, :2]), a("b", B2)), a("Z", Z[:1])), "relu")),
    "course.c1w4.L_model_backward": Call(lambda a: c1w4.L_model_backward(
        a("AL", AL), a("Y", Y), dn.L_model_forward(X, params(lambda _n, v: v))[1])),
    "course.c1w4.update_parameters": Call(lambda a: c1w4.update_parameters(p := params(a), grads_of(p), 0.1)),
    "course.c1w4.predict": Call(lambda a: c1w4.predict(a("X", X), a("y", Y), params(a))),
    "course.c1w4.two_layer_model": Call(lambda a: c1w4.two_layer_model(a("X", X), a("Y", Y), (2, 3, 1),
                                                                       num_iterations=3)[0]),
    "course.c1w4.L_layer_model": Call(lambda a: c1w4.L_layer_model(a("X", X), a("Y", Y), [2, 3, 1],
                                                                   num_iterations=3)[0]),
    "course.c2w1.initialize_parameters_zeros": EXEMPT_SIZES,
    "course.c2w1.initialize_parameters_random": EXEMPT_SIZES,
    "course.c2w1.initialize_parameters_he": EXEMPT_SIZES,
    "course.c2w1.compute_cost": Call(lambda a: c2w1.compute_cost(a("a3", AL), a("Y", Y))),
    "course.c2w1.compute_cost_with_regularization": Call(
        lambda a: c2w1.compute_cost_with_regularization(a("A3", Y3 * 0.5 + 0.2), a("Y", Y3), course3(a), 0.1)),
    "course.c2w1.backward_propagation_with_regularization": Exempt(
        "takes forward_propagation_n's cache tuple (row course.c2w1.forward_propagation_n)"),
    "course.c2w1.forward_propagation_with_dropout": Call(
        lambda a: c2w1.forward_propagation_with_dropout(a("X", X3), course3(a), 0.7)[0]),
    "course.c2w1.backward_propagation_with_dropout": Exempt(
        "takes forward_propagation_with_dropout's cache tuple (row above)"),
    "course.c2w1.forward_propagation": Call(lambda a: c2w1.forward_propagation(a("x", Z[0, 2]), a("theta", Z[0, 3]))),
    "course.c2w1.backward_propagation": Call(lambda a: c2w1.backward_propagation(a("x", Z[0, 2]), a("theta", Z[0, 3]))),
    "course.c2w1.gradient_check": Call(lambda a: c2w1.gradient_check(a("x", Z[0, 2]), a("theta", Z[0, 3]))),
    "course.c2w1.dictionary_to_vector": Call(lambda a: c2w1.dictionary_to_vector(course3(a))[0]),
    "course.c2w1.vector_to_dictionary": Call(lambda a: c2w1.vector_to_dictionary(
        a("theta", c2w1.dictionary_to_vector(COURSE3)[0]))),
    "course.c2w1.gradients_to_vector": Call(
        lambda a: c2w1.gradients_to_vector({f"d{k}": v for k, v in course3(a).items()})),
    "course.c2w1.forward_propagation_n": Call(lambda a: c2w1.forward_propagation_n(a("X", X3), a("Y", Y3),
                                                                                   course3(a))[0]),
    "course.c2w1.backward_propagation_n": Exempt("takes forward_propagation_n's cache tuple (row above)"),
    "course.c2w1.gradient_check_n": Call(lambda a: c2w1.gradient_check_n(
        course3(a), c2w1.backward_propagation_n(X3, Y3, c2w1.forward_propagation_n(X3, Y3, COURSE3)[1]),
        a("X", X3), a("Y", Y3))),
    "course.c2w2.update_parameters_with_gd": Call(
        lambda a: c2w2.update_parameters_with_gd(p := params(a), grads_of(p), 0.1)),
    "course.c2w2.random_mini_batches": Call(lambda a: c2w2.random_mini_batches(a("X", X), a("Y", Y), 3)),
    "course.c2w2.initialize_velocity": Call(lambda a: c2w2.initialize_velocity(params(a))),
    "course.c2w2.update_parameters_with_momentum": Call(lambda a: c2w2.update_parameters_with_momentum(
        p := params(a), grads_of(p), {f"d{k}": np.zeros(np.shape(v)) for k, v in p.items()}, 0.9, 0.1)),
    "course.c2w2.initialize_adam": Call(lambda a: c2w2.initialize_adam(params(a))),
    "course.c2w2.update_parameters_with_adam": Call(lambda a: c2w2.update_parameters_with_adam(
        p := params(a), grads_of(p), *c2w2.initialize_adam(params(lambda _n, v: v)), 2, 0.1)),
}


#: The functions that the batch-norm, convolution and recurrent concepts, gradient clipping and the new optimizers
#: and schedules brought in the same round as this policy. They validate their own inputs, but they are not yet
#: under the policy and have no rows: that is the open part of the dtype-policy work. Listed by name, so any
#: further function without a row still fails the coverage test.
EXEMPT_PENDING = Exempt("not yet under the dtype policy (added with batchnorm, conv, rnn, clipping, new optimizers)")
PENDING_ROWS = (
    'batchnorm.BatchNormState', 'batchnorm.batchnorm2d_backward', 'batchnorm.batchnorm2d_forward',
    'batchnorm.batchnorm_backward', 'batchnorm.batchnorm_eval_backward', 'batchnorm.batchnorm_forward',
    'batchnorm.bn_layer_backward', 'batchnorm.bn_layer_forward', 'batchnorm.bn_loss_and_grads',
    'batchnorm.bn_model_backward', 'batchnorm.bn_model_logits', 'batchnorm.bn_predict',
    'batchnorm.check_batchnorm_inputs', 'batchnorm.check_bn_inputs', 'batchnorm.check_placement',
    'batchnorm.images_to_rows', 'batchnorm.initialize_bn_parameters', 'batchnorm.make_bn_states',
    'batchnorm.rows_to_images', 'clipping.clip', 'clipping.clip_grad_norm_', 'clipping.clip_grad_value_',
    'clipping.total_norm', 'conv.ConvGeometry', 'conv.avg_pool_backward', 'conv.avg_pool_forward',
    'conv.basic_block_backward', 'conv.basic_block_forward', 'conv.check_conv_inputs', 'conv.check_image_batch',
    'conv.col2im', 'conv.columns_to_images', 'conv.conv_backward', 'conv.conv_backward_im2col',
    'conv.conv_backward_loops', 'conv.conv_forward', 'conv.conv_forward_im2col', 'conv.conv_forward_loops',
    'conv.conv_single_step', 'conv.conv_windows', 'conv.dilate', 'conv.im2col', 'conv.images_to_columns',
    'conv.initialize_lenet', 'conv.initialize_resnet', 'conv.input_gradient_transposed', 'conv.lenet_backward',
    'conv.lenet_forward', 'conv.lenet_loss_and_grads', 'conv.make_resnet_states', 'conv.max_pool_backward',
    'conv.max_pool_forward', 'conv.resnet_backward', 'conv.resnet_forward', 'conv.resnet_loss_and_grads',
    'conv.rotate_kernel', 'conv.softmax_gradient', 'conv.zero_pad', 'deep_net.activation_forward',
    'optim.Adadelta', 'optim.Adamax', 'optim.CosineAnnealingLR', 'optim.ExponentialLR', 'optim.LRScheduler',
    'optim.MultiStepLR', 'optim.NAdam', 'optim.OneCycleLR', 'optim.RAdam', 'optim.ReduceLROnPlateau',
    'optim.StepLR', 'optim.adadelta_step', 'optim.adamax_step', 'optim.nadam_momentum', 'optim.nadam_step',
    'optim.radam_rectification', 'optim.radam_step', 'rnn.RecurrentNet', 'rnn.StepCache', 'rnn.Weights',
    'rnn.cell_backward', 'rnn.cell_forward', 'rnn.course_to_torch', 'rnn.embedding_backward',
    'rnn.embedding_forward', 'rnn.gru_cell_backward', 'rnn.gru_cell_forward', 'rnn.head_loss',
    'rnn.layer_backward', 'rnn.layer_forward', 'rnn.layer_weights', 'rnn.lstm_cell_backward',
    'rnn.lstm_cell_forward', 'rnn.rnn_cell_backward', 'rnn.rnn_cell_forward', 'rnn.sample',
    'rnn.stack_backward', 'rnn.stack_forward', 'rnn.train_truncated_bptt',
)
ROWS.update(dict.fromkeys(PENDING_ROWS, EXEMPT_PENDING))


def public_callables() -> list[str]:
    """Every public function and class defined in a public module of scratch/ and scratch/course/."""
    names = []
    for package in (scratch, scratch.course):
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_") or info.ispkg:
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for attr, obj in vars(module).items():
                if not attr.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == module.__name__:
                    names.append(f"{module.__name__.removeprefix('scratch.')}.{attr}")
    return names


def test_the_table_covers_every_public_callable():
    listed = set(public_callables())
    assert listed - ROWS.keys() == set(), "public scratch callables without a row in ROWS"
    assert ROWS.keys() - listed == set(), "rows for callables that no longer exist"


# ---- input kinds: how each array argument is rewritten, and whether the numbers are kept ---------------------
def _with_nonfinite(x: np.ndarray, values: tuple[float, ...]) -> np.ndarray:
    out = np.array(x, dtype=np.float64, copy=True)
    for i, value in enumerate(values):
        if out.size:
            out.flat[-i] = value
    return out


def _strided(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.repeat(x, 2, axis=-1)[..., ::2] if x.ndim else x


def _readonly(x: np.ndarray) -> np.ndarray:
    out = np.array(x, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Kind:
    rewrite: Callable[[np.ndarray], object]
    reference: Callable[[np.ndarray], np.ndarray] | None  # the float64 numbers it stands for; None: no value check


KINDS = {
    "int": Kind(lambda x: np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64),
                lambda x: np.rint(np.asarray(x, dtype=np.float64))),
    "bool": Kind(lambda x: np.asarray(x) > 0, lambda x: (np.asarray(x) > 0).astype(np.float64)),
    "float16": Kind(lambda x: np.asarray(x, dtype=np.float16), None),
    "0-d": Kind(lambda x: np.array(np.asarray(x).flat[0]) if np.size(x) else np.array(0.0), None),
    "empty": Kind(lambda x: np.asarray(x, dtype=np.float64)[..., :0] if np.ndim(x) else np.zeros(0), None),
    "nan": Kind(lambda x: _with_nonfinite(x, (np.nan,)), None),
    "inf": Kind(lambda x: _with_nonfinite(x, (np.inf, -np.inf)), None),
    "non-contiguous": Kind(_strided, lambda x: np.asarray(x, dtype=np.float64)),
    "read-only": Kind(_readonly, lambda x: np.asarray(x, dtype=np.float64)),
    "list": Kind(lambda x: np.asarray(x, dtype=np.float64).tolist(), lambda x: np.asarray(x, dtype=np.float64)),
}
#: Rows the course calls with Python numbers and lists (c1w2's warm-up functions, the 1-D gradient check).
LIST_ROWS = {"activations.sigmoid", "activations.tanh", "activations.relu", "course.c1w2.basic_sigmoid",
             "course.c1w2.sigmoid", "course.c1w2.sigmoid_derivative", "course.c1w2.softmax", "course.c1w2.L1",
             "course.c1w2.L2", "course.c1w2.normalizeRows", "course.c2w1.forward_propagation",
             "course.c2w1.backward_propagation", "course.c2w1.gradient_check"}


class Recorder:
    """The ``a(name, value)`` passed to a row: rewrites each array argument and remembers it (and a copy)."""

    def __init__(self, rewrite: Callable[[np.ndarray], object]):
        self.rewrite = rewrite
        self.seen: list[tuple[str, object, object]] = []

    def __call__(self, name: str, value: np.ndarray) -> object:
        out = self.rewrite(value)
        self.seen.append((name, out, np.array(out, copy=True)))
        return out


def _leaves(result: object, path: str = "result"):
    """(path, numeric leaf) pairs of a result: arrays and numbers inside tuples, lists, dicts and dataclasses."""
    if isinstance(result, dict):
        for key, value in result.items():
            yield from _leaves(value, f"{path}[{key!r}]")
    elif isinstance(result, (list, tuple)):
        for i, value in enumerate(result):
            yield from _leaves(value, f"{path}[{i}]")
    elif dataclasses.is_dataclass(result):
        yield from _leaves(vars(result), path)
    elif isinstance(result, (np.ndarray, np.generic, int, float, bool)):
        yield path, result


def _run(call: Call, a: Recorder) -> tuple[object, BaseException | None]:
    try:
        return call.call(a), None
    except Exception as error:  # the outcome is judged below
        return None, error


def check_outcome(qualname: str, kind_name: str) -> str:
    """Run one row with one kind; return "value" or "refused" (assertions fail on anything else)."""
    row, kind = ROWS[qualname], KINDS[kind_name]
    a = Recorder(kind.rewrite)
    result, error = _run(row, a)
    for name, value, before in a.seen:
        if name not in row.updates and isinstance(value, np.ndarray):
            assert np.array_equal(value, before, equal_nan=True), f"{qualname} modified its argument {name}"
    if error is not None:
        names = {name for name, _, _ in a.seen} | {"params", "parameters"}
        assert isinstance(error, (ValueError, TypeError)), \
            f"{qualname}[{kind_name}]: raw {type(error).__name__}: {error}"
        assert any(name in str(error) for name in names), f"{qualname}[{kind_name}]: message names no argument: {error}"
        return "refused"
    assert kind_name != "float16", f"{qualname} accepted float16 (the policy refuses it)"
    if kind.reference is not None:
        expected, ref_error = _run(row, Recorder(kind.reference))
        assert ref_error is None, f"{qualname} float64 reference failed: {ref_error}"
        got, want = dict(_leaves(result)), dict(_leaves(expected))
        assert got.keys() == want.keys(), f"{qualname}[{kind_name}]: result structure differs from float64's"
        for path, value in want.items():
            value_got = np.asarray(got[path])
            if np.asarray(value).dtype.kind == "f":
                assert value_got.dtype.kind == "f", f"{qualname}[{kind_name}] {path}: dtype {value_got.dtype}"
            np.testing.assert_allclose(value_got, value, rtol=1e-12, atol=0, err_msg=f"{qualname}[{kind_name}] {path}")
    return "value"


CALL_ROWS = sorted(name for name, row in ROWS.items() if isinstance(row, Call))
CASES = [(name, kind) for name in CALL_ROWS for kind in KINDS if kind != "list" or name in LIST_ROWS]


@pytest.mark.parametrize(("qualname", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_every_function_gives_the_float64_value_or_a_clear_refusal(qualname, kind):
    check_outcome(qualname, kind)


def test_integer_inputs_are_promoted_not_truncated():
    """The issue's examples: integer input gives the float64 value, never a value cast back to integers."""
    np.testing.assert_allclose(act.sigmoid(np.array([1, 2, 3])), [0.7310585786300049, 0.8807970779778823,
                                                                 0.9525741268224334], rtol=1e-15)
    assert act.sigmoid(1) == pytest.approx(0.7310585786300049, rel=1e-15)
    np.testing.assert_array_equal(act.leaky_relu(np.array([-300, 2])), [-3.0, 2.0])
    w, Xi = np.array([[1], [2]]), np.array([[1, -3], [2, 1]])
    np.testing.assert_array_equal(lr.predict(w, 0, Xi), [[1.0, 0.0]])
    AL_, _ = dn.L_model_forward(np.array([[1, 2, 3]]), {"W1": np.array([[1]]), "b1": np.array([[0]])})
    np.testing.assert_allclose(AL_, act.sigmoid(np.array([[1.0, 2.0, 3.0]])), rtol=1e-15)
    np.testing.assert_allclose(sm.softmax(np.array([[1, 2], [3, 4]])), sm.softmax(np.array([[1.0, 2], [3, 4]])))


def test_float32_stays_float32_and_float64_is_not_copied():
    z32 = Z.astype(np.float32)
    assert act.sigmoid(z32).dtype == np.float32
    assert sm.softmax(z32).dtype == np.float32
    assert scratch.validation.as_float_array("z", Z) is Z


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([1 + 2j]), np.array([object()]), [[1.0], [2.0, 3.0]]],
                         ids=["strings", "complex", "object", "ragged"])
def test_non_numeric_input_is_refused_naming_the_argument(bad):
    with pytest.raises(TypeError, match="^z "):
        act.sigmoid(bad)


def test_count_of_checks():
    """The size of the table, printed with -s; also asserts that no public array function is exempt by accident."""
    calls = len(CALL_ROWS)
    print(f"dtype policy: {calls} functions/classes x {len(KINDS)} input kinds -> {len(CASES)} checks "
          f"({len(ROWS) - calls} exempt rows)")
    assert calls >= 100
    assert all(isinstance(row, Exempt) and row.reason for name, row in ROWS.items() if name not in CALL_ROWS)
    assert inspect.isfunction(check_outcome)
