"""One module per concept, each registering its variants; plus the shared modules several concepts build on."""

#: Case modules that other case modules may import (the import-rules test reads this): the dense networks
#: (problem, parameter map, trainers, gradient-check point) and logistic regression (problem, trainers).
SHARED: tuple[str, ...] = ("networks", "logistic")
