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
from scratch import batchnorm as bn
from scratch import clipping as cl
from scratch import conv as cv
from scratch import data_parallel as dp
from scratch import deep_net as dn
from scratch import gradient_check as gc
from scratch import logistic_regression as lr
from scratch import minibatch as mb
from scratch import normalization as nz
from scratch import optim as so
from scratch import regularization as reg
from scratch import rnn as rn
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
    "autodiff_graph.graph_figure": EXEMPT_GRAPH,
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


# ---- batch normalization, convolutions, recurrent nets, clipping and the newer optimizers ----------------------
# Small shapes, so that ~40 rows x 10 input kinds cost a few seconds: BN over (n=2, N=4); images (m=2, C=2, 4, 4)
# with a 3x3 kernel, stride 2, padding 1; a LeNet and a residual net on 4x4 and 2x2 images; recurrent cells with
# n_x=2, n_h=3, m=2 and T=3.
GAMMA, BETA = np.array([[1.5], [0.5]]), np.array([[0.2], [-1.0]])
IMG = np.arange(2 * 2 * 4 * 4, dtype=np.float64).reshape(2, 2, 4, 4) % 7 / 3 - 1
KERNEL = np.arange(3 * 2 * 3 * 3, dtype=np.float64).reshape(3, 2, 3, 3) % 5 / 4 - 0.5
KERNEL_BIAS = np.array([0.5, -1.0, 2.0])
CONV = {"stride": 2, "padding": 1}
DZ_CONV = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2) % 3 - 1
POOLED = IMG[:, :, ::2, ::2] * 2
LABELS = np.array([0, 1, 1, 0])
LENET = cv.initialize_lenet(rng=np.random.default_rng(1), image_size=4, channels=(2, 2), hidden=3, n_classes=2)
RESNET = cv.initialize_resnet(rng=np.random.default_rng(2), image_size=2, width=2, n_classes=2)
IMG_LENET, IMG_RESNET, LABELS2 = IMG[:, :1], IMG[:, :1, :2, :2], np.array([1, 0])
BLOCK = ("W2", "gamma2", "beta2", "W3", "gamma3", "beta3")
BN_NET = {"W1": W1, "gamma1": np.array([[1.0], [2.0], [0.5]]), "beta1": -B1, "W2": W2, "b2": B2}
_RNG = np.random.default_rng(3)
CELL_WEIGHTS = {G: rn.Weights(*(np.round(_RNG.uniform(-1, 1, size=shape), 1)
                                for shape in ((3 * G, 2), (3 * G, 3), (3 * G, 1), (3 * G, 1)))) for G in (1, 3, 4)}
XT, H0, C0 = X[:, :2], np.array([[0.5, -0.2], [0.1, 0.0], [-1.0, 0.3]]), np.array([[1.0, 0.5], [-0.4, 0.2], [0.0, 2.0]])
AX = {G: weights.W_ih @ XT + weights.b_ih for G, weights in CELL_WEIGHTS.items()}  # a step's input projection
SEQ = np.stack([X[:, :2], X[:, 2:], -X[:, 1:3]], axis=-1)  # (n_x=2, m=2, T=3)
DH_SEQ = np.stack([H0, C0, H0 - C0], axis=-1)  # (n_h=3, m=2, T=3)
GRU_NET = rn.RecurrentNet("gru", n_x=2, n_h=3, n_y=2, loss="mse")
LANGUAGE_NET = rn.RecurrentNet("rnn_tanh", n_x=2, n_h=3, n_y=3, vocab_size=3)
INDICES = np.array([[0, 2, 1], [1, 1, 0]])


def named(a: Arg, arrays: dict, keys: tuple[str, ...] | None = None) -> dict:
    return {key: a(key, arrays[key]) for key in (keys or arrays)}


def cell_weights(a: Arg, gates: int) -> rn.Weights:
    return rn.Weights(*(a(name, value) for name, value in zip(rn.Weights._fields, CELL_WEIGHTS[gates], strict=True)))


def rnn_params(a: Arg, net: rn.RecurrentNet) -> dict:
    shapes = net.shapes()
    return {name: a(name, np.round(np.random.default_rng(4).uniform(-1, 1, size=shape), 1))
            for name, shape in shapes.items()}


def bn_states(n: int = 3) -> list:
    return [bn.BatchNormState(n)]


def gradients(a: Arg) -> dict:
    return {"dW": a("dW", W1), "db": a("db", B1)}


