"""``python -m cafw``, as ``torchrun -m cafw train ...`` starts it."""

import sys

from .cli import main

sys.exit(main())
