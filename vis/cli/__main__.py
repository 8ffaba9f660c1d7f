"""`python -m vis.cli ...`: the `vis` command."""

import sys

from vis.cli import main

sys.exit(main())
