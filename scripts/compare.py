"""Learning curves and final figures from any set of TensorBoard runs: tracerl's, SB3's, CleanRL's.

The same command as `tracerl compare` (tracerl.learners.run.cli.compare): `python scripts/compare.py --help`.
"""

import sys

from tracerl.learners.run.cli.compare import build_parser, main  # noqa: F401  (build_parser: for tests and docs)

if __name__ == "__main__":
    sys.exit(main())
