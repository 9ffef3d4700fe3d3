"""Learning curves and final figures from any set of TensorBoard runs: tracerl's, SB3's, CleanRL's.

    python scripts/compare.py runs/baselines --out docs/baselines.png --x both
    python scripts/compare.py 'runs/CartPole-v1__*' sb3_logs/PPO_* --label ppo='PPO_*'
    python scripts/compare.py runs --tag rollout/ep_rew_mean --final-window 10000

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
figure, the mean of the values logged in the last --final-window steps (default: 20k for Pong's
hit rate, 50k for Flappy Bird's pipes per life, as bench_learning.py's SUMMARY lines; else the last
value: trailing-100 means are windowed already; the games' measures are over their last 100
arrivals or 20 lives, learners.run.Measures); over the seeds their interquartile mean (IQM) with a
95% percentile-bootstrap confidence interval, as rliable computes them for one task (Agarwal et al.
2021).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import glob
import os
import re
import sys
from dataclasses import dataclass, field

import numpy as np

AUTO_TAGS = ("pong/hit_rate", "flappy/pipes_per_life", "rollout/ep_rew_mean", "charts/episodic_return")
FINAL_WINDOW = {"pong/hit_rate": 20_000, "flappy/pipes_per_life": 50_000}  # steps; others: the last value
DEFAULT_GROUP = r"^(?P<group>.+?)(?:__-?\d+(?:__\d+)?|_\d+)?$"
GRID = 200  # points per resampled curve
REPS = 10_000  # bootstrap resamples for the table; the curves use CURVE_REPS
CURVE_REPS = 1_000


class UsageError(Exception):
    """A bad argument or input: main() prints it as one line and exits with code 2."""


# -- reading runs -----------------------------------------------------------------------------
@dataclass
class Run:
    path: str
    name: str
    env: str
    start: float  # wall time of the run's first event
    tags: list[str]
    _acc: object = field(repr=False, default=None)

    def series(self, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, seconds since the run's first event, values), sorted by step, one value per step."""
        by_step = {e.step: (e.wall_time, e.value) for e in self._acc.Scalars(tag)}  # a repeated step: the last
        steps = np.array(sorted(by_step), dtype=np.int64)
        wall = np.array([by_step[s][0] for s in steps], dtype=np.float64) - self.start
        values = np.array([by_step[s][1] for s in steps], dtype=np.float64)
        return steps, wall, values


def is_run(directory: str) -> bool:
    try:
        return any(f.startswith("events.out.tfevents") for f in os.listdir(directory))
    except OSError:
        return False


def find_runs(pattern: str, include_mean: bool = False) -> list[str]:
    """The run directories a path or glob names (a directory of runs is searched recursively)."""
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern] * os.path.exists(pattern)
    runs: list[str] = []
    for m in matches:
        if os.path.isfile(m) and os.path.basename(m).startswith("events.out.tfevents"):
            m = os.path.dirname(m) or "."
        if not os.path.isdir(m):
            continue
        if is_run(m):
            runs.append(m)
        else:
            for root, dirs, _ in os.walk(m):
                dirs.sort()
                runs.extend(os.path.join(root, d) for d in dirs if is_run(os.path.join(root, d)))
    if not include_mean:
        runs = [r for r in runs if not os.path.basename(os.path.normpath(r)).endswith("__mean")]
    return list(dict.fromkeys(os.path.normpath(r) for r in runs))


def load_run(path: str) -> Run:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(path, size_guidance={"scalars": 0, "histograms": 1, "images": 1, "audio": 1,
                                                "tensors": 1, "compressedHistograms": 1})
    try:
        acc.Reload()
    except Exception as e:
        raise UsageError(f"cannot read the TensorBoard events of {path!r}: {str(e).strip()[:200]}")
    try:
        start = acc.FirstEventTimestamp()
    except ValueError:  # no events at all
        start = 0.0
    name = os.path.basename(os.path.normpath(path))
    env = name.split("__")[0] if "__" in name else ""
    return Run(path, name, env, start, sorted(acc.Tags().get("scalars", [])), acc)


