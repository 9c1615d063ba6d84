"""`python -m pdtlib.report`: see pdtlib.report.runner."""

import sys

from .runner import main

sys.exit(main())
