"""Learning curves and final figures from any set of TensorBoard runs: tracerl's, SB3's, CleanRL's.

    python scripts/compare.py runs/baselines --out docs/baselines.png --x both
    python scripts/compare.py 'runs/CartPole-v1__*' sb3_logs/PPO_* --label ppo='PPO_*'
    python scripts/compare.py runs --tag rollout/ep_rew_mean --final-steps 10000

Each argument is a run directory (one holding events.out.tfevents.* files), a directory holding
runs (searched recursively), or a glob of either. train.py's aggregate runs (``...__mean``) are
skipped unless --include-mean.

Runs are grouped into settings, seeds together: by default a run named
``{env}__{algo}__{seed}__{unix time}`` (tracerl, CleanRL, bench_vs_baselines.py) joins the group
``{env}__{algo}``, ``NAME__{seed}`` joins ``NAME`` and SB3's ``PPO_3`` joins ``PPO``. --label
NAME=GLOB puts the runs whose name or path matches GLOB into group NAME instead. Groups of one
env (the run name's part before the first ``__``) share a panel.

The measure (--tag) is chosen per panel, the first of these that every run of the panel has:
pong/hit_rate, flappy/pipes_per_life, rollout/ep_rew_mean (trailing-100 return: tracerl, SB3;
on CartPole the same as the episode length), charts/episodic_return (CleanRL).

The figure (--out, PNG): per group the mean across seeds and its 95% bootstrap confidence band
(seeds resampled), each seed resampled onto a common grid over the steps all seeds reached;
against env steps and/or wall-clock seconds since each run's first event (--x). Seeds trained as
one batch of lifetimes share their wall-clock.

The table (printed as markdown, written as CSV beside the PNG): per group and seed the final
figure, the mean of the values logged in the last --final-steps steps (default: 20k for Pong's
hit rate, 50k for Flappy Bird's pipes per life, as bench_learning.py's SUMMARY lines; else the last
value: trailing-100 means are over their last episodes already; the games' measures are over their last 100
arrivals or 20 lives, learners.run.Measures); over the seeds their interquartile mean (IQM) with a
95% percentile-bootstrap confidence interval, as rliable computes them for one task (Agarwal et al.
2021).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from tracerl.learners.run.compare import DEFAULT_GROUP, collect, draw, markdown, table_rows, write_csv
from tracerl.learners.run.games import AUTO_TAGS
from tracerl.learners.run.settings import Parser, UsageError


def build_parser(prog: str = "compare.py") -> Parser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories, directories of runs, or globs")
    p.add_argument("--tag", default=None, help="the scalar to compare (default: per panel, the first of "
                   f"{', '.join(AUTO_TAGS)} that every run has)")
    p.add_argument("--group-by", default=DEFAULT_GROUP, metavar="REGEX|parent|run",
                   help="a regex on the run name whose group 'group' (or first group, or whole match) names the "
                        "group; 'parent': the parent directory's name; 'run': every run alone (default: strip "
                        "__{seed}__{time}, __{seed} or _{n} from the end)")
    p.add_argument("--label", action="append", default=[], metavar="NAME=GLOB",
                   help="runs whose name or path matches GLOB form group NAME (repeatable; the first match wins)")
    p.add_argument("--out", default="compare.png", help="the figure, PNG; the table goes beside it as .csv "
                   "(default: compare.png)")
    p.add_argument("--x", choices=["steps", "time", "both"], default="both",
                   help="x axis: env steps, wall-clock seconds, or both side by side (default: both)")
    p.add_argument("--final-steps", "--final-window", type=int, default=None, metavar="STEPS",
                   help="final figure: the mean over the last STEPS steps of each run; 0: the last value "
                        "(default: 20000 for pong/hit_rate, 50000 for flappy/pipes_per_life, else 0)")
    p.add_argument("--include-mean", action="store_true", help="also read train.py's aggregate ...__mean runs")
    p.add_argument("--title", default=None, help="a title over the figure")
    return p


def main(argv: list[str] | None = None, prog: str = "compare.py") -> int:
    """The command: ``python scripts/compare.py ...`` or ``tracerl compare ...`` (``prog`` names it in messages)."""
    try:
        args = build_parser(prog).parse_args(argv)
        labels = []
        for item in args.label:
            name, eq, pattern = item.partition("=")
            if not eq or not name or not pattern:
                raise UsageError(f"invalid --label {item!r}; expected NAME=GLOB, e.g. ppo='*__ppo__*'")
            labels.append((name, pattern))
        if args.group_by not in ("parent", "run"):
            try:
                re.compile(args.group_by)
            except re.error as e:
                raise UsageError(f"invalid --group-by regex {args.group_by!r}: {e}")
        if args.final_steps is not None and args.final_steps < 0:
            raise UsageError(f"--final-steps must be >= 0; got {args.final_steps}")
        if not args.out.lower().endswith(".png"):
            raise UsageError(f"--out must name a .png file; got {args.out!r}")
        groups = collect(args.runs, args.tag, args.group_by, labels, args.include_mean, args.final_steps)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    xs = ["steps", "time"] if args.x == "both" else [args.x]
    draw(groups, xs, args.out, args.title)
    rows = table_rows(groups)
    table_path = os.path.splitext(args.out)[0] + ".csv"
    write_csv(rows, table_path)
    print(markdown(rows))
    print(f"\nfigure {args.out}, table {table_path}")
    return 0

