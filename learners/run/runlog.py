"""A run's TensorBoard log and its folders: one run per lifetime, an aggregate for N > 1.

    names, aggregate = run_names(config, "runs", None)      # {env}__{learner}__{seed}__{unix time}
    log = RunLog("runs", names, aggregate)
    log.text("hyperparameters", rows)                         # CleanRL's first event: every setting
    log.scalars({"charts/reward_rate": np.array([...])}, step)  # (N,) per tag: each run, mean, spread

Tags follow CleanRL where a name exists (``charts/episodic_return``, ``charts/SPS``); the games'
measures (:data:`tracerl.learners.run.games.GAMES`) are copied into the group ``1_game/`` that
TensorBoard's first screen opens on.
"""

from __future__ import annotations

import math
import os
import shlex
import time
from typing import Any

import numpy as np
import torch

from tracerl import envs
from tracerl.learners.run.games import GAMES, REWARD_RATE, RETURN
from tracerl.learners.run.settings import UsageError

NO_SPREAD = ("charts/SPS", "time/fps")  # the same for every lifetime of a batch
# TensorBoard's first screen (Time Series) sorts groups by name, so agent/ internals came first. The
# figures a user looks for first are also logged in the group 1_game/, which sorts before every
# other: the game's measure, the reward rate and the trailing-100 episodic return. Their own tags
# stay as they are (compare.py, sweep.py and SB3 / CleanRL runs use those names).
FIRST = {m.tag: m.first for m in (*GAMES.values(), REWARD_RATE, RETURN)}


class StepStats:
    """The learner's (N,) outputs between two logged points, kept as tensors (no .item() per step)."""

    FOLD = 1024  # steps stacked before they are summed

    def __init__(self):
        self.parts: dict[tuple[str, ...], list[torch.Tensor]] = {}
        self.sums: dict[tuple[str, ...], tuple[torch.Tensor, int]] = {}
        self.restart_clock()

    def restart_clock(self) -> None:
        self.t0, self.steps = time.perf_counter(), 0

    def add(self, out: dict[str, torch.Tensor]) -> None:
        self.steps += 1
        keys = tuple(out)
        part = self.parts.get(keys)
        if part is None:
            part = self.parts[keys] = []
        part.append(torch.stack(tuple(out.values())))
        if len(part) == self.FOLD:
            self._fold(keys)

    def _fold(self, keys: tuple[str, ...]) -> None:
        part = self.parts.pop(keys, [])
        if part:
            total, count = self.sums.get(keys, (0.0, 0))
            self.sums[keys] = (torch.stack(part).sum(0) + total, count + len(part))

    def means(self) -> dict[str, np.ndarray]:
        """(N,) mean of each output since the last call; starts counting afresh."""
        for keys in list(self.parts):
            self._fold(keys)
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for keys, (total, count) in self.sums.items():
            for key, row in zip(keys, total.detach().double().numpy()):
                sums[key] = sums.get(key, 0.0) + row
                counts[key] = counts.get(key, 0) + count
        self.sums = {}
        return {key: sums[key] / counts[key] for key in sums}

    def state_dict(self) -> list:
        for keys in list(self.parts):
            self._fold(keys)
        return [[list(keys), total, count] for keys, (total, count) in self.sums.items()]

    def load_state_dict(self, state: list) -> None:
        self.sums = {tuple(keys): (total, count) for keys, total, count in state}


