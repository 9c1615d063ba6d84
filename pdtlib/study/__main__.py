"""`python -m pdtlib.study`: see pdtlib.study.command."""

import sys

from .command import main

sys.exit(main())
