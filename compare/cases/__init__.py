
#: Case modules that other case modules may import (the import-rules test reads this).
SHARED: tuple[str, ...] = ()
