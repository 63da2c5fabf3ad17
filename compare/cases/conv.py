"""Convolutional networks: scratch.conv's LeNet and residual block against torch_ref.conv + autograd.

LeNet-style on scikit-learn's 8x8 digits (offline): ``conv3x3 -> ReLU -> maxpool2 -> conv3x3 -> ReLU ->
maxpool2 -> flatten -> dense -> ReLU -> dense``, softmax cross-entropy, trained with plain SGD, SGD with
momentum and Adam from :mod:`scratch.optim` (``torch.optim`` on the other side; optimizer state compared
as ``state.<name>.momentum_buffer`` / ``exp_avg`` / ``exp_avg_sq`` / ``step``). The default variants use
the fast convolution; two more run the same net with the im2col and the course's loop implementations.
The residual variant is ``conv -> ReLU -> [conv-BN-ReLU-conv-BN + identity -> ReLU] -> avgpool -> dense``
with ``nn.BatchNorm2d``'s running statistics compared as ``state.bn{2,3}.*``.

Kink watch (:mod:`compare.core.kinks`), each side from its own values: every ReLU input with its
condition scale (a convolution's: the same convolution of ``|A_prev|`` and ``|W|`` plus ``|b|``; a BN
output's: ``|gamma| invstd (conv scale + |mu|) + |beta|``; the residual sum adds ``|x|``), and every
max-pooling decision. A max-pool window routes its gradient to its first maximum; entry ``k`` of a window
is that maximum exactly when ``x_k - max(max_{j<k} x_j, pred(max_{j>k} x_j)) > 0`` (``pred``: the next
float below, so a later *equal* value does not beat ``x_k``). A tie that rounding creates on one side
only flips that sign, and is bounded and reported like a ReLU crossing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

import scratch.batchnorm as bn
import scratch.conv as sc
import scratch.optim as so
import torch_ref.conv as tc
import torch_ref.optim as to
from compare.cases.networks import TORCH_BACKWARD, TORCH_COST, TORCH_UPDATE, column
from compare.core.devices import to_numpy, to_torch, torch_dtype
from compare.core.kinks import Preactivation, preactivation
from compare.core.problem import Observation, Problem, initial_parameters_rng
from compare.core.registry import Case, Excerpt, Stage, register, register_optional
from compare.core.trainers import ParamMap, ScratchTrainer, TorchTrainer, load_parameters, observe_parameters
from compare.data import datasets
from compare.perf.microbench import (
    MICROBENCH,
    ConceptBench,
    TimingPlan,
    bench_row,
    register_concept_bench,
    time_on,
    verdict,
)
from scratch.gradient_check import gradient_check_n
from scratch.softmax import cross_entropy_from_logits
from torch_ref.training import train_step

#: Stream of ``np.random.default_rng([seed, DATA_STREAM])`` choosing the training images.
DATA_STREAM = 5
LENET = {"channels": (4, 8), "hidden": 16}
RESNET_WIDTH = 4


def digits_images(seed: int, m: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``m`` digits chosen by ``seed``: images ``(m, 1, 8, 8)`` scaled to [0, 1] and integer labels ``(m,)``."""
    data = datasets.digits(dtype="float64")
    chosen = np.sort(np.random.default_rng([seed, DATA_STREAM]).permutation(data.m)[:m])
    images = data.subset(chosen).images() / 16.0
    return np.ascontiguousarray(images, dtype=dtype), data.Y[0, chosen].astype(np.int64)


#: Real-data variants draw their examples from this many leading training images (the whole MNIST set is
#: 376 MB and CIFAR-10's 1.2 GB in float64).
REAL_POOL = 4096
#: ``name -> (loader, LeNet geometry)``; CIFAR-10 as the lectures' cat vs non-cat, with balanced draws.
REAL_SETS = {
    "mnist": (datasets.mnist, {"in_channels": 1, "image_size": 28, "n_classes": 10}),
    "cifar10": (datasets.cifar10_cat_vs_noncat, {"in_channels": 3, "image_size": 32, "n_classes": 2}),
}


@functools.lru_cache(maxsize=1)
def _real_pool(name: str, folder: str) -> tuple[np.ndarray, np.ndarray]:
    """The first :data:`REAL_POOL` training images ``(n, C, H, W)`` in [0, 1] and their labels ``(n,)``."""
    loader, _ = REAL_SETS[name]
    data = loader(folder, train=True, limit=REAL_POOL)
    return data.images(), data.Y[0].astype(np.int64)


