"""Train an agent online in one game, watch it learn, and log every lifetime to TensorBoard.

The same command as `tracerl train` (tracerl.learners.run.cli.train): `python scripts/train.py --help`.
"""

import sys

from tracerl.learners.run.cli.train import build_parser, main  # noqa: F401  (build_parser: for tests and docs)

if __name__ == "__main__":
    sys.exit(main())
