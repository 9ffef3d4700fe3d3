"""Export one lifetime of a train.py checkpoint as a NIR graph, for other simulators and chips.

    python scripts/export.py runs/Pong-v0__eprop__0__1712345678/checkpoint.pt --out policy.nir
    python scripts/export.py runs/...__mean/checkpoint.pt --lifetime 3 --out pong3.nir
    python scripts/watch.py policy.nir                      # play the exported graph (no learning)

The graph: hidden LIF layers (recurrent weights as a cycle), the readout as LI, from the encoded
observation; the encoder, the ticks per env step, the softmax temperature and the reset are in
its metadata (tracerl.agents.nirgraph). Exact for reset=zero (train with --set reset=zero); a
checkpoint with the default reset by subtraction is exported with reset to zero, and says so.
ALIF neurons are refused. Needs the nir extra: pip install -e ".[nir]".
"""

from __future__ import annotations

import argparse
import sys

from tracerl.learners.run.export import export
from tracerl.learners.run.settings import Parser, UsageError


def build_parser(prog: str = "export.py") -> Parser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a train.py checkpoint.pt")
    p.add_argument("--lifetime", type=int, default=0, metavar="K", help="which lifetime to export (default: 0)")
    p.add_argument("--out", default="policy.nir", help="the NIR file to write (default: policy.nir)")
    return p


def main(argv: list[str] | None = None, prog: str = "export.py") -> int:
    """The command: ``python scripts/export.py ...`` or ``tracerl export ...`` (``prog`` names it in messages)."""
    try:
        args = build_parser(prog).parse_args(argv)
        notes = export(args.checkpoint, args.lifetime, args.out)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"{prog}: warning: {note}", file=sys.stderr)
    print(f"wrote {args.out}: lifetime {args.lifetime} of {args.checkpoint}" + (" (approximate)" if notes else " (exact)"))
    return 0

