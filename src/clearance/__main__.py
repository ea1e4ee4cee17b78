"""``python -m clearance`` is the ``clearance`` command."""

import sys

from .cli import main

sys.exit(main())