def real_images(name: str, seed: int, m: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``m`` images of data set ``name`` chosen by ``seed`` (half cats for ``cifar10``), and their labels."""
    images, labels = _real_pool(name, str(datasets.data_dir()))
    order = np.random.default_rng([seed, DATA_STREAM]).permutation(len(labels))
    if name == "cifar10":  # 10% of CIFAR-10 are cats: take m/2 of each class, as the course's balanced set
        order = np.concatenate([order[labels[order] == 1][:m // 2], order[labels[order] == 0][:m - m // 2]])
    chosen = np.sort(order[:m])
    if len(chosen) < m:
        raise ValueError(f"{name}: the first {REAL_POOL} training images hold too few examples for m = {m}")
    return np.ascontiguousarray(images[chosen], dtype=dtype), labels[chosen]


def conv_problem(seed: int, dtype: np.dtype, *, net: str, m: int, optimizer: str, hyper: dict, impl: str = "fast",
                 exact_ties: bool = False, images: str = "digits", strides: tuple[int, int] = (1, 1)) -> Problem:
    """Images, He-initialised LeNet or residual-net parameters, the optimizer and the convolution to use.

    ``images`` is ``digits`` (offline) or a downloaded set of :data:`REAL_SETS`, with LeNet sized to it;
    ``strides`` are LeNet's two convolutions'.

    ``exact_ties``: LeNet's first kernel drawn from {-1/4, 0, 1/4} with zero biases instead. The pixels are
    multiples of 1/16, so every first-layer output is a multiple of 1/64, computed exactly on both sides in
    any order, and many 2x2 pooling windows hold equal maxima that come from *different* input windows: the
    only situation in which the choice among tied maxima changes a parameter gradient (equal outputs of
    equal windows send equal gradients to ``W``). After the first update the ties are gone.
    """
    X, labels = digits_images(seed, m, dtype) if images == "digits" else real_images(images, seed, m, dtype)
    geometry = {"strides": strides, **({} if images == "digits" else REAL_SETS[images][1])}
    rng = initial_parameters_rng(seed)
    if net == "lenet":
        params = sc.initialize_lenet(rng=rng, dtype=dtype, **LENET, **geometry)
        if exact_ties:
            params["W1"] = (rng.integers(-1, 2, params["W1"].shape) / 4).astype(dtype)
    else:
        params, geometry = sc.initialize_resnet(rng=rng, width=RESNET_WIDTH, dtype=dtype), {}
    return Problem(seed, np.dtype(dtype), {"X": X, "labels": labels}, params,
                   {"net": net, "optimizer": optimizer, "optimizer_hyper": dict(hyper), "impl": impl,
                    "geometry": geometry})


# --- kinks: the same functions read either side's values ----------------------------------------------

def conv_preactivation(Z: np.ndarray, A_prev: np.ndarray, W: np.ndarray, b: np.ndarray | None, stride: int = 1
                       ) -> Preactivation:
    """A convolution's output ``(m, C, H, W)`` as ``(C H W, m)`` with its scale ``conv(|A_prev|, |W|) + |b|``."""
    scale, _ = sc.conv_forward(np.abs(A_prev), np.abs(W), None if b is None else np.abs(b), padding=1,
                               stride=stride)
    return Preactivation(sc.images_to_columns(Z), sc.images_to_columns(scale))


def max_pool_decisions(values: np.ndarray, scale: np.ndarray, kernel: int = 2) -> Preactivation:
    """Each window entry's margin as the window's first maximum (> 0 for exactly one entry), ``(C Ho Wo K, m)``.

    ``values`` ``(m, C, H, W)`` are the pooling's input and ``scale`` their condition scale; an entry's
    bound is the largest scale in its window.
    """
    geometry = sc.ConvGeometry.of(stride=kernel)
    out = geometry.output_size(values.shape[2:], (kernel, kernel))
    windows = sc.conv_windows(values, (kernel, kernel), geometry, out).reshape(*values.shape[:2], *out, -1)
    scales = sc.conv_windows(scale, (kernel, kernel), geometry, out).reshape(windows.shape)
    lowest = np.full(windows.shape[:-1] + (1,), -np.inf, dtype=values.dtype)
    before = np.maximum.accumulate(np.concatenate([lowest, windows[..., :-1]], axis=-1), axis=-1)
    after = np.maximum.accumulate(np.concatenate([lowest, windows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    margin = windows - np.maximum(before, np.nextafter(after, -np.inf))
    bound = np.broadcast_to(scales.max(axis=-1, keepdims=True), margin.shape)
    to_columns = (1, 2, 3, 4, 0)  # (m, C, Ho, Wo, K) -> (C, Ho, Wo, K, m)
    return Preactivation(margin.transpose(to_columns).reshape(-1, values.shape[0]),
                         bound.transpose(to_columns).reshape(-1, values.shape[0]))


def bn2d_scale(conv_scale: np.ndarray, Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
               ) -> np.ndarray:
    """The scale of a training-mode ``BN2d(Z)``: ``|gamma| invstd (conv scale + |mu|) + |beta|`` per channel."""
    rows = bn.images_to_rows(Z.astype(np.float64))
    channel = (1, -1, 1, 1)
    invstd = 1 / np.sqrt(rows.var(axis=1) + eps)
    return (np.abs(gamma).reshape(channel) * invstd.reshape(channel)
            * (conv_scale + np.abs(rows.mean(axis=1)).reshape(channel)) + np.abs(beta).reshape(channel))


def lenet_kinks(layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], strides: tuple[int, int]
                ) -> list[Preactivation]:
    """ReLU inputs and max-pool decisions of one LeNet forward, in the order they fire.

    ``layers`` holds ``(A_prev, Z, W, b)`` of conv1, conv2 and the hidden dense layer, scratch layout.
    """
    (X, Z1, W1, b1), (P1, Z2, W2, b2), (F, Z3, W3, b3) = layers
    conv1, conv2 = conv_preactivation(Z1, X, W1, b1, strides[0]), conv_preactivation(Z2, P1, W2, b2, strides[1])
    return [conv1, max_pool_decisions(np.maximum(Z1, 0), conv1.scale.T.reshape(Z1.shape)),
            conv2, max_pool_decisions(np.maximum(Z2, 0), conv2.scale.T.reshape(Z2.shape)),
            preactivation(Z3, W3, F, b3)]


# --- LeNet ----------------------------------------------------------------------------------------------

class ScratchConvTrainer(ScratchTrainer):
    """Shared by both nets: the optimizer from :mod:`scratch.optim` and its state under torch's keys."""

    has_kinks = True

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.X, self.labels = problem.data["X"], problem.data["labels"]
        sc.check_image_batch(self.X, self.labels, self.params)
        self.optimizer = getattr(so, problem.hyper["optimizer"])(self.params, **problem.hyper["optimizer_hyper"])

    def update(self) -> None:
        self.optimizer.step(self.params, self.grads)


class ScratchLeNet(ScratchConvTrainer):
    """``lenet_forward`` (its caches give the kink watch its values) -> softmax cost -> ``lenet_backward``."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.impl, self.strides = problem.hyper["impl"], problem.hyper["geometry"]["strides"]

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        Z4, caches = sc.lenet_forward(self.X, self.params, impl=self.impl, strides=self.strides)
        (_, Z1, _), (conv2_cache, Z2, _), (_, F, Z3, _) = caches
        p = self.params
        self.capture_preactivations(lambda: lenet_kinks([(self.X, Z1, p["W1"], p["b1"]),
                                                         (conv2_cache[0], Z2, p["W2"], p["b2"]),
                                                         (F, Z3, p["W3"], p["b3"])], self.strides))
        grads = sc.lenet_backward(sc.softmax_gradient(Z4, self.labels), self.params, caches, impl=self.impl)
        return cross_entropy_from_logits(Z4, self.labels), grads


def lenet_param_map(model: tc.LeNet) -> list[ParamMap]:
    """Conv ``W1 b1``, ``W2 b2`` <-> ``features[0]``, ``features[3]`` (same shapes); dense ``W3 b3``, ``W4 b4``."""
    mapping = []
    for name, layer in (("1", model.features[0]), ("2", model.features[3]),
                        ("3", model.classifier[1]), ("4", model.classifier[3])):
        mapping.append(ParamMap(f"W{name}", layer.weight))
        if isinstance(layer, nn.Linear):
            mapping.append(ParamMap(f"b{name}", layer.bias, to_scratch=column, from_scratch=np.ravel))
        else:
            mapping.append(ParamMap(f"b{name}", layer.bias))
    return mapping


class ModuleCapture:
    """Forward hooks keeping, during a training forward, chosen modules' input, output, weight and bias.

    The weight and bias are copied in the hook, before the optimizer changes them. Values are NumPy
    arrays in torch's layout.
    """

    def __init__(self, modules: dict[str, nn.Module]):
        self.modules = modules
        self.values: dict[str, dict[str, np.ndarray | None]] = {}

    def start(self) -> None:
        for name, module in self.modules.items():
            module.register_forward_hook(self._hook(name))

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if torch.is_grad_enabled():
                weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
                self.values[name] = {"a": to_numpy(inputs[0]), "z": to_numpy(output),
                                     "W": None if weight is None else to_numpy(weight).copy(),
                                     "b": None if bias is None else to_numpy(bias).copy()}
        return hook


class TorchConvTrainer(TorchTrainer):
    """Full-batch ``train_step`` with ``CrossEntropyLoss`` and ``torch.optim.<optimizer>``; step counts observed."""

    def __init__(self, problem: Problem, device: torch.device, model: nn.Module, mapping: list[ParamMap],
                 capture: ModuleCapture):
        load_parameters(mapping, problem.params)
        optimizer = to.make_optimizer(problem.hyper["optimizer"], model.parameters(),
                                      **problem.hyper["optimizer_hyper"])
        x = to_torch(problem.data["X"], device)
        y = torch.as_tensor(problem.data["labels"], device=device)
        super().__init__(model, nn.CrossEntropyLoss(), optimizer, x, y, mapping)
        self.capture = capture

    def step(self) -> None:
        self.capture.values = {}
        self.loss = train_step(self.model, self.loss_fn, self.optimizer, self.x, self.y)

    def observe(self) -> Observation:
        if self.loss is None:
            raise RuntimeError("observe() called before step()")
        return observe_parameters(float(self.loss), self.mapping, self.optimizer, with_step_count=True,
                                  state=self.extra_state())

    def extra_state(self) -> dict[str, dict[str, np.ndarray]]:
        """Observed state beyond the optimizer's (the residual net's BN running statistics)."""
        return {}

    def start_kink_watch(self) -> bool:
        self.capture.start()
        return True


class TorchLeNet(TorchConvTrainer):
    """``torch_ref.conv.LeNet``; kinks from hooks on the two convolutions and the hidden ``nn.Linear``."""

    def __init__(self, problem: Problem, device: torch.device):
        model = tc.LeNet(**LENET, **problem.hyper["geometry"], dtype=torch_dtype(problem.dtype), device=device)
        capture = ModuleCapture({"conv1": model.features[0], "conv2": model.features[3],
                                 "dense3": model.classifier[1]})
        super().__init__(problem, device, model, lenet_param_map(model), capture)
        self.strides = problem.hyper["geometry"]["strides"]

    def preactivations(self) -> list[Preactivation]:
        layers = []
        for name in ("conv1", "conv2", "dense3"):
            v = self.capture.values[name]
            if name == "dense3":  # batch-first (m, n) -> the course's columns
                layers.append((v["a"].T, v["z"].T, v["W"], column(v["b"])))
            else:
                layers.append((v["a"], v["z"], v["W"], v["b"]))
        return lenet_kinks(layers, self.strides)


# --- the residual block ---------------------------------------------------------------------------------

def resnet_kinks(X: np.ndarray, Z1: np.ndarray, W1: np.ndarray, b1: np.ndarray, block: list[dict], eps: float
                 ) -> list[Preactivation]:
    """The stem's ReLU input, the block's inner ReLU input ``BN(conv(A1))`` and its last ReLU's ``BN(conv(.)) + A1``.

    ``block`` holds, for the block's two conv-BN pairs (training mode), the conv input ``A_prev``, output
    ``Z`` and weight ``W``, and the BN output ``B`` with its ``gamma`` and ``beta``.
    """
    layers = [conv_preactivation(Z1, X, W1, b1)]
    A1 = np.maximum(Z1, 0)
    for index, pair in enumerate(block):
        conv_scale = conv_preactivation(pair["Z"], pair["A_prev"], pair["W"], None).scale.T.reshape(pair["Z"].shape)
        z, scale = pair["B"], bn2d_scale(conv_scale, pair["Z"], pair["gamma"], pair["beta"], eps)
        if index == 1:  # the residual sum
            z, scale = z + A1, scale + np.abs(A1)
        layers.append(Preactivation(sc.images_to_columns(z), sc.images_to_columns(scale)))
    return layers


class ScratchResNet(ScratchConvTrainer):
    """``resnet_forward`` -> softmax cost -> ``resnet_backward``, the BN states' running statistics observed."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.states = sc.make_resnet_states(RESNET_WIDTH, dtype=problem.dtype)

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        Z4, caches = sc.resnet_forward(self.X, self.params, self.states)
        stem, Z1, (conv_a, Za, _, Ba, conv_b, Zb, _, Bb, _), *_ = caches
        p = self.params
        block = [{"A_prev": conv_a[0], "Z": Za, "W": p["W2"], "B": Ba, "gamma": p["gamma2"], "beta": p["beta2"]},
                 {"A_prev": conv_b[0], "Z": Zb, "W": p["W3"], "B": Bb, "gamma": p["gamma3"], "beta": p["beta3"]}]
        self.capture_preactivations(lambda: resnet_kinks(self.X, Z1, p["W1"], p["b1"], block, self.states[0].eps))
        grads = sc.resnet_backward(sc.softmax_gradient(Z4, self.labels), self.params, caches)
        return cross_entropy_from_logits(Z4, self.labels), grads

    def optimizer_state(self) -> dict[str, dict[str, np.ndarray]]:
        state = super().optimizer_state()
        for l, s in zip((2, 3), self.states, strict=True):  # noqa: E741
            state[f"bn{l}"] = {"running_mean": s.running_mean[:, 0], "running_var": s.running_var[:, 0],
                               "num_batches_tracked": np.array(float(s.num_batches_tracked))}
        return state


def resnet_param_map(model: tc.SmallResNet) -> list[ParamMap]:
    """Stem ``W1 b1``; ``W2``, ``W3`` <-> ``block.conv1``, ``conv2``; ``gamma``/``beta`` <-> ``bn1``, ``bn2``."""
    block = model.block
    return [ParamMap("W1", model.stem.weight), ParamMap("b1", model.stem.bias),
            ParamMap("W2", block.conv1.weight), ParamMap("gamma2", block.bn1.weight), ParamMap("beta2", block.bn1.bias),
            ParamMap("W3", block.conv2.weight), ParamMap("gamma3", block.bn2.weight), ParamMap("beta3", block.bn2.bias),
            ParamMap("W4", model.head[2].weight),
            ParamMap("b4", model.head[2].bias, to_scratch=column, from_scratch=np.ravel)]


class TorchResNet(TorchConvTrainer):
    """``torch_ref.conv.SmallResNet``; BN running statistics observed; kinks from hooks on the convs and BNs."""

    def __init__(self, problem: Problem, device: torch.device):
        model = tc.SmallResNet(width=RESNET_WIDTH, dtype=torch_dtype(problem.dtype), device=device)
        block = model.block
        capture = ModuleCapture({"stem": model.stem, "conv2": block.conv1, "bn2": block.bn1, "conv3": block.conv2,
                                 "bn3": block.bn2})
        super().__init__(problem, device, model, resnet_param_map(model), capture)

    def extra_state(self) -> dict[str, dict[str, np.ndarray]]:
        return {f"bn{l}": {"running_mean": to_numpy(n.running_mean), "running_var": to_numpy(n.running_var),
                           "num_batches_tracked": np.array(float(n.num_batches_tracked))}
                for l, n in zip((2, 3), (self.model.block.bn1, self.model.block.bn2), strict=True)}  # noqa: E741

    def preactivations(self) -> list[Preactivation]:
        v = self.capture.values
        block = [{"A_prev": v[f"conv{l}"]["a"], "Z": v[f"conv{l}"]["z"], "W": v[f"conv{l}"]["W"],
                  "B": v[f"bn{l}"]["z"], "gamma": v[f"bn{l}"]["W"], "beta": v[f"bn{l}"]["b"]} for l in (2, 3)]  # noqa: E741
        return resnet_kinks(v["stem"]["a"], v["stem"]["z"], v["stem"]["W"], v["stem"]["b"], block,
                            self.model.block.bn1.eps)


# --- gradient checks and the variants -------------------------------------------------------------------

def check_gradients(problem: Problem) -> float:
    """Course relative error of the scratch backward pass on the first 2 images (float64).

    Biases, ``beta`` and ``gamma - 1`` start at N(0, 0.1^2) and the weights get N(0, 0.01^2) added, so no
    ReLU input sits exactly on its kink and no max-pool window holds an exact tie (``lenet_pool_ties``' ties
    are kinks of the cost: a two-sided difference across one measures the average of the two slopes).
    """
    X, labels = problem.data["X"][:2].astype(np.float64), problem.data["labels"][:2]
    rng = initial_parameters_rng(problem.seed, 1)
    params = {name: value.astype(np.float64) + rng.normal(0.0, 0.01 if name.startswith("W") else 0.1, value.shape)
              for name, value in problem.params.items()}
    if problem.hyper["net"] == "lenet":
        impl, strides = problem.hyper["impl"], problem.hyper["geometry"]["strides"]

        def cost(point: dict[str, np.ndarray]) -> float:
            return float(cross_entropy_from_logits(sc.lenet_forward(X, point, impl=impl, strides=strides)[0], labels))

        return gradient_check_n(cost, params,
                                sc.lenet_loss_and_grads(params, X, labels, impl=impl, strides=strides)[1])

    def resnet_cost(point: dict[str, np.ndarray]) -> float:
        logits, _ = sc.resnet_forward(X, point, sc.make_resnet_states(RESNET_WIDTH))
        return float(cross_entropy_from_logits(logits, labels))

    _, grads = sc.resnet_loss_and_grads(params, sc.make_resnet_states(RESNET_WIDTH), X, labels)
    return gradient_check_n(resnet_cost, params, grads)


EQUATIONS = (
    r"Z[i,o,h,w] = b[o] + \sum_{c,u,v} X_{pad}[i, c, hs + ud, ws + vd]\, W[o,c,u,v],\quad "
    r"H_{out} = \lfloor (H + 2p - d(k-1) - 1)/s \rfloor + 1",
    r"dW[o,c,u,v] = \sum_{i,h,w} dZ[i,o,h,w]\, X_{pad}[i,c,hs+ud,ws+vd],\quad db[o] = \sum_{i,h,w} dZ[i,o,h,w]",
    r"dX = \text{corr}\big(\text{pad}_{d(k-1)}(\text{dilate}_s(dZ)),\ \text{rot}_{180}(W)^{T}\big)",
    r"\text{maxpool: } dX[\arg\max_{\text{first}}] \leftarrow dX[\arg\max_{\text{first}}] + dP,\qquad "
    r"\text{residual: } A = \text{ReLU}(\text{BN}(\text{conv}(\text{ReLU}(\text{BN}(\text{conv}(x))))) + x)",
)
NOTES = (
    "Images are (m, C, H, W) on both sides; conv weights (C_out, C_in, kH, kW) and conv biases (C_out,) map "
    "without transposes. The dense head keeps the course's layout: images_to_columns is the one change of "
    "layout (nn.Flatten's order). Max pooling routes the gradient to the first maximum of a window in row-major "
    "order, as torch's CPU kernel (strict >). The backward pass starts from dZ[L] = (softmax(Z[L]) - Y) / m "
    "(the 1/m carried from the mean, as autograd). The scratch optimizers are scratch.optim's, their state "
    "compared with torch.optim's under torch's keys."
)


#: LeNet stage by stage (the fast convolution; the loop and im2col variants swap the conv functions).
LENET_STAGES = (
    Stage("forward", (sc.im2col, sc.conv_forward, sc.max_pool_forward, sc.lenet_forward), (tc.LeNet,)),
    Stage("cost", (cross_entropy_from_logits,),
          (Excerpt(TorchConvTrainer.__init__, ("nn.CrossEntropyLoss()",)), TORCH_COST)),
    Stage("backward", (sc.softmax_gradient, sc.conv_backward, sc.max_pool_backward, sc.lenet_backward),
          (TORCH_BACKWARD,)),
    Stage("update", (so.sgd_step,), (to.make_optimizer, TORCH_UPDATE)),
)


def _register(variant: str, summary: str, *, net: str = "lenet", m: int = 256, optimizer: str = "SGD",
              hyper: dict | None = None, impl: str = "fast", steps: int = 120, exact_ties: bool = False,
              images: str = "digits", strides: tuple[int, int] = (1, 1)) -> None:
    chosen = {"lr": 0.1} if hyper is None else hyper

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return conv_problem(seed, dtype, net=net, m=m, optimizer=optimizer, hyper=chosen, impl=impl,
                            exact_ties=exact_ties, images=images, strides=strides)

    lenet = net == "lenet"
    case = Case(concept="conv", variant=variant, summary=summary, make_problem=make_problem,
                scratch=ScratchLeNet if lenet else ScratchResNet, torch=TorchLeNet if lenet else TorchResNet,
                steps=steps, gradient_check=check_gradients, equations=EQUATIONS,
                notes=NOTES,
                scratch_source=(sc.conv_forward_loops, sc.conv_backward_loops, sc.im2col, sc.conv_forward,
                                sc.conv_backward, sc.max_pool_forward, sc.max_pool_backward,
                                sc.lenet_forward, sc.lenet_backward) if lenet else
                (sc.basic_block_forward, sc.basic_block_backward, sc.resnet_loss_and_grads),
                torch_source=(tc.LeNet,) if lenet else (tc.BasicBlock, tc.SmallResNet),
                stages=LENET_STAGES if lenet and optimizer == "SGD" else (), notebook=variant == "lenet_sgd")
    if images == "digits":
        register(case)
    else:
        register_optional(case, functools.partial(datasets.missing_files, images))


_register("lenet_sgd", "LeNet (conv 4, conv 8, dense 16) on 256 digits, fast conv, SGD lr 0.1, full batch")
_register("lenet_momentum", "LeNet on 256 digits, fast conv, SGD lr 0.05 momentum 0.9 (momentum_buffer compared)",
          hyper={"lr": 0.05, "momentum": 0.9})
_register("lenet_adam", "LeNet on 256 digits, fast conv, Adam lr 3e-3 (exp_avg, exp_avg_sq, step compared)",
          optimizer="Adam", hyper={"lr": 3e-3})
_register("lenet_im2col", "LeNet on 64 digits with the strided-view convolution (transposed-conv input "
          "gradient), SGD lr 0.1", m=64, impl="im2col", steps=100)
_register("lenet_loops", "LeNet on 8 digits with the course's loop convolution, SGD lr 0.1", m=8, impl="loops",
          steps=100)
_register("resnet_block", "conv 4 -> ReLU -> basic block (conv-BN-ReLU-conv-BN + identity) -> avgpool -> dense "
          "on 128 digits, SGD lr 0.05 momentum 0.9, BN running statistics compared", net="resnet", m=128,
          hyper={"lr": 0.05, "momentum": 0.9})
_register("lenet_pool_ties", "LeNet on 256 digits, first kernel in {-1/4, 0, 1/4}, zero biases: exact max-pool ties "
          "between different windows at step 0 (torch routes to the first maximum), SGD lr 0.1", exact_ties=True)
_register("lenet_strided", "LeNet on 256 digits whose second convolution has stride 2 (4x4 -> 2x2; its input "
          "gradient scatters back through the stride), SGD lr 0.1", strides=(1, 2))
# Run only where the files are present (python -m compare.data.datasets NAME --data-dir data --download).
_register("lenet_mnist", "LeNet (1x28x28 input) on 256 MNIST training images, SGD lr 0.05 momentum 0.9; needs the "
          "MNIST files under data/ or $DLPARITY_DATA", hyper={"lr": 0.05, "momentum": 0.9}, steps=100, images="mnist")
_register("lenet_cifar_cat", "LeNet (3x32x32 input, 2 classes) on 128 cat and 128 non-cat CIFAR-10 training images, "
          "Adam lr 1e-3; needs the CIFAR-10 files under data/ or $DLPARITY_DATA", optimizer="Adam",
          hyper={"lr": 1e-3}, steps=100, images="cifar10")


# --- speed (make bench) ----------------------------------------------------------------------------------

#: The issue's two layers, 3x3 kernels, padding 1, float32, as ``(C_in, H = W, C_out)``: the first is
#: dominated by im2col's copying (3 input channels), the second by the GEMMs.
BENCH_LAYERS = ((3, 32, 32), (32, 16, 64))
#: ``--quick``'s stand-ins (a smoke test of the machinery: the loops take seconds even here).
QUICK_BENCH_LAYERS = ((3, 8, 4), (4, 8, 8))
BENCH_BATCH, QUICK_BENCH_BATCH = 64, 4
#: The course's loops take minutes per step at batch 64; they are timed on this many examples and compared
#: per example (the loops' cost is linear in m).
LOOPS_BATCH = 2
#: The goals for the GEMM-heavy layer: the fast conv within 1.5x torch CPU's time, its matmuls at >= 60%
#: of NumPy's matmul peak.
CONV_RATIO_GOAL, CONV_PEAK_GOAL = 1.5, 0.6
GEMM_NOTE = "fast: its three matmuls only"


def conv_layer_name(c_in: int, size: int, c_out: int) -> str:
    return f"conv {c_in}x{size}x{size} -> {c_out}, 3x3"


def conv_flops(c_in: int, size: int, c_out: int, m: int) -> int:
    """Forward ``2 m C_out H W C_in 9``; backward twice that (``dW`` and ``dX``): 6 per multiply-add."""
    return 6 * m * c_out * size * size * c_in * 9


def conv_bench_rows(plan: TimingPlan) -> list[dict[str, object]]:
    """One conv layer's forward + backward (input gradient included): the course's loops, the strided-view
    im2col and the networks' fast conv against ``F.conv2d`` + autograd; plus the fast conv's GEMMs alone."""
    rows: list[dict[str, object]] = []
    batch, layers = (QUICK_BENCH_BATCH, QUICK_BENCH_LAYERS) if plan.quick else (BENCH_BATCH, BENCH_LAYERS)
    rng = np.random.default_rng(0)
    for c_in, size, c_out in layers:
        name = conv_layer_name(c_in, size, c_out)
        X = rng.standard_normal((batch, c_in, size, size)).astype(np.float32)
        W = rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32)
        b = rng.standard_normal(c_out).astype(np.float32)
        dZ = rng.standard_normal((batch, c_out, size, size)).astype(np.float32)
        for impl, (forward, backward) in sc.CONV_IMPLEMENTATIONS.items():
            m = min(LOOPS_BATCH, batch) if impl == "loops" else batch
            step = _scratch_conv_step(forward, backward, X[:m], W, b, dZ[:m])
            rows.append(bench_row(MICROBENCH, name, "scratch", "cpu", "float32", time_on(plan, step), m=m,
                                  flops=conv_flops(c_in, size, c_out, m), note=impl))
        rows.append(_gemm_row(plan, name, X, W, dZ, conv_flops(c_in, size, c_out, batch)))
        for device in plan.devices:
            rows.append(bench_row(MICROBENCH, name, "torch", device, "float32",
                                  time_on(plan, _torch_conv_step(X, W, b, dZ, device), device), m=batch,
                                  flops=conv_flops(c_in, size, c_out, batch), note="F.conv2d + autograd"))
    return rows


def _scratch_conv_step(forward: sc.ConvForward, backward: sc.ConvBackward, X: np.ndarray, W: np.ndarray,
                       b: np.ndarray, dZ: np.ndarray) -> Callable[[], None]:
    def step() -> None:
        _, cache = forward(X, W, b, padding=1)
        backward(dZ, cache)

    return step


def _gemm_row(plan: TimingPlan, name: str, X: np.ndarray, W: np.ndarray, dZ: np.ndarray, flops: int
              ) -> dict[str, object]:
    """The fast conv's forward, ``dW`` and ``dcols`` matmuls on ready-made columns: its share of BLAS."""
    _, cache = sc.conv_forward(X, W, None, padding=1)
    cols = cache[4][1].reshape(X.shape[0], -1, dZ.shape[2] * dZ.shape[3])
    W_matrix, dZ_matrices = W.reshape(W.shape[0], -1), dZ.reshape(*dZ.shape[:2], -1)

    def gemms() -> None:
        np.matmul(W_matrix, cols)
        np.matmul(dZ_matrices, cols.transpose(0, 2, 1)).sum(axis=0)
        np.matmul(W_matrix.T, dZ_matrices)

    return bench_row(MICROBENCH, name, "scratch", "cpu", "float32", time_on(plan, gemms), m=X.shape[0], flops=flops,
                     note=GEMM_NOTE)


def _torch_conv_step(X: np.ndarray, W: np.ndarray, b: np.ndarray, dZ: np.ndarray, device: str
                     ) -> Callable[[], None]:
    x = torch.from_numpy(X).to(device).requires_grad_()
    weight, bias = (torch.from_numpy(a).to(device).requires_grad_() for a in (W, b))
    grad = torch.from_numpy(dZ).to(device)

    def step() -> None:
        x.grad = weight.grad = bias.grad = None
        torch.nn.functional.conv2d(x, weight, bias, padding=1).backward(grad)

    return step


def conv_verdicts(frame) -> list[dict[str, object]]:
    """The issue's goals on the GEMM-heavy layer: fast conv / torch CPU time, and its GEMMs' fraction of peak
    (``--quick`` judges its small stand-in, which proves nothing about the goals)."""
    quick = conv_layer_name(*QUICK_BENCH_LAYERS[-1])
    name = quick if (frame["name"] == quick).any() else conv_layer_name(*BENCH_LAYERS[-1])
    rows = frame[(frame["section"] == MICROBENCH) & (frame["name"] == name) & (frame["device"] == "cpu")]
    fast, torch_cpu, gemm = (rows[rows["note"] == note]["seconds"] for note in ("fast", "F.conv2d + autograd",
                                                                                 GEMM_NOTE))
    lines = []
    if fast.empty or torch_cpu.empty:
        lines.append(verdict(f"fast conv vs torch CPU ({name})", None, f"<= {CONV_RATIO_GOAL}x", None,
                             "not measured"))
    else:
        ratio = float(fast.iloc[0] / torch_cpu.iloc[0])
        lines.append(verdict(f"fast conv vs torch CPU ({name})", ratio, f"<= {CONV_RATIO_GOAL}x",
                             ratio <= CONV_RATIO_GOAL, f"{ratio:.2f}x torch's time"))
    fraction = rows[rows["note"] == GEMM_NOTE]["fraction_of_peak"]
    if gemm.empty or fraction.empty or np.isnan(fraction.iloc[0]):
        lines.append(verdict(f"fast conv's GEMMs vs NumPy's matmul peak ({name})", None,
                             f">= {CONV_PEAK_GOAL:.0%}", None, "not measured"))
    else:
        value = float(fraction.iloc[0])
        lines.append(verdict(f"fast conv's GEMMs vs NumPy's matmul peak ({name})", value, f">= {CONV_PEAK_GOAL:.0%}",
                             value >= CONV_PEAK_GOAL, f"{value:.0%} of peak"))
    return lines


register_concept_bench(ConceptBench("conv", "Conv layer forward + backward", conv_bench_rows, conv_verdicts,
                                    seconds=35.0, quick_seconds=1.2))