# -- grouping and measures ------------------------------------------------------------------
def group_of(run: Run, group_by: str, labels: list[tuple[str, str]]) -> str:
    for label, pattern in labels:
        if fnmatch.fnmatch(run.name, pattern) or fnmatch.fnmatch(run.path, pattern):
            return label
    if group_by == "run":
        return run.name
    if group_by == "parent":
        return os.path.basename(os.path.dirname(os.path.abspath(run.path)))
    m = re.search(group_by, run.name)
    if not m:
        return run.name
    if "group" in m.groupdict():
        return m.group("group")
    return m.group(1) if m.groups() else m.group(0)


def pick_tag(runs: list[Run], tag: str | None, panel: str) -> str:
    if tag is not None:
        for run in runs:
            if tag not in run.tags:
                raise UsageError(f"tag {tag!r} not found in run {run.path!r}; its tags: {', '.join(run.tags) or 'none'}")
        return tag
    for candidate in AUTO_TAGS:
        if all(candidate in run.tags for run in runs):
            return candidate
    common = sorted(set.intersection(*(set(r.tags) for r in runs)))
    raise UsageError(f"no measure common to the runs of {panel or 'the figure'!r} among {', '.join(AUTO_TAGS)}; "
                     f"name one with --tag; tags all these runs have: {', '.join(common) or 'none'}")


def final_value(steps: np.ndarray, values: np.ndarray, window: int) -> float:
    """The mean of the values logged in the last ``window`` steps (window 0: the last value)."""
    if not len(values):
        return float("nan")
    if window <= 0:
        return float(values[-1])
    return float(values[steps > steps[-1] - window].mean())


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean along the last axis: the mean of the middle half, a quarter cut from each
    end (scipy.stats.trim_mean(x, 0.25), as rliable's IQM)."""
    x = np.sort(scores, axis=-1)
    n = x.shape[-1]
    cut = int(0.25 * n)
    return x[..., cut:n - cut].mean(axis=-1)


def iqm_ci(scores, reps: int = REPS, seed: int = 0) -> tuple[float, float, float]:
    """IQM of the seeds' scores and its 95% percentile-bootstrap interval (seeds resampled with
    replacement: rliable's stratified bootstrap with one task)."""
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = iqm(scores[rng.integers(0, len(scores), (reps, len(scores)))])
    low, high = np.percentile(boots, [2.5, 97.5])
    return float(iqm(scores)), float(low), float(high)


def mean_band(curves: list[tuple[np.ndarray, np.ndarray]], seed: int = 0):
    """Seeds' curves (x, y) resampled onto the x range all of them cover: (grid, mean, low, high)."""
    lo, hi = max(x[0] for x, _ in curves), min(x[-1] for x, _ in curves)
    grid = np.linspace(lo, hi, GRID) if hi > lo else np.array([lo])
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    mean = ys.mean(axis=0)
    if len(ys) < 2:
        return grid, mean, mean, mean
    rng = np.random.default_rng(seed)
    boots = ys[rng.integers(0, len(ys), (CURVE_REPS, len(ys)))].mean(axis=1)
    low, high = np.percentile(boots, [2.5, 97.5], axis=0)
    return grid, mean, low, high


# -- the comparison -------------------------------------------------------------------------
@dataclass
class Group:
    name: str
    panel: str
    runs: list[Run]
    tag: str = ""
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # per seed
    final: list[float] = field(default_factory=list)
    window: int = 0


def collect(paths: list[str], tag: str | None = None, group_by: str = DEFAULT_GROUP,
            labels: list[tuple[str, str]] = (), include_mean: bool = False,
            final_window: int | None = None) -> list[Group]:
    """Read the runs, group them, pick each panel's measure, and compute each seed's final figure."""
    found: list[str] = []
    for p in paths:
        runs = find_runs(p, include_mean)
        if not runs:
            if not glob.glob(p):
                raise UsageError(f"{p!r} not found")
            raise UsageError(f"no TensorBoard runs in {p!r}" + ("" if include_mean else
                             " (aggregate runs ...__mean are skipped; --include-mean reads them)"))
        found.extend(runs)
    runs = [load_run(p) for p in dict.fromkeys(found)]
    groups: dict[str, Group] = {}
    for run in runs:
        name = group_of(run, group_by, list(labels))
        groups.setdefault(name, Group(name, "", [])).runs.append(run)
    for g in groups.values():
        envs = {r.env for r in g.runs}
        g.panel = envs.pop() if len(envs) == 1 else ""
    for panel in dict.fromkeys(g.panel for g in groups.values()):
        members = [g for g in groups.values() if g.panel == panel]
        chosen = pick_tag([r for g in members for r in g.runs], tag, panel)
        for g in members:
            g.tag = chosen
            g.window = FINAL_WINDOW.get(chosen, 0) if final_window is None else final_window
            g.data = [r.series(chosen) for r in g.runs]
            empty = [r.path for r, (s, _, _) in zip(g.runs, g.data) if not len(s)]
            if empty:
                raise UsageError(f"tag {chosen!r} has no values in run {empty[0]!r}")
            g.final = [final_value(s, v, g.window) for s, _, v in g.data]
    return list(groups.values())


def table_rows(groups: list[Group]) -> list[dict]:
    rows = []
    for g in groups:
        scores = np.array(g.final)
        center, low, high = iqm_ci(scores)
        rows.append({
            "env": g.panel, "group": g.name, "measure": g.tag,
            "final": f"mean of the last {g.window:,} steps" if g.window else "last value",
            "seeds": len(scores), "iqm": center, "ci_low": low, "ci_high": high,
            "mean": float(scores.mean()), "median": float(np.median(scores)),
            "min": float(scores.min()), "max": float(scores.max()),
            "last_step": int(min(s[-1] for s, _, _ in g.data)),
            "per_seed": " ".join(f"{v:.4g}" for v in scores),
        })
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| env | group | measure | final figure | seeds | IQM [95% CI] | median | min - max | per seed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['env'] or '-'} | {r['group']} | {r['measure']} | {r['final']} | {r['seeds']} | "
                     f"{r['iqm']:.4g} [{r['ci_low']:.4g}, {r['ci_high']:.4g}] | {r['median']:.4g} | "
                     f"{r['min']:.4g} - {r['max']:.4g} | {r['per_seed']} |")
    return "\n".join(lines)


