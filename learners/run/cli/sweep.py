"""Sweep train.py's settings on Ray Tune: each trial is one setting, its seeds one batch of lifetimes.

    python scripts/sweep.py --env pong --grid "lr=1e-3,3e-3 lambda=0.9,0.95" --seeds 5 --steps 200000
    python scripts/sweep.py --env pong --grid "lr=loguniform:1e-4:1e-2 lambda=uniform:0.8:0.99" --random 12 --asha
    python scripts/sweep.py --resume runs/sweeps/NAME           # an interrupted sweep goes on
    python scripts/sweep.py ... --address HEAD_NODE:6379        # join a running Ray cluster
    tensorboard --logdir runs/sweeps/NAME

--grid takes space-separated KEY=V1,V2,... entries: KEY is a train.py option (lr, trace_lambda or
lambda, entropy, gamma, hidden, ticks, ...) or any agent/learner keyword (tau_adapt, ...), or
agent.KEY / learner.KEY / env.KEY. A grid runs every combination. Random search, --random N,
draws N settings from distributions, KEY=loguniform:LOW:HIGH, uniform:LOW:HIGH, randint:LOW:HIGH
(HIGH excluded) or choice:V1,V2,...; listed values beside them stay a grid (N draws for each).

Each trial runs train.py's training in-process in a Ray worker: --seeds lifetimes (seeds --seed,
--seed+1, ...) as one batch, the same run directories, config.yaml, checkpoint and TensorBoard
tags as train.py, named {env}__{learner}__tNN,KEY=VALUE,...[__SEED | __mean] in the sweep's
directory (--logdir/--name). Trials run in parallel, --cpus-per-trial CPUs each. The measure is
the env's: Pong's hit rate, Flappy Bird's pipes per life, else the mean episodic return; per
lifetime, its mean over the last --tail of the steps. Each trial reports it to Tune every
--log-every steps (ASHA stops the weak ones early with --asha). At the end a table ranks the
settings by the mean over seeds, with a 95% bootstrap interval over seeds; it is printed and
written to results.csv in the sweep's directory.

A trial that fails (NaN, crash) is recorded as failed, with its error, and the others go on.
Ctrl-C stops the sweep; --resume DIR continues it through Ray Tune's restore: finished and failed
trials are kept as they are, unfinished ones start over. --max-concurrent 1 runs the same trials
one after another (the baseline for the wall-clock of a parallel sweep).
"""

from __future__ import annotations

import argparse
import os
import sys

from tracerl.learners.run.settings import Parser, UsageError
from tracerl.learners.run.sweep import INSTALL, RESUME_ALLOWED, plan, read_plan, run_sweep


def build_parser(prog: str = "sweep.py") -> Parser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("what is swept")
    g.add_argument("--env", default="pong", help="as train.py's --env (default: pong)")
    g.add_argument("--agent", default="spiking", help="policy network (default: spiking)")
    g.add_argument("--learner", default="eprop", help="learning rule (default: eprop)")
    g.add_argument("--grid", default="", metavar='"KEY=V1,V2 ..."',
                   help="settings to sweep, e.g. \"lr=1e-3,3e-3 lambda=0.9,0.95\" (default: none, one trial)")
    g.add_argument("--random", type=int, default=0, metavar="N",
                   help="random search: N settings drawn from --grid's distributions, for each combination "
                   "of its listed values (default: 0, a grid search)")
    g.add_argument("--search-seed", type=int, default=0, help="seed of the random search (default: 0)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for every trial, as train.py's --set (repeatable)")
    g = p.add_argument_group("each trial")
    g.add_argument("--seeds", type=int, default=3, metavar="S",
                   help="lifetimes per trial, run as one batch (default: 3)")
    g.add_argument("--seed", type=int, default=0, help="seed of the first lifetime (default: 0)")
    g.add_argument("--steps", type=int, default=200_000, help="env steps per lifetime (default: 200000)")
    g.add_argument("--log-every", type=int, default=1000, metavar="STEPS",
                   help="steps per logged point and per report to Tune (default: 1000)")
    g.add_argument("--tail", type=float, default=0.1, metavar="FRACTION",
                   help="the measure is each lifetime's mean over this last fraction of its steps (default: 0.1)")
    g.add_argument("--no-compile", dest="compile", action="store_false",
                   help="run eager instead of torch.compile (default: compile)")
    g = p.add_argument_group("early stopping")
    g.add_argument("--asha", action="store_true", help="stop weak trials early with ASHA (default: off)")
    g.add_argument("--grace-period", type=int, default=None, metavar="STEPS",
                   help="ASHA: steps before a trial can be stopped (default: a tenth of --steps)")
    g.add_argument("--reduction-factor", type=int, default=3, help="ASHA: keep 1 in this many at each rung "
                   "(default: 3)")
    g = p.add_argument_group("Ray")
    g.add_argument("--address", default=None, help="join this running Ray cluster (default: start a local one)")
    g.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    g.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs (and torch threads) per trial (default: 1)")
    g.add_argument("--max-concurrent", type=int, default=0, metavar="K",
                   help="trials at a time at most; 1 runs them one after another (default: 0, as many as fit)")
    g = p.add_argument_group("where")
    g.add_argument("--logdir", default=os.path.join("runs", "sweeps"), metavar="DIR",
                   help="where sweeps are written (default: runs/sweeps)")
    g.add_argument("--name", default=None, help="the sweep's directory in --logdir (default: "
                   "{env}__{learner}__{unix time})")
    g.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the interrupted sweep in DIR (its settings are kept)")
    return p


def main(argv: list[str] | None = None, prog: str = "sweep.py") -> int:
    """The command: ``python scripts/sweep.py ...`` or ``tracerl sweep ...`` (``prog`` names it in messages)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(prog).parse_args(argv)
        try:
            import ray  # noqa: F401
            from ray import tune  # noqa: F401
        except ImportError:
            raise UsageError(INSTALL)
        if args.resume:
            given = {a.dest for a in build_parser(prog)._actions
                     if any(o in argv or any(x.startswith(o + "=") for x in argv) for o in a.option_strings)}
            extra = sorted(given - set(RESUME_ALLOWED) - {"help"})
            if extra:
                raise UsageError(f"--resume continues a sweep with its own settings; drop "
                                 f"{', '.join('--' + e.replace('_', '-') for e in extra)}")
            sweep = read_plan(args.resume)
            sweep["base"]["dir"] = os.path.abspath(args.resume)
        else:
            sweep = plan(args, argv)
        return run_sweep(sweep, args.address, args.cpus, resume=bool(args.resume))
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2

