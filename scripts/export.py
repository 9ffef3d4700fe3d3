"""Export one lifetime of a train.py checkpoint as a NIR graph, for other simulators and chips.

The same command as `tracerl export` (tracerl.learners.run.cli.export): `python scripts/export.py --help`.
"""

import sys

from tracerl.learners.run.cli.export import build_parser, main  # noqa: F401  (build_parser: for tests and docs)

if __name__ == "__main__":
    sys.exit(main())