def sgd(params_: dict, grads_: dict) -> None:
    for name, value in params_.items():
        value -= 0.1 * grads_["d" + name]


def truncated_bptt(a: Arg) -> tuple:
    p = rnn_params(a, GRU_NET)
    losses, norms = rn.train_truncated_bptt(GRU_NET, p, sgd, a("inputs", SEQ), a("targets", SEQ), chunk_length=2,
                                            max_norm=1.0)
    return losses, norms, p


EXEMPT_SCHEDULE = Exempt("takes an optimizer and hyperparameters; step() reads the optimizer's lr, no data array")
EXEMPT_RECORD = Exempt("a NamedTuple record of arrays: the functions that take one apply the policy to its entries")
ROWS.update({
    # batchnorm: Z (n, N), gamma and beta (n, 1); images (m, C, H, W) with gamma, beta (C,)
    "batchnorm.BatchNormState": EXEMPT_SIZES,
    "batchnorm.check_batchnorm_inputs": EXEMPT_VALIDATOR,
    "batchnorm.check_bn_inputs": EXEMPT_VALIDATOR,
    "batchnorm.check_bn_network": EXEMPT_VALIDATOR,
    "batchnorm.check_placement": EXEMPT_VALIDATOR,
    "batchnorm.initialize_bn_parameters": EXEMPT_SIZES,
    "batchnorm.make_bn_states": EXEMPT_SIZES,
    "batchnorm.batchnorm_forward": Call(lambda a: (
        bn.batchnorm_forward(a("Z", Z), a("gamma", GAMMA), a("beta", BETA), state := bn.BatchNormState(2),
                             training=True)[0], state.running_mean, state.running_var)),
    "batchnorm.batchnorm_backward": Call(lambda a: bn.batchnorm_backward(
        a("dout", X), bn.batchnorm_forward(Z, GAMMA, BETA, bn.BatchNormState(2), training=True)[1])),
    "batchnorm.batchnorm_eval_backward": Call(lambda a: bn.batchnorm_eval_backward(
        a("dout", X), bn.batchnorm_forward(Z, GAMMA, BETA, bn.BatchNormState(2), training=False)[1])),
    "batchnorm.images_to_rows": Call(lambda a: bn.images_to_rows(a("images", IMG))),
    "batchnorm.rows_to_images": Call(lambda a: bn.rows_to_images(a("rows", IMG.reshape(2, 32)), IMG.shape)),
    "batchnorm.batchnorm2d_forward": Call(lambda a: bn.batchnorm2d_forward(
        a("X", IMG), a("gamma", GAMMA[:, 0]), a("beta", BETA[:, 0]), bn.BatchNormState(2), training=True)[0]),
    "batchnorm.batchnorm2d_backward": Call(lambda a: bn.batchnorm2d_backward(
        a("dout", IMG[::-1]), bn.batchnorm2d_forward(IMG, GAMMA[:, 0], BETA[:, 0], bn.BatchNormState(2),
                                                     training=True)[1])),
    "batchnorm.bn_layer_forward": Call(lambda a: bn.bn_layer_forward(
        a("A_prev", X), named(a, BN_NET, ("W1", "gamma1", "beta1")), 1, bn.BatchNormState(3), placement="before",
        activation="relu", training=True)[0]),
    "batchnorm.bn_layer_backward": Call(lambda a: bn.bn_layer_backward(
        a("dA", W1 @ X), bn.bn_layer_forward(X, BN_NET, 1, bn.BatchNormState(3), placement="before",
                                             activation="relu", training=True)[1],
        placement="before", activation="relu", training=True)),
    "batchnorm.bn_model_logits": Call(lambda a: bn.bn_model_logits(a("X", X), named(a, BN_NET), bn_states())[0]),
    "batchnorm.bn_model_backward": Call(lambda a: bn.bn_model_backward(
        a("dZL", AL), bn.bn_model_logits(X, BN_NET, bn_states())[1])),
    "batchnorm.bn_loss_and_grads": Call(lambda a: bn.bn_loss_and_grads(named(a, BN_NET), bn_states(), a("X", X),
                                                                       a("Y", Y))),
    "batchnorm.bn_predict": Call(lambda a: bn.bn_predict(a("X", X), named(a, BN_NET), bn_states())),
    # clipping: the gradients are updated in place (refused unless writeable float32/float64); NaN/Inf propagate
    "clipping.total_norm": Call(lambda a: cl.total_norm(gradients(a))),
    "clipping.clip_grad_norm_": Call(lambda a: (cl.clip_grad_norm_(g := gradients(a), max_norm=0.5), g),
                                     updates=("dW", "db")),
    "clipping.clip_grad_value_": Call(lambda a: (cl.clip_grad_value_(g := gradients(a), clip_value=0.5), g)[1],
                                      updates=("dW", "db")),
    "clipping.clip": Call(lambda a: cl.clip(gradients(a), 0.5), updates=("dW", "db")),
    # conv: images (m, C, H, W), kernels (C_out, C_in, kH, kW)
    "conv.ConvGeometry": EXEMPT_SIZES,
    "conv.check_conv_inputs": EXEMPT_VALIDATOR,
    "conv.check_image_batch": EXEMPT_VALIDATOR,
    "conv.check_network_params": EXEMPT_VALIDATOR,
    "conv.initialize_lenet": EXEMPT_SIZES,
    "conv.initialize_resnet": EXEMPT_SIZES,
    "conv.make_resnet_states": EXEMPT_SIZES,
    "conv.zero_pad": Call(lambda a: cv.zero_pad(a("X", IMG), (1, 2))),
    "conv.conv_single_step": Call(lambda a: cv.conv_single_step(a("window", IMG[0, :, :3, :3]), a("W_o", KERNEL[1]),
                                                                a("b_o", np.array(0.5)))),
    **{f"conv.{f.__name__}": Call(lambda a, f=f: f(a("X", IMG), a("W", KERNEL), a("b", KERNEL_BIAS), **CONV)[0])
       for f in (cv.conv_forward_loops, cv.conv_forward_im2col, cv.conv_forward)},
    **{f"conv.{b.__name__}": Call(lambda a, f=f, b=b: b(a("dZ", DZ_CONV), f(IMG, KERNEL, KERNEL_BIAS, **CONV)[1]))
       for f, b in ((cv.conv_forward_loops, cv.conv_backward_loops), (cv.conv_forward_im2col, cv.conv_backward_im2col),
                    (cv.conv_forward, cv.conv_backward))},
    "conv.conv_windows": Call(lambda a: cv.conv_windows(a("X_pad", IMG), (3, 3), cv.ConvGeometry.of(), (2, 2))),
    "conv.dilate": Call(lambda a: cv.dilate(a("dZ", DZ_CONV), (2, 3))),
    "conv.rotate_kernel": Call(lambda a: cv.rotate_kernel(a("W", KERNEL), 1)),
    "conv.input_gradient_transposed": Call(lambda a: cv.input_gradient_transposed(
        a("dZ", DZ_CONV), a("W", KERNEL), cv.ConvGeometry.of(**CONV), (2, 2, 6, 6))),
    "conv.im2col": Call(lambda a: cv.im2col(a("X_pad", IMG), (3, 3), cv.ConvGeometry.of(), (2, 2))),
    "conv.col2im": Call(lambda a: cv.col2im(a("dcols", cv.im2col(IMG, (3, 3), cv.ConvGeometry.of(), (2, 2))),
                                            IMG.shape, cv.ConvGeometry.of())),
    "conv.max_pool_forward": Call(lambda a: cv.max_pool_forward(a("X", IMG), kernel_size=2)[0]),
    "conv.max_pool_backward": Call(lambda a: cv.max_pool_backward(a("dout", POOLED),
                                                                  cv.max_pool_forward(IMG, kernel_size=2)[1])),
    "conv.avg_pool_forward": Call(lambda a: cv.avg_pool_forward(a("X", IMG), kernel_size=2)[0]),
    "conv.avg_pool_backward": Call(lambda a: cv.avg_pool_backward(a("dout", POOLED),
                                                                  cv.avg_pool_forward(IMG, kernel_size=2)[1])),
    "conv.images_to_columns": Call(lambda a: cv.images_to_columns(a("A", IMG))),
    "conv.columns_to_images": Call(lambda a: cv.columns_to_images(a("dA", IMG.reshape(2, 32).T), IMG.shape)),
    "conv.softmax_gradient": Call(lambda a: cv.softmax_gradient(a("ZL", Z), LABELS)),
    "conv.lenet_forward": Call(lambda a: cv.lenet_forward(a("X", IMG_LENET), named(a, LENET))[0]),
    "conv.lenet_backward": Call(lambda a: cv.lenet_backward(a("dZ4", Z[:, :2]), named(a, LENET),
                                                            cv.lenet_forward(IMG_LENET, LENET)[1])),
    "conv.lenet_loss_and_grads": Call(lambda a: cv.lenet_loss_and_grads(named(a, LENET), a("X", IMG_LENET), LABELS2)),
    "conv.basic_block_forward": Call(lambda a: cv.basic_block_forward(
        a("X", IMG[:, :, :2, :2]), named(a, RESNET, BLOCK), cv.make_resnet_states(2), training=True)[0]),
    "conv.basic_block_backward": Call(lambda a: cv.basic_block_backward(
        a("dout", IMG[:, :, 2:, 2:]), cv.basic_block_forward(IMG[:, :, :2, :2], RESNET, cv.make_resnet_states(2),
                                                             training=True)[1], training=True)),
    "conv.resnet_forward": Call(lambda a: cv.resnet_forward(a("X", IMG_RESNET), named(a, RESNET),
                                                            cv.make_resnet_states(2))[0]),
    "conv.resnet_backward": Call(lambda a: cv.resnet_backward(
        a("dZ4", Z[:, :2]), named(a, RESNET), cv.resnet_forward(IMG_RESNET, RESNET, cv.make_resnet_states(2))[1])),
    "conv.resnet_loss_and_grads": Call(lambda a: cv.resnet_loss_and_grads(
        named(a, RESNET), cv.make_resnet_states(2), a("X", IMG_RESNET), LABELS2)),
    "deep_net.activation_forward": Call(lambda a: dn.activation_forward(a("Z", Z), "leaky_relu")),
    # optim: the newer functional cores and classes, schedules
    "optim.adadelta_step": step_core(so.adadelta_step, {"step": 0, "square_avg": ZEROS, "acc_delta": ZEROS}, lr=1.0,
                                     rho=0.9, eps=1e-6, weight_decay=0.1),
    "optim.adamax_step": step_core(so.adamax_step, {"step": 0, "exp_avg": ZEROS, "exp_inf": ZEROS}, lr=0.1,
                                   betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
    "optim.nadam_step": step_core(so.nadam_step, {"step": 0, "mu_product": so.MU_PRODUCT_DTYPE(1.0), "exp_avg": ZEROS,
                                                  "exp_avg_sq": ZEROS}, lr=0.1, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.1, momentum_decay=4e-3, decoupled_weight_decay=True),
    "optim.radam_step": step_core(so.radam_step, {"step": 0, "exp_avg": ZEROS, "exp_avg_sq": ZEROS}, lr=0.1,
                                  betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, decoupled_weight_decay=False),
    "optim.nadam_momentum": Exempt("takes hyperparameters and a step count: Python numbers, no data array"),
    "optim.radam_rectification": Exempt("takes two Python numbers derived from the step count, no data array"),
    "optim.Adadelta": optimizer(so.Adadelta, lr=1.0),
    "optim.Adamax": optimizer(so.Adamax, lr=0.1),
    "optim.NAdam": optimizer(so.NAdam, lr=0.1),
    "optim.RAdam": optimizer(so.RAdam, lr=0.1),
    **{f"optim.{name}": EXEMPT_SCHEDULE for name in ("LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR",
                                                     "CosineAnnealingLR", "OneCycleLR")},
    "optim.ReduceLROnPlateau": Exempt("takes an optimizer and hyperparameters; step(metric) takes one Python number"),
    # rnn: ax = W_ih x + b_ih (G n_h, m), h (n_h, m), sequences (n, m, T), torch's stacked gate weights
    "rnn.Weights": EXEMPT_RECORD,
    "rnn.StepCache": EXEMPT_RECORD,
    "rnn.LayerCache": EXEMPT_RECORD,
    "rnn.check_indices": EXEMPT_VALIDATOR,
    "rnn.layer_weights": Exempt("selects dict entries by name, no arithmetic"),
    "rnn.rnn_cell_forward": Call(lambda a: rn.rnn_cell_forward(a("ax", AX[1]), a("h_prev", H0), cell_weights(a, 1))[0]),
    "rnn.lstm_cell_forward": Call(lambda a: rn.lstm_cell_forward(a("ax", AX[4]), a("h_prev", H0), a("c_prev", C0),
                                                                 cell_weights(a, 4))[:2]),
    "rnn.gru_cell_forward": Call(lambda a: rn.gru_cell_forward(a("ax", AX[3]), a("h_prev", H0), cell_weights(a, 3))[0]),
    "rnn.rnn_cell_backward": Call(lambda a: rn.rnn_cell_backward(
        a("dh", C0), rn.rnn_cell_forward(AX[1], H0, CELL_WEIGHTS[1])[1])),
    "rnn.lstm_cell_backward": Call(lambda a: rn.lstm_cell_backward(
        a("dh", C0), a("dc", H0), rn.lstm_cell_forward(AX[4], H0, C0, CELL_WEIGHTS[4])[2])),
    "rnn.gru_cell_backward": Call(lambda a: rn.gru_cell_backward(
        a("dh", C0), rn.gru_cell_forward(AX[3], H0, CELL_WEIGHTS[3])[1])),
    "rnn.cell_forward": Call(lambda a: rn.cell_forward("lstm", a("ax", AX[4]), (a("state", H0), a("state", C0)),
                                                       cell_weights(a, 4))[0]),
    "rnn.cell_backward": Call(lambda a: rn.cell_backward(
        "lstm", (a("dstate", C0), a("dstate", H0)), rn.cell_forward("lstm", AX[4], (H0, C0), CELL_WEIGHTS[4])[1])),
    "rnn.layer_forward": Call(lambda a: rn.layer_forward("gru", a("X", SEQ), (a("state0", H0),),
                                                         cell_weights(a, 3))[:2]),
    "rnn.layer_backward": Call(lambda a: rn.layer_backward(
        "gru", a("dH", DH_SEQ), rn.layer_forward("gru", SEQ, (H0,), CELL_WEIGHTS[3])[2])),
    "rnn.stack_forward": Call(lambda a: rn.stack_forward(
        "rnn_tanh", a("X", SEQ), dict(zip(("W_ih_l0", "W_hh_l0", "b_ih_l0", "b_hh_l0"), cell_weights(a, 1),
                                          strict=True)), [(a("states0", H0),)], 1)[:2]),
    "rnn.stack_backward": Call(lambda a: rn.stack_backward("rnn_tanh", a("dH", DH_SEQ), rn.stack_forward(
        "rnn_tanh", SEQ, dict(zip(("W_ih_l0", "W_hh_l0", "b_ih_l0", "b_hh_l0"), CELL_WEIGHTS[1], strict=True)),
        [(H0,)], 1)[2])[:2]),
    "rnn.embedding_forward": Call(lambda a: rn.embedding_forward(INDICES, a("E", W1))),
    "rnn.embedding_backward": Call(lambda a: rn.embedding_backward(a("dX", SEQ), INDICES, a("E", W1))),
    "rnn.head_loss": Call(lambda a: rn.head_loss(a("Z", Z), a("targets", X), "mse")),
    "rnn.RecurrentNet": Call(lambda a: GRU_NET.loss_and_grads(rnn_params(a, GRU_NET), a("inputs", SEQ),
                                                              a("targets", SEQ))),
    "rnn.train_truncated_bptt": Call(truncated_bptt, updates=tuple(GRU_NET.shapes())),
    "rnn.sample": Call(lambda a: rn.sample(LANGUAGE_NET, rnn_params(a, LANGUAGE_NET), 0, a("uniforms", AL[0]))),
    "rnn.course_to_torch": Call(lambda a: rn.course_to_torch(
        {"Wax": a("Wax", CELL_WEIGHTS[1].W_ih), "Waa": a("Waa", CELL_WEIGHTS[1].W_hh),
         "ba": a("ba", CELL_WEIGHTS[1].b_ih), "Wya": a("Wya", W2), "by": a("by", B2)}, cell="rnn_tanh")),
    # data_parallel: three simulated workers' gradient buffers, the 2-3-1 net's gradients, 2 workers on X's 4 columns
    "data_parallel.chunk_bounds": EXEMPT_SIZES,
    "data_parallel.shard_indices": EXEMPT_SIZES,
    "data_parallel.worker_weights": EXEMPT_SIZES,
    "data_parallel.RingTraffic": Exempt("a record of byte counts computed by ring_all_reduce (row below)"),
    "data_parallel.ring_all_reduce": Call(lambda a: dp.ring_all_reduce([a("buffers", W1), a("buffers", -W1 / 3),
                                                                        a("buffers", W1 * 2)])[0]),
    "data_parallel.flatten": Call(lambda a: dp.flatten({"dW1": a("dW1", W1), "db1": a("db1", B1)}, ["W1", "b1"])),
    "data_parallel.unflatten": Call(lambda a: dp.unflatten(a("vector", X.reshape(-1)[:4]), {"W1": B1, "b1": B2})),
    "data_parallel.data_parallel_loss_and_grads": Call(
        lambda a: dp.data_parallel_loss_and_grads(params(a), a("X", X), a("Y", Y), 2)[:2]),
})


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
