"""Which test varies each defaulted parameter of ``scratch/``, ``scratch/course/`` and ``torch_ref/``.

:func:`defaulted_parameters` lists, by introspection, every parameter with a default of every public function,
class constructor and public method (parameters whose names start with ``_`` are the classes' own plumbing and skipped).
Each must be in exactly one of:

- ``VARIES``, keyed by callable: ``run(**kwargs)`` calls it on a small fixed problem and returns what the
  parameter should change; ``differs`` gives for each parameter a non-default value that must change that
  result beyond rounding (``With`` adds context the value needs, e.g. a momentum for ``dampening``), and
  ``same`` a non-default value that must *not* change it (``check=False`` on valid input, another
  implementation of the same function). ``tests/test_argument_sensitivity.py`` runs every entry three ways:
  omitted, the default passed explicitly (must equal omitted) and the non-default value; ``base`` replaces a
  default too costly to run (10000 iterations), and the varied value is then compared with the base value.
- ``ALLOWED``: parameters that cannot change a result on this machine, with the reason.

``python tests/argument_sensitivity.py`` writes ``docs/argument-sensitivity.md`` from this table (a test
checks the file is current).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import io
import pkgutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import scratch
import scratch.course
import torch_ref
from scratch import activations as act
from scratch import augmentation as aug
from scratch import autodiff as ad
from scratch import autodiff_graph as adg
from scratch import batchnorm as bn
from scratch import clipping as clp
from scratch import conv as cv
from scratch import data_parallel as sdp
from scratch import deep_net as dn
from scratch import gradient_check as gc
from scratch import initialization as ini
from scratch import logistic_regression as lr
from scratch import minibatch as mb
from scratch import normalization as nz
from scratch import optim as so
from scratch import regularization as reg
from scratch import rnn
from scratch import shallow_net as sn
from scratch import softmax as sm
from scratch import validation as val
from scratch.course import c1w2, c1w3, c1w4, c2w1, c2w2
from torch_ref import augmentation as taug
from torch_ref import batchnorm as tbn
from torch_ref import conv as tcv
from torch_ref import deep_net as tdn
from torch_ref import logistic_regression as tlr
from torch_ref import optim as top
from torch_ref import regularization as treg
from torch_ref import rnn as trnn
from torch_ref import shallow_net as tsn
from torch_ref import validation as tval

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "argument-sensitivity.md"
PACKAGES = (scratch, scratch.course, torch_ref)


@dataclass(frozen=True)
class With:
    """A non-default ``value`` that needs ``context`` (other keyword arguments) to have an effect."""
    value: object
    context: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Varies:
    run: Callable[..., object]
    differs: Mapping[str, object] = field(default_factory=dict)
    same: Mapping[str, object] = field(default_factory=dict)
    #: values passed on every run in place of defaults too costly to run (10000 iterations)
    base: Mapping[str, object] = field(default_factory=dict)


def public_callables() -> Iterator[tuple[str, Callable]]:
    """Every public function, class (its constructor) and public method defined in a class body, by name."""
    for package in PACKAGES:
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_") or info.ispkg:
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for attr, obj in vars(module).items():
                if attr.startswith("_") or not callable(obj) or getattr(obj, "__module__", None) != module.__name__:
                    continue
                yield f"{module.__name__}.{attr}", obj
                if isinstance(obj, type):
                    for name, member in vars(obj).items():
                        function = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                        if not name.startswith("_") and inspect.isfunction(function):
                            yield f"{module.__name__}.{attr}.{name}", function


def defaulted_parameters() -> list[tuple[str, str]]:
    """``(qualified callable, parameter)`` for every defaulted parameter of every public callable.

    An exception class's constructor is skipped: it is ``BaseException(*args)``, a built-in with no signature and
    no defaulted parameter (its public methods, if any, are still listed)."""
    return [(qualname, name) for qualname, obj in public_callables()
            if not (isinstance(obj, type) and issubclass(obj, BaseException))
            for name, parameter in inspect.signature(obj).parameters.items()
            if not name.startswith("_") and parameter.default is not inspect.Parameter.empty]


def default_of(qualname: str, parameter: str) -> object:
    return inspect.signature(dict(public_callables())[qualname]).parameters[parameter].default


# ---- small fixed problems ---------------------------------------------------------------------------------------
def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


X = _rng(1).standard_normal((3, 8))
Y = (X[:1] + X[1:2] > 0).astype(np.float64)
XB = _rng(7).standard_normal((3, 41))
LABELS = np.array([0, 1, 2, 1, 0, 2, 2, 1])
IMAGES = _rng(2).standard_normal((2, 1, 8, 8))
PADDED = np.pad(IMAGES, ((0, 0), (0, 0), (2, 2), (2, 2)))  # for image_size=12


def net(dims: tuple[int, ...] = (3, 4, 4, 1), seed: int = 0) -> dict[str, np.ndarray]:
    return ini.initialize_parameters(list(dims), method="xavier", rng=_rng(seed))


def outcome(function: Callable[[], object]) -> object:
    """The result, or the refusal (type and message) as a value: a check's verdict is what it raises."""
    try:
        return function()
    except (ValueError, TypeError, FloatingPointError) as error:
        return ("raised", type(error).__name__, str(error))


