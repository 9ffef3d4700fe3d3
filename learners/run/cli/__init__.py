"""The command line: ``tracerl train | watch | compare | sweep | export`` once the package is
installed, and the same commands as ``python scripts/NAME.py`` in the repository (each script only
calls its command's ``main``). Every command takes the same options both ways.

    tracerl train --env pong --render
    tracerl watch runs/Pong-v0__eprop__0__1712345678/checkpoint.pt
    tracerl compare "runs/Pong-v0__*" --out pong.png
    tracerl export runs/.../checkpoint.pt --out policy.nir
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": "learn online in one game, watch it, log every lifetime to TensorBoard",
    "watch": "play a checkpoint's lifetime (or a .nir graph) in the live window",
    "compare": "compare runs' learning curves: a figure and a table with 95% intervals",
    "sweep": "sweep settings on Ray Tune, each setting a batch of seeds",
    "export": "write a checkpoint's lifetime as a NIR graph",
}
USAGE = "usage: tracerl {" + ",".join(COMMANDS) + "} ...\n\n" + "\n".join(
    f"  {name:<8} {text}" for name, text in COMMANDS.items()) + "\n\n'tracerl COMMAND --help' for a command's options"


def main(argv: list[str] | None = None) -> int:
    """``tracerl COMMAND [options]``: the command's own exit code; 2 for an unknown command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"tracerl: error: unknown command {name!r}; allowed: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return importlib.import_module(f"tracerl.learners.run.cli.{name}").main(rest, prog=f"tracerl {name}")
