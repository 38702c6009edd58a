"""``python -m afm``: the command line (see :mod:`afm.cli`)."""

import sys

from .cli import main

sys.exit(main())
