"""Sweep train.py's settings on Ray Tune: each trial is one setting, its seeds one batch of lifetimes.

The same command as `tracerl sweep` (tracerl.learners.run.cli.sweep): `python scripts/sweep.py --help`.
"""

import sys

from tracerl.learners.run.cli.sweep import build_parser, main  # noqa: F401  (build_parser: for tests and docs)

if __name__ == "__main__":
    sys.exit(main())
