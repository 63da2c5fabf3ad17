"""Speed: timing a training step, thread pinning, and the benchmark sweeps of ``make bench``."""