def printed(function: Callable[[], object]) -> tuple[object, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = function()
    return result, buffer.getvalue()


def legacy_seeded(function: Callable, *args: object, **kw: object) -> object:
    """``function`` called with NumPy's global legacy stream seeded (as the course does), then restored."""
    saved = np.random.get_state()  # noqa: NPY002 - the course's seed=None reads the global stream
    np.random.seed(2)  # noqa: NPY002
    try:
        return function(*args, **kw)
    finally:
        np.random.set_state(saved)  # noqa: NPY002


@contextlib.contextmanager
def seeded_torch(seed: int = 0) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# ---- runs, one per callable ---------------------------------------------------------------------------------
def run_optimizer(cls: type, steps: int = 4, **hyper: object) -> dict[str, np.ndarray]:
    """A few steps on ``0.5 |p - 1|^2`` plus a shrinking, sign-changing term (so maxima and histories matter)."""
    p = {"W": np.array([[0.5, -1.0], [2.0, 0.3]]), "b": np.array([[0.1], [-0.4]])}
    opt = cls(p, **hyper)
    for t in range(steps):
        opt.step(p, {f"d{k}": v - 1.0 + (-1) ** t * 3.0 / (t + 1) for k, v in p.items()})
    return p


def run_scheduler(cls: type, steps: int = 12, optimizer: type = so.SGD, **kw: object) -> list[tuple]:
    p = {"W": np.ones((2, 2))}
    opt = optimizer(p, lr=0.1, momentum=0.9) if optimizer is so.SGD else optimizer(p, lr=0.1)
    schedule = cls(opt, **kw)
    trace = []
    for _ in range(steps):
        schedule.step()
        trace.append((opt.lr, opt.hyper.get("momentum")))
    return trace


PLATEAU_METRICS = [100.0, 99.99, 99.99, 99.99, 50.0] + [49.999] * 25


def run_plateau(**kw: object) -> list[float]:
    opt = so.SGD({"W": np.ones((2, 2))}, lr=0.1)
    schedule = so.ReduceLROnPlateau(opt, **kw)
    lrs = []
    for metric in PLATEAU_METRICS:
        schedule.step(metric)
        lrs.append(opt.lr)
    return lrs


def run_torch_optimizer(make: Callable, **kw: object) -> torch.Tensor:
    p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    opt = make([p], **kw)
    for t in range(4):
        opt.zero_grad()
        ((p - 1.0) ** 2 / 2 + (-1) ** t * 3.0 / (t + 1) * p).sum().backward()
        opt.step()
    return p.detach().clone()


def run_early_stopping(cls: type, params: object, **kw: object) -> tuple:
    stopper = cls(patience=2, **kw)
    for epoch, loss in enumerate([1.0, 0.97, 0.95, 0.94, 0.935, 0.93, 0.9, 0.89]):
        if stopper.update(epoch, loss, params):
            break
    return stopper.best_epoch, stopper.stopped_epoch


def bn_setup(dims: tuple[int, ...] = (3, 4, 1), placement: str = "before"):
    params = bn.initialize_bn_parameters(list(dims), placement=placement, method="he", rng=_rng(0))
    return params, bn.make_bn_states(list(dims))


def bn_balanced(**kw: object) -> tuple:
    """Parameters and trained states whose output bias puts half the examples of ``XB`` on each side of 0.5."""
    params, states = bn_setup(placement=kw.get("placement", "before"))
    params["beta1"] = params["beta1"] + 1.0  # a shift that ReLU sees before BN and not after
    bn.bn_model_logits(XB, params, states, training=True, **kw)
    params["b2"] = params["b2"] - np.median(bn.bn_model_logits(XB, params, states, training=False, **kw)[0]) + 0.01
    return params, states


def bn_states_effect(states: list) -> tuple:
    """A training forward (output and running statistics) and an evaluation forward through ``states``."""
    dtype = states[0].running_mean.dtype
    params = bn.initialize_bn_parameters([3, 4, 1], placement="before", method="he", rng=_rng(0), dtype=dtype)
    ZL, _ = bn.bn_model_logits(X.astype(dtype), params, states, training=True)
    ZL2, _ = bn.bn_model_logits(X.astype(dtype) * 2, params, states, training=True)
    return ZL, ZL2, [(s.running_mean, s.running_var) for s in states], bn.bn_model_logits(
        X.astype(dtype), params, states, training=False)[0]


def run_clip(**kw: object) -> tuple:
    """The clipped gradients of a finite set, and the outcome on a set holding an infinity."""
    finite, infinite = {"a": X.copy()}, {"a": X.copy(), "b": np.array([np.inf])}
    norm = clp.clip_grad_norm_(finite, max_norm=1.0, **kw)
    return finite, norm, outcome(lambda: clp.clip_grad_norm_(infinite, max_norm=1.0, **kw))


def conv_cache(forward: Callable) -> tuple:
    W = _rng(3).standard_normal((2, 1, 3, 3))
    Z, cache = forward(IMAGES, W, np.zeros(2), stride=1, padding=1)
    return np.ones_like(Z) + Z / 10, cache


def run_conv_geometry(**kw: object) -> np.ndarray:
    geometry = cv.ConvGeometry(**kw)
    X4 = np.concatenate([IMAGES, IMAGES[:, :, ::-1]], axis=1)  # 2 channels
    W = _rng(3).standard_normal((2, 2 // geometry.groups, 3, 3))
    return cv.conv_forward(X4, W, None, **dataclasses.asdict(geometry))[0]


def lenet_setup():
    params = cv.initialize_lenet(rng=_rng(0), channels=(2, 3), hidden=5, n_classes=3)
    return params, IMAGES, np.array([0, 2])


def strided_lenet(strides: tuple[int, int]) -> dict[str, np.ndarray]:
    """:func:`lenet_setup`'s parameters for other strides (the dense layer's width follows them)."""
    return cv.initialize_lenet(rng=_rng(0), channels=(2, 3), hidden=5, n_classes=3, strides=strides)


def resnet_setup():
    params = cv.initialize_resnet(rng=_rng(0), width=2, n_classes=3)
    return params, cv.make_resnet_states(2), IMAGES, np.array([0, 2])


def run_resnet_states(**kw: object) -> tuple:
    states = cv.make_resnet_states(**kw)
    dtype = states[0].running_mean.dtype
    params = cv.initialize_resnet(rng=_rng(0), width=kw.get("width", 2), n_classes=3, dtype=dtype)
    loss, grads = cv.resnet_loss_and_grads(params, states, IMAGES.astype(dtype), np.array([0, 2]))
    return loss, grads, [(s.running_mean, s.running_var) for s in states]


def rnn_step(**kw: object) -> tuple:
    """One RNN step on the input projection ``W_ih x + b_ih`` of two examples, from ``h_prev = 1``."""
    w = rnn.layer_weights(rnn.RecurrentNet("rnn_tanh", 3, 4, 2).init_params(_rng(0)), 0)
    return rnn.rnn_cell_forward(w.W_ih @ X[:, :2] + w.b_ih, np.ones((4, 2)), w, **kw)


def rnn_run(**kw: object) -> tuple:
    model = rnn.RecurrentNet(**{"cell": "rnn_tanh", "n_x": 3, "n_h": 4, "n_y": 2, **kw})
    params = model.init_params(_rng(0))
    m, T = 2, 3
    if model.vocab_size is None:
        inputs = _rng(1).standard_normal((3, m, T))
    else:
        inputs = _rng(1).integers(0, model.vocab_size, size=(m, T))
    shape = (m,) if model.head == "many_to_one" else (m, T)
    targets = (_rng(2).integers(0, 2, size=shape) if model.loss == "cross_entropy"
               else _rng(2).standard_normal((2, *shape)))
    return model.loss_and_grads(params, inputs, targets)[:2]


def rnn_bptt(**kw: object) -> tuple:
    model = rnn.RecurrentNet("rnn_tanh", 3, 4, 2)
    params = model.init_params(_rng(0))
    opt = so.SGD(params, lr=0.5)
    inputs, targets = _rng(1).standard_normal((3, 2, 6)) * 3, _rng(2).integers(0, 2, size=(2, 6))
    return rnn.train_truncated_bptt(model, params, opt.step, inputs, targets, chunk_length=2, **kw), params


def torch_forward(make: Callable[..., torch.nn.Module], x: torch.Tensor, *, train: bool = True, **kw: object):
    with seeded_torch():
        model = make(**kw)
    model.train(train)
    with torch.no_grad():
        out = model(x.to(next(model.parameters()).dtype))
        if train:  # a second training batch, then evaluation: the running statistics and momentum show
            model(x.to(out.dtype) * 2)
            model.eval()
            out = (out, model(x.to(out.dtype)))
    return out


def torch_bptt(**kw: object) -> tuple:
    with seeded_torch():
        model = trnn.RecurrentModel(cell="rnn_tanh", n_x=3, n_h=4, n_y=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    inputs = torch.from_numpy(_rng(1).standard_normal((2, 6, 3)) * 3)
    targets = torch.from_numpy(_rng(2).integers(0, 2, size=(2, 6)))
    return trnn.train_truncated_bptt(model, opt, inputs, targets, loss="cross_entropy", chunk_length=2, **kw)


def torch_recurrent(**kw: object):
    kw = {"cell": "rnn_tanh", "n_x": 3, "n_h": 4, "n_y": 2, **kw}
    with seeded_torch():
        model = trnn.RecurrentModel(**kw)
    if kw.get("vocab_size"):
        inputs = torch.from_numpy(_rng(1).integers(0, kw["vocab_size"], size=(2, 3)))
    else:
        inputs = torch.from_numpy(_rng(1).standard_normal((2, 3, 3))).to(next(model.parameters()).dtype)
    with torch.no_grad():
        return model(inputs)[0]


def draw(**kw: object) -> bytes:
    a, b = ad.Value(2.0, label="a"), ad.Value(-3.0, label="b")
    out = a * b + a
    out.backward()
    with tempfile.TemporaryDirectory() as folder:
        return adg.draw_graph(out, Path(folder) / "g.png", **kw).read_bytes()


def graph_title(**kw: object) -> str:
    import matplotlib.pyplot as plt

    a, b = ad.Value(2.0, label="a"), ad.Value(-3.0, label="b")
    out = a * b + a
    out.backward()
    fig = adg.graph_figure(out, **kw)
    title = fig.axes[0].get_title()
    plt.close(fig)
    return title


def value_reduce(name: str, **kw: object) -> tuple:
    v = ad.Value(np.arange(6.0).reshape(2, 3) ** 2)
    out = getattr(v, name)(**kw)
    out.backward(np.ones(out.shape))
    return out.data, v.grad


def value_backward(**kw: object) -> np.ndarray:
    v = ad.Value(np.array([1.0, -2.0]))
    out = v * v if kw.get("grad") is not None else (v * v).sum()
    out.backward(**kw)
    return v.grad


def rnn_states(method: str, **kw: object) -> tuple:
    model = rnn.RecurrentNet("rnn_tanh", 3, 4, 2)
    params, inputs = model.init_params(_rng(0)), _rng(1).standard_normal((3, 2, 3))
    if method == "forward":
        return model.forward(params, inputs, **kw)
    return model.loss_and_grads(params, inputs, _rng(2).integers(0, 2, size=(2, 3)), **kw)


def value_run(**kw: object) -> tuple:
    v = ad.Value(np.array([1.0, -2.0]), **kw)
    return v.label, v.grad


def dropout_caches(**kw: object):
    params, masks = net(), {"D1": (_rng(4).random((4, 8)) < 0.6).astype(float), "D2": np.ones((4, 8))}
    return params, masks, reg.dropout_model_logits(params, X, masks, keep_prob=0.6, **kw)


def updates_in_place_run(**kw: object) -> object:
    @val.updates_in_place("param", **kw)
    def step(param: np.ndarray, grad: object) -> None:
        param -= 0.1 * np.asarray(grad).sum()
    return (outcome(lambda: step(np.ones((2, 2)), np.ones((3,)))),
            outcome(lambda: step(np.array([[1.0, np.inf]]), np.ones((1, 2)))))


C3_X = _rng(5).standard_normal((4, 6))
C3_Y = (C3_X[:1] > 0).astype(np.float64)
COURSE3 = c2w1.initialize_parameters_he([4, 5, 3, 1], seed=1)


def _seeded_model(make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    with seeded_torch():
        return make()


def _torch_augment(**kw: object) -> list[torch.Tensor]:
    transform = taug.make_augmentation((8, 8), padding=1, **kw)
    with seeded_torch():
        return [transform(torch.from_numpy(image)) for image in IMAGES.repeat(4, axis=0)]


def _torch_init(**kw: object) -> list[torch.Tensor]:
    model = tdn.DeepNet([3, 4, 1])
    with seeded_torch():
        tdn.init_parameters(model, "he", **kw)
    return [p.detach().clone() for p in model.parameters()]


def _torch_decay(**kw: object) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    schedule = top.inverse_time_decay(opt, decay_rate=1.0, **kw)
    lrs = []
    for _ in range(6):
        opt.step()
        schedule.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


# ---- the registry -----------------------------------------------------------------------------------------------
VARIES: dict[str, Varies] = {
    "scratch.activations.leaky_relu": Varies(lambda **kw: act.leaky_relu(X, **kw), {"negative_slope": 0.2}),
    "scratch.activations.leaky_relu_derivative": Varies(lambda **kw: act.leaky_relu_derivative(X, **kw),
                                                        {"negative_slope": 0.2}),
    "scratch.augmentation.draw_decisions": Varies(lambda **kw: aug.draw_decisions(_rng(0), 20, padding=1, **kw),
                                                  {"flip_prob": 0.9}),
    "scratch.autodiff.Value": Varies(value_run, {"label": "w", "requires_grad": False}),
    **{f"scratch.autodiff.Value.{name}": Varies(lambda name=name, **kw: value_reduce(name, **kw),
                                                {"axis": 0, "keepdims": True}) for name in ("sum", "mean")},
    "scratch.autodiff.Value.backward": Varies(value_backward, {"grad": np.array([1.0, -3.0])}),
    "scratch.autodiff_graph.draw_graph": Varies(draw, {"title": "a * b + a"}),
    "scratch.autodiff_graph.graph_figure": Varies(graph_title, {"title": "a * b + a"}),
    "scratch.batchnorm.BatchNormState": Varies(
        lambda **kw: bn_states_effect([bn.BatchNormState(4, **kw)]),
        {"momentum": None, "eps": 0.5, "dtype": np.float32}),
    "scratch.batchnorm.batchnorm_forward": Varies(
        lambda **kw: bn.batchnorm_forward(X, np.ones((3, 1)), np.zeros((3, 1)), bn.BatchNormState(3),
                                          training=True, **kw)[0], same={"check": False}),
    "scratch.batchnorm.batchnorm2d_backward": Varies(
        lambda **kw: bn.batchnorm2d_backward(IMAGES[:, :, :4, :4] ** 2, bn.batchnorm2d_forward(
            IMAGES[:, :, :4, :4], np.ones(1), np.zeros(1), bn.BatchNormState(1), training=True)[1], **kw),
        {"training": False}),
    "scratch.batchnorm.initialize_bn_parameters": Varies(
        lambda **kw: bn.initialize_bn_parameters([3, 4, 1], placement="before", method="he", rng=_rng(0), **kw),
        {"dtype": np.float32}),
    "scratch.batchnorm.make_bn_states": Varies(lambda **kw: bn_states_effect(bn.make_bn_states([3, 4, 1], **kw)),
                                               {"momentum": 0.5, "eps": 0.5, "dtype": np.float32}),
    "scratch.batchnorm.bn_model_logits": Varies(
        lambda **kw: bn.bn_model_logits(X, bn_setup(placement=kw.get("placement", "before"))[0],
                                        bn_setup()[1], **kw)[0],
        {"placement": "after", "hidden_activation": "tanh", "training": False}, same={"check": False}),
    "scratch.batchnorm.bn_model_backward": Varies(
        lambda **kw: bn.bn_model_backward(
            np.ones((1, 8)), bn.bn_model_logits(X, bn_setup(placement=kw.get("placement", "before"))[0],
                                                bn_setup()[1], placement=kw.get("placement", "before"))[1], **kw),
        {"placement": "after", "hidden_activation": "tanh", "training": False}),
    "scratch.batchnorm.bn_loss_and_grads": Varies(
        lambda **kw: bn.bn_loss_and_grads(bn_setup(placement=kw.get("placement", "before"))[0], bn_setup()[1],
                                          X, Y, **kw),
        {"placement": "after", "hidden_activation": "tanh", "training": False}, same={"check": False}),
    "scratch.batchnorm.bn_predict": Varies(
        lambda **kw: bn.bn_predict(XB, *bn_balanced(**kw), **kw),
        {"placement": "after", "hidden_activation": "tanh"}),
    "scratch.clipping.total_norm": Varies(lambda **kw: clp.total_norm({"a": X}, **kw), {"norm_type": 1.0}),
    "scratch.clipping.clip_grad_norm_": Varies(run_clip, {"norm_type": 1.0, "error_if_nonfinite": True}),
    "scratch.data_parallel.data_parallel_loss_and_grads": Varies(  # 3 workers on 8 examples: shards of 3, 3, 2
        lambda **kw: sdp.data_parallel_loss_and_grads(net(), X, Y, 3, **kw)[:2],
        {"hidden_activation": "tanh", "weighting": "examples"}, same={"check": False}),
    "scratch.conv.ConvGeometry.of": Varies(lambda **kw: run_conv_geometry(**dataclasses.asdict(
        cv.ConvGeometry.of(**kw))), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}),
    "scratch.conv.ConvGeometry": Varies(run_conv_geometry, {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2),
                                                            "groups": 2}),
    **{f"scratch.conv.{backward.__name__}": Varies(lambda f=forward, b=backward, **kw: b(*conv_cache(f), **kw),
                                                   {"input_grad": False})
       for forward, backward in ((cv.conv_forward_loops, cv.conv_backward_loops),
                                 (cv.conv_forward_im2col, cv.conv_backward_im2col),
                                 (cv.conv_forward, cv.conv_backward))},
    "scratch.conv.max_pool_forward": Varies(lambda **kw: cv.max_pool_forward(IMAGES, kernel_size=2, **kw)[0],
                                            {"stride": 1, "padding": 1}),
    "scratch.conv.avg_pool_forward": Varies(lambda **kw: cv.avg_pool_forward(IMAGES, kernel_size=2, **kw)[0],
                                            {"stride": 1, "padding": 1}),
    "scratch.conv.initialize_lenet": Varies(
        lambda **kw: {k: (v.shape, v.dtype) for k, v in cv.initialize_lenet(rng=_rng(0), **kw).items()},
        {"in_channels": 3, "image_size": 12, "channels": (4, 8), "hidden": 16, "n_classes": 5,
         "dtype": np.float32, "strides": (1, 2)}),
    "scratch.conv.lenet_forward": Varies(
        lambda **kw: cv.lenet_forward(IMAGES, strided_lenet(kw.get("strides", (1, 1))), **kw)[0],
        {"strides": (1, 2)}, same={"impl": "loops"}),
    "scratch.conv.lenet_backward": Varies(
        lambda **kw: cv.lenet_backward(np.ones((3, 2)), lenet_setup()[0],
                                       cv.lenet_forward(lenet_setup()[1], lenet_setup()[0], **kw)[1], **kw),
        same={"impl": "loops"}),
    "scratch.conv.lenet_loss_and_grads": Varies(
        lambda **kw: cv.lenet_loss_and_grads(strided_lenet(kw.get("strides", (1, 1))), *lenet_setup()[1:], **kw),
        {"strides": (1, 2)}, same={"impl": "loops", "check": False}),
    "scratch.conv.initialize_resnet": Varies(
        lambda **kw: {k: (v.shape, v.dtype) for k, v in cv.initialize_resnet(rng=_rng(0), **kw).items()},
        {"in_channels": 3, "image_size": 12, "width": 4, "n_classes": 5, "dtype": np.float32}),
    "scratch.conv.make_resnet_states": Varies(run_resnet_states, {"width": 3, "momentum": 0.5, "eps": 0.5,
                                                                  "dtype": np.float32}, base={"width": 2}),
    "scratch.conv.resnet_forward": Varies(
        lambda **kw: cv.resnet_forward(IMAGES, resnet_setup()[0], resnet_setup()[1], **kw)[0], {"training": False}),
    "scratch.conv.resnet_backward": Varies(
        lambda **kw: cv.resnet_backward(np.ones((3, 2)), resnet_setup()[0], cv.resnet_forward(
            IMAGES, resnet_setup()[0], resnet_setup()[1])[1], **kw), {"training": False}),
    "scratch.conv.resnet_loss_and_grads": Varies(lambda **kw: cv.resnet_loss_and_grads(*resnet_setup(), **kw),
                                                 {"training": False}, same={"check": False}),
    "scratch.deep_net.check_parameters": Varies(lambda **kw: outcome(lambda: dn.check_parameters(
        net(), 3, np.dtype(np.float64), **kw)), {"n_out": 3}),
    "scratch.deep_net.check_inputs": Varies(lambda **kw: outcome(lambda: dn.check_inputs(X, net(), "relu", **kw)),
                                            {"Y": Y[:, :5]}),
    **{f"scratch.deep_net.{name}": Varies(lambda f=f, **kw: f(X, net(), **kw)[0],
                                          {"hidden_activation": "tanh"}, same={"check": False})
       for name, f in (("L_model_logits", dn.L_model_logits), ("L_model_forward", dn.L_model_forward))},
    "scratch.deep_net.L_model_backward": Varies(
        lambda **kw: dn.L_model_backward(*dn.L_model_forward(X, net())[:1], Y, dn.L_model_forward(X, net())[1],
                                         **kw), {"hidden_activation": "tanh"}),
    "scratch.deep_net.loss_and_grads": Varies(lambda **kw: dn.loss_and_grads(net(), X, Y, **kw),
                                              {"hidden_activation": "tanh"}, same={"check": False}),
    "scratch.deep_net.predict": Varies(lambda **kw: dn.predict(X, {**net(), "b3": np.array([[0.05]])}, **kw),
                                       {"hidden_activation": "sigmoid"}),
    "scratch.gradient_check.numerical_gradient": Varies(
        lambda **kw: gc.numerical_gradient(lambda p: float(np.sum(p["W"] ** 3)), {"W": X[:2, :2]}, **kw),
        {"epsilon": 1e-2}),
    "scratch.gradient_check.gradient_check_n": Varies(
        lambda **kw: gc.gradient_check_n(lambda p: float(np.sum(p["W"] ** 3)), {"W": X[:2, :2]},
                                         {"dW": 3 * X[:2, :2] ** 2}, **kw), {"epsilon": 1e-2}),
    "scratch.initialization.initialize_parameters": Varies(
        lambda **kw: ini.initialize_parameters([3, 2], method="he", rng=_rng(0), **kw), {"dtype": np.float32}),
    "scratch.logistic_regression.initialize_with_zeros": Varies(lambda **kw: lr.initialize_with_zeros(3, **kw),
                                                                {"dtype": np.float32}),
    "scratch.logistic_regression.propagate": Varies(lambda **kw: lr.propagate(X[:, :1] * 0.1, 0.2, X, Y, **kw),
                                                    same={"check": False}),
    "scratch.logistic_regression.optimize": Varies(lambda **kw: lr.optimize(
        X[:, :1] * 0.1, 0.2, X, Y, num_iterations=5, learning_rate=0.5, **kw), same={"loop": True}),
    "scratch.logistic_regression.predict": Varies(lambda **kw: lr.predict(X[:, :1], 0.0, X, **kw),
                                                  {"threshold": 0.9}),
    "scratch.minibatch.random_mini_batches": Varies(lambda **kw: mb.random_mini_batches(X, Y, rng=_rng(0), **kw),
                                                    {"mini_batch_size": 3}),
    "scratch.normalization.Normalizer": Varies(
        lambda **kw: outcome(lambda: nz.Normalizer(np.zeros((3, 1)), np.ones((3, 1)), **kw).apply(X[:, :4])),
        {"layout": (3, 8)}),
    # optimizers: every hyperparameter (a momentum where dampening, nesterov or a schedule needs one)
    "scratch.optim.SGD": Varies(lambda **kw: run_optimizer(so.SGD, **kw), {
        "lr": 0.1, "momentum": 0.9, "dampening": With(0.5, {"momentum": 0.9}), "weight_decay": 0.1,
        "nesterov": With(True, {"momentum": 0.9})}),
    "scratch.optim.RMSprop": Varies(lambda **kw: run_optimizer(so.RMSprop, **kw), {
        "lr": 0.1, "alpha": 0.5, "eps": 0.5, "weight_decay": 0.1, "momentum": 0.9, "centered": True}),
    "scratch.optim.Adagrad": Varies(lambda **kw: run_optimizer(so.Adagrad, **kw), {
        "lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1, "initial_accumulator_value": 1.0, "eps": 0.5}),
    **{f"scratch.optim.{cls.__name__}": Varies(lambda cls=cls, **kw: run_optimizer(cls, **kw), {
        "lr": 0.1, "betas": (0.5, 0.9), "eps": 0.5, "weight_decay": 0.2, "amsgrad": True})
       for cls in (so.Adam, so.AdamW)},
    "scratch.optim.Adadelta": Varies(lambda **kw: run_optimizer(so.Adadelta, **kw), {
        "lr": 0.1, "rho": 0.5, "eps": 0.1, "weight_decay": 0.1}),
    "scratch.optim.Adamax": Varies(lambda **kw: run_optimizer(so.Adamax, **kw), {
        "lr": 0.1, "betas": (0.5, 0.9), "eps": 0.5, "weight_decay": 0.1}),
    "scratch.optim.NAdam": Varies(lambda **kw: run_optimizer(so.NAdam, **kw), {
        "lr": 0.1, "betas": (0.5, 0.9), "eps": 0.5, "weight_decay": 0.1, "momentum_decay": 0.5,
        "decoupled_weight_decay": With(True, {"weight_decay": 0.1})}),
    "scratch.optim.RAdam": Varies(lambda **kw: run_optimizer(so.RAdam, steps=8, **kw), {
        "lr": 0.1, "betas": (0.5, 0.9), "eps": 0.5, "weight_decay": 0.1,
        "decoupled_weight_decay": With(True, {"weight_decay": 0.1})}),
    "scratch.optim.MomentumCourse": Varies(lambda **kw: run_optimizer(so.MomentumCourse, **kw),
                                           {"lr": 0.1, "beta": 0.5}),
    "scratch.optim.RMSpropCourse": Varies(lambda **kw: run_optimizer(so.RMSpropCourse, **kw),
                                          {"lr": 0.1, "beta": 0.5, "epsilon": 0.5}),
    "scratch.optim.AdamCourse": Varies(lambda **kw: run_optimizer(so.AdamCourse, **kw),
                                       {"lr": 0.1, "beta1": 0.5, "beta2": 0.9, "epsilon": 0.5}),
    "scratch.optim.schedule_lr_decay": Varies(lambda **kw: so.schedule_lr_decay(0.5, 2500, 1.0, **kw),
                                              {"time_interval": 100}),
    "scratch.optim.StepLR": Varies(lambda **kw: run_scheduler(so.StepLR, step_size=3, **kw), {"gamma": 0.5}),
    "scratch.optim.MultiStepLR": Varies(lambda **kw: run_scheduler(so.MultiStepLR, milestones=[2, 5], **kw),
                                        {"gamma": 0.5}),
    "scratch.optim.CosineAnnealingLR": Varies(lambda **kw: run_scheduler(so.CosineAnnealingLR, T_max=5, **kw),
                                              {"eta_min": 0.01}),
    "scratch.optim.OneCycleLR": Varies(
        lambda **kw: run_scheduler(so.OneCycleLR, steps=19, max_lr=1.0, total_steps=20, **kw),
        {"pct_start": 0.5, "anneal_strategy": "linear", "cycle_momentum": False, "base_momentum": 0.5,
         "max_momentum": 0.99, "div_factor": 5.0, "final_div_factor": 10.0, "three_phase": True}),
    "scratch.optim.ReduceLROnPlateau": Varies(run_plateau, {
        "mode": "max", "factor": 0.5, "patience": 5, "threshold": 1e-6, "threshold_mode": "abs", "cooldown": 3,
        "min_lr": 0.005, "eps": 0.05}),
    "scratch.regularization.regularized_loss_and_grads": Varies(
        lambda **kw: reg.regularized_loss_and_grads(net(), X, Y, **kw),
        {"hidden_activation": "tanh", "l2": 0.5, "l1": 0.5}),
    "scratch.regularization.add_penalties": Varies(
        lambda **kw: reg.add_penalties(1.0, {f"d{k}": np.zeros_like(v) for k, v in net().items()}, net(), 8, **kw),
        {"l2": 0.5, "l1": 0.5}),
    "scratch.regularization.dropout_loss_and_grads": Varies(
        lambda **kw: reg.dropout_loss_and_grads(net(), X, Y, dropout_caches()[1], keep_prob=0.6, **kw),
        {"hidden_activation": "tanh"}),
    "scratch.regularization.dropout_model_logits": Varies(lambda **kw: dropout_caches(**kw)[2][0],
                                                          {"hidden_activation": "tanh"}),
    "scratch.regularization.dropout_model_backward": Varies(
        lambda **kw: reg.dropout_model_backward(np.ones((1, 8)), dropout_caches()[2][1], dropout_caches()[1],
                                                keep_prob=0.6, **kw), {"hidden_activation": "tanh"}),
    "scratch.regularization.EarlyStopping": Varies(lambda **kw: run_early_stopping(reg.EarlyStopping, {}, **kw),
                                                   {"min_delta": 0.015}),
    "scratch.rnn.rnn_cell_forward": Varies(lambda **kw: rnn_step(**kw)[0], {"nonlinearity": "relu"}),
    "scratch.rnn.rnn_cell_backward": Varies(
        lambda **kw: rnn.rnn_cell_backward(np.ones((4, 2)), rnn_step()[1], **kw), {"nonlinearity": "relu"}),
    "scratch.rnn.RecurrentNet": Varies(rnn_run, {"num_layers": 2, "head": "many_to_one", "loss": "mse",
                                                 "vocab_size": 5}),
    "scratch.rnn.train_truncated_bptt": Varies(rnn_bptt, {"max_norm": 0.1}),
    "scratch.rnn.RecurrentNet.init_params": Varies(
        lambda **kw: rnn.RecurrentNet("lstm", 3, 4, 2).init_params(_rng(0), **kw), {"dtype": "float32"}),
    "scratch.rnn.RecurrentNet.zero_state": Varies(lambda **kw: rnn.RecurrentNet("lstm", 3, 4, 2).zero_state(2, **kw),
                                                  {"dtype": "float32"}),
    "scratch.rnn.RecurrentNet.forward": Varies(lambda **kw: rnn_states("forward", **kw)[:2],
                                               {"states0": [(np.full((4, 2), 0.5),)]}),
    "scratch.rnn.RecurrentNet.loss_and_grads": Varies(lambda **kw: rnn_states("loss_and_grads", **kw),
                                                      {"states0": [(np.full((4, 2), 0.5),)]}),
    "scratch.shallow_net.layer_sizes": Varies(lambda **kw: sn.layer_sizes(X, Y, **kw), {"n_h": 7}),
    "scratch.shallow_net.initialize_parameters": Varies(
        lambda **kw: sn.initialize_parameters(3, 4, 1, rng=_rng(0), **kw), {"method": "he", "dtype": np.float32}),
    "scratch.shallow_net.check_inputs": Varies(lambda **kw: outcome(lambda: sn.check_inputs(
        X, sn.initialize_parameters(3, 4, 1, rng=_rng(0)), **kw)), {"Y": Y * 2}),
    "scratch.shallow_net.forward_propagation": Varies(
        lambda **kw: sn.forward_propagation(X, sn.initialize_parameters(3, 4, 1, rng=_rng(0)), **kw)[0],
        same={"check": False}),
    "scratch.shallow_net.loss_and_grads": Varies(
        lambda **kw: sn.loss_and_grads(sn.initialize_parameters(3, 4, 1, rng=_rng(0)), X, Y, **kw),
        same={"check": False}),
    "scratch.shallow_net.update_parameters": Varies(
        lambda **kw: sn.update_parameters(p := net((3, 1)), {f"d{k}": np.ones_like(v) for k, v in p.items()}, **kw),
        {"learning_rate": 0.1}),
    "scratch.shallow_net.nn_model": Varies(lambda **kw: sn.nn_model(X, Y, 3, rng=_rng(0), **kw),
                                           {"num_iterations": 7, "learning_rate": 0.3}, base={"num_iterations": 5}),
    "scratch.softmax.check_labels": Varies(lambda **kw: outcome(lambda: sm.check_labels("labels", LABELS, 3, **kw)),
                                           {"m": 5}),
    "scratch.softmax.one_hot": Varies(lambda **kw: sm.one_hot(LABELS, 3, **kw), {"dtype": np.float32}),
    "scratch.softmax.check_inputs": Varies(
        lambda **kw: outcome(lambda: sm.check_inputs(X, net((3, 4, 3)), "relu", **kw)), {"labels": LABELS + 1}),
    "scratch.softmax.L_model_forward": Varies(lambda **kw: sm.L_model_forward(X, net((3, 4, 3)), **kw)[0],
                                              {"hidden_activation": "tanh"}, same={"check": False}),
    "scratch.softmax.loss_and_grads": Varies(lambda **kw: sm.loss_and_grads(net((3, 4, 3)), X, LABELS, **kw),
                                             {"hidden_activation": "tanh"}, same={"check": False}),
    "scratch.softmax.cost_and_grads_from_logits": Varies(
        lambda **kw: sm.cost_and_grads_from_logits(*dn.L_model_logits(X, net((3, 4, 3)), check=False)[:1], LABELS,
                                                   dn.L_model_logits(X, net((3, 4, 3)), check=False)[1], **kw),
        {"hidden_activation": "tanh"}),
    "scratch.softmax.predict": Varies(lambda **kw: sm.predict(X, net((3, 4, 3)), **kw),
                                      {"hidden_activation": "sigmoid"}),
    "scratch.validation.updates_in_place": Varies(updates_in_place_run, {"same_shape": "grad", "finite": False}),
    "scratch.validation.check_updatable": Varies(
        lambda **kw: outcome(lambda: val.check_updatable("g", np.array([1.0, np.inf]), **kw)), {"finite": False}),
    "scratch.validation.check_array": Varies(lambda **kw: outcome(lambda: val.check_array("x", X[0], **kw)),
                                             {"ndim": 2}),
    "scratch.validation.check_in_range": Varies(
        lambda **kw: [outcome(lambda v=v: val.check_in_range("p", v, 0.0, 1.0, **kw)) for v in (0.0, 1.0)],
        {"low_open": True, "high_open": True}),
    "torch_ref.validation.check_number": Varies(
        lambda **kw: [outcome(lambda v=v: tval.check_number("p", v, low=0.0, **kw)) for v in (0.0, 1.0, 5.0)],
        {"high": 2.0, "low_open": True, "high_open": With(True, {"high": 1.0})}),
    "scratch.validation.check_binary_dataset": Varies(
        lambda **kw: [outcome(lambda: val.check_binary_dataset(X * np.nan, Y, **kw)),
                      outcome(lambda: val.check_binary_dataset(X, Y * 2, **kw))],
        {"x_name": "X_train", "y_name": "Y_train"}),
    # the course's functions (print_cost/print_msg: what they print is the result)
    "scratch.course.c1w2.optimize": Varies(
        lambda **kw: printed(lambda: c1w2.optimize(X[:, :1] * 0.1, 0.2, X, Y, **kw)),
        {"num_iterations": 7, "learning_rate": 0.5, "print_cost": True}, base={"num_iterations": 5}),
    "scratch.course.c1w2.model": Varies(
        lambda **kw: printed(lambda: c1w2.model(X, Y, X[:, :3], Y[:, :3], **kw)),
        {"num_iterations": 7, "learning_rate": 0.05, "print_cost": True}, base={"num_iterations": 5}),
    "scratch.course.c1w3.initialize_parameters": Varies(lambda **kw: legacy_seeded(c1w3.initialize_parameters, 3, 4, 1,
                                                                                   **kw),
                                                        {"seed": 5, "rng": _rng(0)}),
    "scratch.course.c1w3.update_parameters": Varies(
        lambda **kw: c1w3.update_parameters(p := net((3, 1)), {f"d{k}": np.ones_like(v) for k, v in p.items()},
                                            **kw), {"learning_rate": 0.1}),
    "scratch.course.c1w3.nn_model": Varies(lambda **kw: printed(lambda: c1w3.nn_model(X, Y, 3, **kw)), {
        "num_iterations": 7, "print_cost": True, "seed": 5, "rng": _rng(0)}, base={"num_iterations": 5}),
    "scratch.course.c1w4.initialize_parameters": Varies(lambda **kw: c1w4.initialize_parameters(3, 4, 1, **kw),
                                                        {"seed": 5, "rng": _rng(0)}),
    "scratch.course.c1w4.initialize_parameters_deep": Varies(
        lambda **kw: c1w4.initialize_parameters_deep([3, 4, 1], **kw), {"seed": 5, "rng": _rng(0)}),
    **{f"scratch.course.c1w4.{f.__name__}": Varies(lambda f=f, dims=dims, **kw: printed(lambda: f(X, Y, dims, **kw)), {
        "learning_rate": 0.5, "num_iterations": 7, "print_cost": True, "seed": 5, "rng": _rng(0)},
        base={"num_iterations": 5})
       for f, dims in ((c1w4.two_layer_model, (3, 4, 1)), (c1w4.L_layer_model, [3, 4, 2, 1]))},
    **{f"scratch.course.c2w1.{f.__name__}": Varies(lambda f=f, **kw: f([3, 4, 1], **kw), {"seed": 5, "rng": _rng(0)})
       for f in (c2w1.initialize_parameters_random, c2w1.initialize_parameters_he)},
    "scratch.course.c2w1.forward_propagation_with_dropout": Varies(
        lambda **kw: c2w1.forward_propagation_with_dropout(C3_X, COURSE3, **kw)[0],
        {"keep_prob": 0.8, "seed": 5, "rng": _rng(0)}),
    "scratch.course.c2w1.gradient_check": Varies(lambda **kw: printed(lambda: c2w1.gradient_check(2.0, 4.0, **kw)),
                                                 {"epsilon": 1e-2, "print_msg": True}),
    "scratch.course.c2w1.dictionary_to_vector": Varies(lambda **kw: c2w1.dictionary_to_vector(COURSE3, **kw),
                                                       {"keys": ("b3", "W3", "b2", "W2", "b1", "W1")}),
    "scratch.course.c2w1.vector_to_dictionary": Varies(
        lambda **kw: c2w1.vector_to_dictionary(np.arange(47.0).reshape(-1, 1), **kw),
        {"shapes": {"W1": (4, 5), "b1": (5, 1), "W2": (5, 3), "b2": (3, 1), "W3": (3, 1), "b3": (1, 1)}}),
    "scratch.course.c2w1.gradient_check_n": Varies(lambda **kw: printed(lambda: c2w1.gradient_check_n(
        COURSE3, {k: v * 1.01 for k, v in c2w1.backward_propagation_n(
            C3_X, C3_Y, c2w1.forward_propagation_n(C3_X, C3_Y, COURSE3)[1]).items()}, C3_X, C3_Y, **kw)),
        {"epsilon": 1e-2, "print_msg": True}),
    "scratch.course.c2w2.random_mini_batches": Varies(lambda **kw: c2w2.random_mini_batches(X, Y, **kw), {
        "mini_batch_size": 3, "seed": 5, "rng": _rng(0)}),
    "scratch.course.c2w2.update_parameters_with_adam": Varies(
        lambda **kw: c2w2.update_parameters_with_adam(
            p := net((3, 1)), {f"d{k}": np.full_like(v, 0.5) for k, v in p.items()}, *c2w2.initialize_adam(p), 2, **kw),
        {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.9, "epsilon": 0.5}),
    # torch_ref
    "torch_ref.augmentation.make_augmentation": Varies(_torch_augment, {"flip_prob": 0.9}),
    "torch_ref.batchnorm.BNDeepNet": Varies(
        lambda **kw: torch_forward(lambda **k: tbn.BNDeepNet([3, 4, 1], **k), torch.from_numpy(X.T), **kw),
        {"placement": "after", "hidden_activation": "tanh", "momentum": 0.5, "eps": 0.5, "dtype": torch.float32}),
    "torch_ref.conv.LeNet": Varies(
        lambda **kw: torch_forward(lambda **k: tcv.LeNet(**k), torch.from_numpy(np.tile(
            IMAGES, (1, kw.get("in_channels", 1), 1, 1)) if kw.get("image_size", 8) == 8 else PADDED),
            train=False, **kw),
        {"in_channels": 3, "image_size": 12, "channels": (4, 8), "hidden": 16, "n_classes": 5,
         "dtype": torch.float32, "strides": (1, 2)}),
    "torch_ref.conv.BasicBlock": Varies(
        lambda **kw: torch_forward(lambda **k: tcv.BasicBlock(1, **k), torch.from_numpy(IMAGES), **kw),
        {"momentum": 0.5, "eps": 0.5, "dtype": torch.float32}),
    "torch_ref.conv.SmallResNet": Varies(
        lambda **kw: torch_forward(lambda **k: tcv.SmallResNet(**k), torch.from_numpy(np.tile(
            IMAGES, (1, kw.get("in_channels", 1), 1, 1)) if kw.get("image_size", 8) == 8 else PADDED), **kw),
        {"in_channels": 3, "image_size": 12, "width": 4, "n_classes": 5, "momentum": 0.5, "eps": 0.5,
         "dtype": torch.float32}),
    "torch_ref.deep_net.DeepNet": Varies(
        lambda **kw: torch_forward(lambda **k: tdn.DeepNet([3, 4, 1], **k), torch.from_numpy(X.T), train=False,
                                   **kw), {"hidden_activation": "tanh", "dtype": torch.float32}),
    "torch_ref.deep_net.init_parameters": Varies(_torch_init, {"generator": torch.Generator().manual_seed(5)}),
    "torch_ref.logistic_regression.LogisticRegression": Varies(
        lambda **kw: torch_forward(lambda **k: tlr.LogisticRegression(3, **k), torch.from_numpy(X.T), train=False,
                                   **kw), {"dtype": torch.float32}),
    "torch_ref.logistic_regression.predict": Varies(
        lambda **kw: tlr.predict(_seeded_model(lambda: tlr.LogisticRegression(3)), torch.from_numpy(X.T), **kw),
        {"threshold": 0.7}),
    "torch_ref.optim.momentum_course": Varies(lambda **kw: run_torch_optimizer(top.momentum_course, **kw),
                                              {"lr": 0.1, "beta": 0.5}),
    "torch_ref.optim.rmsprop_course": Varies(lambda **kw: run_torch_optimizer(top.rmsprop_course, **kw),
                                             {"lr": 0.1, "beta": 0.5, "epsilon": 0.5}),
    "torch_ref.optim.adam_course": Varies(lambda **kw: run_torch_optimizer(top.adam_course, **kw),
                                          {"lr": 0.1, "beta1": 0.5, "beta2": 0.9, "epsilon": 0.5}),
    "torch_ref.optim.inverse_time_decay": Varies(lambda **kw: _torch_decay(**kw), {"time_interval": 3}),
    "torch_ref.regularization.DropoutNet": Varies(
        lambda **kw: torch_forward(lambda **k: treg.DropoutNet([3, 4, 1], keep_prob=0.5, **k), torch.from_numpy(X.T),
                                   train=False, **kw), {"hidden_activation": "tanh", "dtype": torch.float32}),
    "torch_ref.regularization.PenalizedLoss": Varies(
        lambda **kw: treg.PenalizedLoss(_seeded_model(lambda: tdn.DeepNet([3, 4, 1])), m=8, **kw)(
            torch.zeros(8, 1, dtype=torch.float64), torch.from_numpy(Y.T)).detach(), {"l2": 0.5, "l1": 0.5}),
    "torch_ref.regularization.EarlyStopping": Varies(
        lambda **kw: run_early_stopping(treg.EarlyStopping, torch.nn.Linear(1, 1), **kw), {"min_delta": 0.015}),
    "torch_ref.rnn.RecurrentModel": Varies(torch_recurrent, {
        "num_layers": 2, "head": "many_to_one", "vocab_size": 5, "batch_first": False, "dtype": torch.float32}),
    "torch_ref.rnn.train_truncated_bptt": Varies(torch_bptt, {"max_norm": 0.1}),
    "torch_ref.rnn.RecurrentModel.forward": Varies(
        lambda **kw: _seeded_model(lambda: trnn.RecurrentModel(cell="rnn_tanh", n_x=3, n_h=4, n_y=2))(
            torch.from_numpy(_rng(1).standard_normal((2, 3, 3))), **kw),
        {"state": torch.full((1, 2, 4), 0.5, dtype=torch.float64)}),
    "torch_ref.shallow_net.ShallowNet": Varies(
        lambda **kw: torch_forward(lambda **k: tsn.ShallowNet(3, 4, **k), torch.from_numpy(X.T), train=False, **kw),
        {"n_y": 2, "dtype": torch.float32}),
}


#: Parameters that cannot change a result on this machine, and why. Each is still passed by some test.
ALLOWED: dict[tuple[str, str], str] = {
    **{(name, "device"): "where the module's tensors live; the same numbers on 'cuda' are the CUDA parity runs' "
                         "business (tests marked cuda), and this machine may have no GPU"
       for name in ("torch_ref.batchnorm.BNDeepNet", "torch_ref.conv.LeNet", "torch_ref.conv.BasicBlock",
                    "torch_ref.conv.SmallResNet", "torch_ref.deep_net.DeepNet",
                    "torch_ref.logistic_regression.LogisticRegression", "torch_ref.regularization.DropoutNet",
                    "torch_ref.rnn.RecurrentModel", "torch_ref.shallow_net.ShallowNet")},
    **{(name, "device_type"): "'cuda' means NCCL with one GPU per rank; this machine may have no GPU, and the same "
                              "numbers on CUDA are the CUDA parity runs' business (the cases' cuda device)"
       for name in ("torch_ref.data_parallel.spawn_training", "torch_ref.data_parallel.RankGroup")},
    ("torch_ref.data_parallel.RankGroup", "timeout"): "a guard against a hung rank: no reply of ranks that answer "
                                                      "depends on it; tests/test_data_parallel.py shows a rank that "
                                                      "dies or raises is reported well within it",
    ("torch_ref.data_parallel.RankTraining", "epoch"): "the count of epochs train_epoch has run, passed to "
                                                       "DistributedSampler.set_epoch, which deals the same shards "
                                                       "every epoch with shuffle=False (the only sampler build makes)",
    ("torch_ref.data_parallel.RankTraining", "loss"): "the last step's loss, written by train_epoch; a value given "
                                                      "at construction is overwritten by the first step, unread",
    ("scratch.course.c1w3.compute_cost", "parameters"): "the course's signature keeps it, unused: the cost is a "
                                                        "function of A2 and Y only",
}


# ---- the report -------------------------------------------------------------------------------------------------
def entries() -> list[tuple[str, str, str, object]]:
    """``(callable, parameter, kind, value or reason)`` for every registry entry; kind is differs/same/allowed."""
    rows = []
    for qualname, spec in VARIES.items():
        rows += [(qualname, p, "differs", With(v, {p: spec.base[p]}) if p in spec.base else v)
                 for p, v in spec.differs.items()]
        rows += [(qualname, p, "same", v) for p, v in spec.same.items()]
    rows += [(q, p, "allowed", reason) for (q, p), reason in ALLOWED.items()]
    return rows


def _shown(value: object) -> str:
    if isinstance(value, With):
        return f"{_shown(value.value)} (with {', '.join(f'{k}={_shown(v)}' for k, v in value.context.items())})" \
            if value.context else _shown(value.value)
    if isinstance(value, np.random.Generator):
        return "a Generator"
    if isinstance(value, torch.Generator):
        return "a torch.Generator"
    if isinstance(value, type):
        return f"np.{value.__name__}"
    if isinstance(value, torch.Tensor):
        return f"a {tuple(value.shape)} tensor"
    if isinstance(value, np.ndarray):
        return " ".join(np.array2string(value, separator=", ").split()) if value.size <= 8 else \
            f"a {value.shape} array"
    if isinstance(value, list | tuple) and any(isinstance(v, np.ndarray | list | tuple) for v in value):
        inner = ", ".join(_shown(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value).replace("|", "\\|")


def counts() -> dict[str, int]:
    kinds = [kind for _, _, kind, _ in entries()]
    return {"parameters": len(defaulted_parameters()), "callables": len({q for q, _ in defaulted_parameters()}),
            "differs": kinds.count("differs"), "same": kinds.count("same"), "allowed": kinds.count("allowed")}


def render() -> str:
    c = counts()
    lines = [
        "# Argument sensitivity: what varies each defaulted parameter",
        "",
        "Generated by `python tests/argument_sensitivity.py` from its registry; "
        "`tests/test_argument_sensitivity.py` checks that this file is current and runs every row.",
        "",
        f"{c['parameters']} defaulted parameters of {c['callables']} public functions, constructors and methods of "
        f"`scratch/`, `scratch/course/` and `torch_ref/`: **{c['differs'] + c['same']} varied** "
        f"({c['differs']} must change the result, {c['same']} must not), {c['allowed']} allowed unvaried.",
        "",
        "Each row is run three ways: the parameter omitted, its default passed explicitly (the same result), "
        "and the value shown (the result changes beyond rounding, or for *same* stays equal within 1e-9).",
        "",
        "| callable | parameter | default | varied to | expect |",
        "|---|---|---|---|---|",
    ]
    for qualname, parameter, kind, value in entries():
        default = _shown(default_of(qualname, parameter))
        if kind == "allowed":
            lines.append(f"| `{qualname}` | `{parameter}` | {default} | not varied: {value} | allowed |")
        else:
            if isinstance(value, With) and parameter in value.context:  # a base value stands for the default
                shown = f"{_shown(value.value)} (against {_shown(value.context[parameter])}, not the default)"
            else:
                shown = _shown(value)
            lines.append(f"| `{qualname}` | `{parameter}` | {default} | {shown} | {kind} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    DOC.write_text(render())
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
