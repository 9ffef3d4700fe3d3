"""Reading TensorBoard runs into figures: tracerl's, SB3's, CleanRL's (scripts/compare.py's library).

    groups = collect(["runs/baselines"])        # runs grouped into settings, seeds together
    rows = table_rows(groups)                    # per group: IQM over seeds with a bootstrap interval
    draw(groups, ["steps", "time"], "out.png")   # mean and 95% bootstrap band per group

Each game's measure and over how many last steps its final figure is taken come from the one
registry, :data:`tracerl.learners.run.games.GAMES`; the statistics from :mod:`.stats`.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import os
import re
from dataclasses import dataclass, field

import numpy as np

from tracerl.learners.run.games import AUTO_TAGS, final_steps
from tracerl.learners.run.settings import UsageError
from tracerl.learners.run.stats import iqm_ci, mean_band

DEFAULT_GROUP = r"^(?P<group>.+?)(?:__-?\d+(?:__\d+)?|_\d+)?$"


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


def final_value(steps: np.ndarray, values: np.ndarray, last: int) -> float:
    """The mean of the values logged in the ``last`` steps of a run (0: its last value)."""
    if not len(values):
        return float("nan")
    if last <= 0:
        return float(values[-1])
    return float(values[steps > steps[-1] - last].mean())


# -- the comparison -------------------------------------------------------------------------
@dataclass
class Group:
    name: str
    panel: str
    runs: list[Run]
    tag: str = ""
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # per seed
    final: list[float] = field(default_factory=list)
    final_steps: int = 0


def collect(paths: list[str], tag: str | None = None, group_by: str = DEFAULT_GROUP,
            labels: list[tuple[str, str]] = (), include_mean: bool = False,
            last_steps: int | None = None) -> list[Group]:
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
            g.final_steps = final_steps(chosen) if last_steps is None else last_steps
            g.data = [r.series(chosen) for r in g.runs]
            empty = [r.path for r, (s, _, _) in zip(g.runs, g.data) if not len(s)]
            if empty:
                raise UsageError(f"tag {chosen!r} has no values in run {empty[0]!r}")
            g.final = [final_value(s, v, g.final_steps) for s, _, v in g.data]
    return list(groups.values())


def table_rows(groups: list[Group]) -> list[dict]:
    rows = []
    for g in groups:
        scores = np.array(g.final)
        center, low, high = iqm_ci(scores)
        rows.append({
            "env": g.panel, "group": g.name, "measure": g.tag,
            "final": f"mean of the last {g.final_steps:,} steps" if g.final_steps else "last value",
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
