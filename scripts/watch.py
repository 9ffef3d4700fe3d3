"""Play a train.py checkpoint in the live window: one of its lifetimes, learning on or off.

The same command as `tracerl watch` (tracerl.learners.run.cli.watch): `python scripts/watch.py --help`.
"""

import sys

from tracerl.learners.run.cli.watch import build_parser, main  # noqa: F401  (build_parser: for tests and docs)

if __name__ == "__main__":
    sys.exit(main())