class RunLog:
    """TensorBoard: one writer per lifetime, plus the aggregate (mean, std, min, max) for N > 1."""

    def __init__(self, logdir: str, names: list[str], aggregate: str | None, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        def make(name: str) -> SummaryWriter:
            return SummaryWriter(os.path.join(logdir, name), purge_step=purge_step, flush_secs=20)

        self.writers = [make(name) for name in names]
        self.mean = make(aggregate) if aggregate else None
        self.layout_done = False

    def text(self, tag: str, rows: list[dict[str, Any]], step: int = 0) -> None:
        """One markdown table per run (rows[i] for lifetime i, rows[-1] for the aggregate)."""
        for writer, table in zip(self.writers + ([self.mean] if self.mean else []), rows):
            body = "\n".join(f"|{k}|{v}|" for k, v in table.items())
            writer.add_text(tag, f"|setting|value|\n|-|-|\n{body}", step)

    def scalars(self, figures: dict[str, np.ndarray], step: int) -> None:
        for tag, values in figures.items():
            values = np.asarray(values, dtype=np.float64)
            for writer, v in zip(self.writers, values):
                if math.isfinite(v):
                    writer.add_scalar(tag, v, step)
            ok = values[np.isfinite(values)]
            if self.mean is None or not len(ok):
                continue
            self.mean.add_scalar(tag, ok.mean(), step)
            if tag not in NO_SPREAD and not tag.startswith("1_game/"):
                self.mean.add_scalar(f"spread/{tag}/std", ok.std(), step)
                self.mean.add_scalar(f"spread/{tag}/min", ok.min(), step)
                self.mean.add_scalar(f"spread/{tag}/max", ok.max(), step)
        if not self.layout_done:  # Custom Scalars: the game first, every run in one chart; then bands
            self.layout_done = True
            measure = r"^1_game/(hit_rate|pipes_per_life)$"
            layout = {"1. the game, all runs": {
                "measure (Pong hit rate, Flappy pipes per life)": ["Multiline", [measure]],
                "reward rate": ["Multiline", [r"^1_game/reward_rate$"]],
                "episodic return, last 100 episodes": ["Multiline", [r"^1_game/return_last100$"]]}}
            if self.mean is not None:  # a band chart: mean between min and max
                layout["2. lifetimes: mean and range"] = {
                    tag: ["Margin", [tag, f"spread/{tag}/min", f"spread/{tag}/max"]] for tag in figures
                    if tag not in NO_SPREAD and not tag.startswith(("agent/", "1_game/"))}
            (self.mean or self.writers[0]).add_custom_scalars(layout)

    def histograms(self, weights: dict[str, torch.Tensor], step: int) -> None:
        for i, writer in enumerate(self.writers):
            for name, w in weights.items():
                writer.add_histogram(f"weights/{name}", w[i].detach(), step)

    def close(self) -> None:
        for writer in self.writers + ([self.mean] if self.mean else []):
            writer.close()


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute: a fresh
    and a resumed run print the same paths."""
    rel = os.path.relpath(path)
    return rel if rel != os.pardir and not rel.startswith(os.pardir + os.sep) else os.path.abspath(path)


def resumed_logdir(given: dict, session: dict, names: list[str], aggregate: str | None, main_name: str) -> str:
    """Where a resumed run's folders are: beside its checkpoint's folder. --logdir and --run-name
    may be given when they name the run's own (re-running the first command with --resume)."""
    ckpt_dir = os.path.dirname(os.path.abspath(given["resume"]))
    logdir = os.path.dirname(ckpt_dir) if os.path.basename(ckpt_dir) == main_name else session["logdir"]
    if "logdir" in given and os.path.abspath(given["logdir"]) != os.path.abspath(logdir):
        raise UsageError(f"--logdir {given['logdir']} is not this run's ({shown_path(logdir)}); a resumed run "
                         f"continues in its own directory: drop --logdir")
    own = {names[0], main_name} | ({aggregate.removesuffix("__mean")} if aggregate else set())
    if "run_name" in given and given["run_name"] not in own:
        raise UsageError(f"--run-name {given['run_name']} is not this run's ({main_name}); a resumed run continues "
                         f"in its own directory: drop --run-name")
    return shown_path(logdir)


def run_names(config: dict, logdir: str, name: str | None) -> tuple[list[str], str | None]:
    """One run per lifetime, {env}__{learner}__{seed}__{unix time} (or NAME, NAME__{seed}), and
    for N > 1 the aggregate, ...__mean. None of them may exist yet."""
    n, seeds = config["lifetimes"], [config["seed"] + i for i in range(config["lifetimes"])]
    exists = lambda runs: any(os.path.exists(os.path.join(logdir, r)) for r in runs)  # noqa: E731
    if name:
        names = [name] if n == 1 else [f"{name}__{s}" for s in seeds]
        aggregate = f"{name}__mean" if n > 1 else None
        if exists(names + [aggregate] * (n > 1)):
            raise UsageError(f"run {name!r} already exists in {logdir!r}; choose another --run-name, or --resume "
                             f"its checkpoint.pt")
        return names, aggregate
    stamp = int(time.time())
    while True:  # two runs started in the same second get different names
        names = [f"{envs.short_name(config['env'])}__{config['learner']}__{s}__{stamp}" for s in seeds]
        aggregate = f"{names[0]}__mean" if n > 1 else None
        if not exists(names + [aggregate] * (n > 1)):
            return names, aggregate
        stamp += 1


def settings_rows(config: dict, session: dict, argv: list[str]) -> dict[str, Any]:
    """Every setting as one flat table (CleanRL's hyperparameter text)."""
    rows: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            rows.update({f"{key}.{k}": v for k, v in value.items()} or {key: "{}"})
        else:
            rows[key] = value
    rows.update({k: session[k] for k in ("compile", "threads", "render")})
    rows["command"] = "python scripts/train.py " + shlex.join(argv)
    return rows
