"""The generic harness: problems, the case registry, trainers, trajectories, parity and the runner.

Nothing here knows a concept: cases plug in through :mod:`compare.core.registry`.
"""
