"""``python -m afm``: the command line (see :mod:`afm.lab.cli`)."""

import sys

from afm.lab.cli import main

sys.exit(main())
