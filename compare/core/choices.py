"""The device and dtype names the command line offers (no torch import, so ``--help`` answers at once)."""

DEVICE_CHOICES = ("cpu", "cuda", "auto")
DTYPE_CHOICES = ("float64", "float32")
