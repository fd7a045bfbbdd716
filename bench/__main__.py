"""`python -m bench`: runs the benchmark (see `bench.cli`)."""

import sys

from bench.cli import main

sys.exit(main())
