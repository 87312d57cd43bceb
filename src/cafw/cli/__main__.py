"""``python -m cafw.cli``, the same as ``cafw``."""

import sys

from . import main

sys.exit(main())