def write_csv(rows: list[dict], path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def draw(groups: list[Group], xs: list[str], path: str, title: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(g.panel for g in groups))
    fig, axes = plt.subplots(len(panels), len(xs), figsize=(6.4 * len(xs), 4.2 * len(panels)), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, panel in enumerate(panels):
        members = [g for g in groups if g.panel == panel]
        for col, x in enumerate(xs):
            ax = axes[row][col]
            for i, g in enumerate(members):
                curves = [(s if x == "steps" else t, v) for s, t, v in g.data]
                grid, mean, low, high = mean_band(curves)
                color = colors[i % len(colors)]
                ax.plot(grid, mean, color=color, lw=1.6, label=f"{g.name} ({len(g.runs)} seed{'s' * (len(g.runs) > 1)})")
                ax.fill_between(grid, low, high, color=color, alpha=0.2, lw=0)
            ax.set_xlabel("env steps (per seed)" if x == "steps" else "wall-clock seconds")
            ax.set_ylabel(members[0].tag)
            ax.set_title(f"{panel + ': ' if panel else ''}{members[0].tag}", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.text(0.99, 0.005, "mean across seeds, 95% bootstrap CI", ha="right", va="bottom", fontsize=7, alpha=0.7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def build_parser() -> Parser:
    p = Parser(prog="compare.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--final-window", type=int, default=None, metavar="STEPS",
                   help="final figure: the mean over the last STEPS steps of each run; 0: the last value "
                        "(default: 20000 for pong/hit_rate, 50000 for flappy/pipes_per_life, else 0)")
    p.add_argument("--include-mean", action="store_true", help="also read train.py's aggregate ...__mean runs")
    p.add_argument("--title", default=None, help="a title over the figure")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
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
        if args.final_window is not None and args.final_window < 0:
            raise UsageError(f"--final-window must be >= 0; got {args.final_window}")
        if not args.out.lower().endswith(".png"):
            raise UsageError(f"--out must name a .png file; got {args.out!r}")
        groups = collect(args.runs, args.tag, args.group_by, labels, args.include_mean, args.final_window)
    except UsageError as e:
        print(f"compare.py: error: {e}", file=sys.stderr)
        return 2
    xs = ["steps", "time"] if args.x == "both" else [args.x]
    draw(groups, xs, args.out, args.title)
    rows = table_rows(groups)
    table_path = os.path.splitext(args.out)[0] + ".csv"
    write_csv(rows, table_path)
    print(markdown(rows))
    print(f"\nfigure {args.out}, table {table_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
