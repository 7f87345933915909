"""Run ``python -m verify``; see verify.cli for the options."""

import sys

from .cli import main

sys.exit(main())
