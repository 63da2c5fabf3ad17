"""Device selection and the settings that make torch runs reproducible and comparable.

On CUDA, parity runs disable TF32 (which would silently round float32 matmul inputs to 10-bit
mantissas) and ask for deterministic algorithms where torch offers them; cuBLAS needs
``CUBLAS_WORKSPACE_CONFIG`` set before its first use for that.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from compare.core.choices import DEVICE_CHOICES, DTYPE_CHOICES


def resolve_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` (error without a GPU) or ``"auto"`` (CUDA when available)."""
    if name not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {name!r}; expected one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu")
        configure_cuda_for_parity()
    return torch.device(name)


def configure_cuda_for_parity() -> None:
    """IEEE float32 matmuls (no TF32) and deterministic kernels where torch has them."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def numpy_dtype(name: str | np.dtype) -> np.dtype:
    """``"float64"``/``"float32"`` -> NumPy dtype; anything else is a ``ValueError``."""
    if str(name) not in DTYPE_CHOICES:
        raise ValueError(f"unknown dtype {str(name)!r}; expected one of {', '.join(DTYPE_CHOICES)}")
    return np.dtype(str(name))


def torch_dtype(dtype: np.dtype | str) -> torch.dtype:
    return {"float64": torch.float64, "float32": torch.float32}[str(numpy_dtype(dtype))]


def to_torch(array: np.ndarray, device: torch.device, *, transpose: bool = False) -> torch.Tensor:
    """Copy a NumPy array to a tensor on ``device``; ``transpose`` turns columns-as-examples batch-first."""
    tensor = torch.from_numpy(np.ascontiguousarray(array.T if transpose else array))
    return tensor.to(device=device, copy=True)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
