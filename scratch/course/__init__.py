"""The course's own function names, signatures and return values, as thin wrappers over :mod:`scratch`.

One module per week of the Deep Learning Specialization, named as a learner finds the assignment:

==========  =============================================================================================
module      assignment(s)
==========  =============================================================================================
``c1w2``    Python basics with NumPy; logistic regression with a neural-network mindset
``c1w3``    planar data classification with one hidden layer (tanh)
``c1w4``    building a deep network step by step; the two-layer and L-layer application models
``c2w1``    initialization; regularization (L2, inverted dropout); gradient checking
``c2w2``    optimization methods (mini-batches, momentum, Adam, learning-rate decay)
==========  =============================================================================================

Every function computes through the project's implementations (``scratch.activations``,
``scratch.deep_net``, ``scratch.regularization``, ``scratch.optim``, ...); what a wrapper adds is the
course's contract: its argument order, defaults, tuple and cache layouts, dict keys, and integer or
boolean inputs accepted and converted to float64.

Seeding, the one deliberate difference from the rest of the project. The course seeds NumPy's legacy
global generator (``np.random.seed(k)``) inside several functions, and its published expected values
depend on those draws. The project's convention is a passed-in ``np.random.Generator``. Both are offered:

- ``seed=k`` (defaulting to the seed the course uses inside the function) draws from a private
  ``np.random.RandomState(k)``: exactly the numbers ``np.random.seed(k); np.random.randn(...)`` gives,
  without touching the global state;
- ``seed=None`` where the course does not seed (2021 C1W3 ``initialize_parameters``) draws from the
  global legacy stream and advances it, as the course's code does;
- ``rng=np.random.Generator(...)`` uses the project's convention instead (the course's numbers are then
  not reproduced, by design).
"""
