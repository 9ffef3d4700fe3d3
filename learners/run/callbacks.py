"""train.py's callbacks for :func:`tracerl.learners.run.loop.loop`.

    stop = StopOnSignal()
    callbacks = [stop, LiveCallback(window), LogCallback(log, every=1000), Progress(steps),
                 CheckpointCallback(save, every=100_000)]
    loop(agent, learner, env, obs, steps, callbacks=callbacks)

Order matters at the end: the logging callback logs the last partial stretch of steps before the
checkpoint is written (so the checkpoint holds no half-counted figures), and the checkpoint is
written only when the loop finished cleanly (never mid-step, nor the state a NaN left behind).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from tracerl.learners.run.games import GAME_TAGS, GAMES, REWARD_RATE, RETURN
from tracerl.learners.run.loop import Callback, LoopState
from tracerl.learners.run.runlog import FIRST, RunLog, StepStats

LINE_EVERY = 30  # seconds between plain progress lines where no bar can be drawn
FALLBACK_COLUMNS = 80  # the bar's width where the terminal reports 0 columns


class Current(Callback):
    """Keeps the loop's state at hand (``self.state``), also after an exception ended the loop."""

    def __init__(self):
        self.state: LoopState | None = None

    def on_start(self, state: LoopState) -> None:
        self.state = state


class StopOnSignal(Callback):
    """SIGINT / SIGTERM stop the loop after the current step (``signum`` says which); a second
    Ctrl-C raises KeyboardInterrupt at once (the loop then ends mid-step, so no checkpoint).

    Only the main thread can take signals: run in another thread (a Ray Tune trial), the handlers
    stay as they are and whoever runs the thread stops it."""

    def __init__(self):
        self.signum = 0
        self.old: dict = {}

    def on_start(self, state: LoopState) -> None:
        if threading.current_thread() is threading.main_thread():
            self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum, frame) -> None:
        if self.signum:
            raise KeyboardInterrupt
        self.signum = signum

    def on_step(self, state: LoopState) -> bool:
        return not self.signum

    def on_end(self, state: LoopState, finished: bool) -> None:
        for s, handler in self.old.items():
            signal.signal(s, handler)
        self.old = {}


class LogCallback(Callback):
    """The TensorBoard log: every ``every`` steps (and at the last step) the (N,) figures of each
    lifetime, sent to every callback's ``on_log``; weight histograms every ``hist_every`` steps.

    Figures: the reward rate and the learner's outputs (means since the last point), the games'
    measures (:data:`~tracerl.learners.run.games.GAMES`), episodic returns and lengths, steps/s,
    and the agent's own figures (firing rates, weight norms).
    """

    def __init__(self, log: RunLog, every: int, hist_every: int = 0, stats: StepStats | None = None):
        self.log, self.every, self.hist_every = log, every, hist_every
        self.stats = stats or StepStats()

    def on_start(self, state: LoopState) -> None:
        # episodes already logged, and their (length, return) sums: the new ones are the difference
        self.seen, self.seen_totals = state.measures.n_episodes.copy(), state.measures.totals.copy()
        self.stats.restart_clock()

    def on_step(self, state: LoopState) -> bool:
        if state.out is not None:
            self.stats.add(state.out)
        else:
            self.stats.steps += 1
        t = state.t
        if t % self.every == 0 or t == state.steps:
            self.report(state)
        if self.hist_every and t % self.hist_every == 0:
            self.log.histograms(state.agent.weights(), t)
        return True

    def report(self, state: LoopState) -> dict[str, np.ndarray]:
        """Log the figures since the last point at step ``state.t``; every callback's ``on_log`` gets them."""
        measures, n = state.measures, state.env.num_envs
        w = measures.since_last()
        figures = {REWARD_RATE.tag: w["reward_rate"]}
        figures.update({tag: w[key] for key, tag in GAME_TAGS.items() if key in w})
        new = measures.n_episodes - self.seen
        if new.any():
            mean = (measures.totals - self.seen_totals) / np.maximum(new, 1)[:, None]
            figures["charts/episodic_return"] = np.where(new > 0, mean[:, 1], np.nan)
            figures["charts/episodic_length"] = np.where(new > 0, mean[:, 0], np.nan)
        self.seen, self.seen_totals = measures.n_episodes.copy(), measures.totals.copy()
        if measures.n_episodes.any():
            lens, rets = measures.trailing(100)
            figures[RETURN.tag], figures["rollout/ep_len_mean"] = rets, lens
        sps = self.stats.steps / max(time.perf_counter() - self.stats.t0, 1e-9)
        self.stats.restart_clock()
        figures["charts/SPS"] = figures["time/fps"] = np.full(n, sps)
        figures.update({f"learner/{k}": v for k, v in self.stats.means().items()})
        with torch.no_grad():
            figures.update({f"agent/{k}": v.detach().numpy() for k, v in state.agent.stats().items()})
        figures.update({first: figures[tag] for tag, first in FIRST.items() if tag in figures})
        self.log.scalars(figures, state.t)
        self.logged_at = state.t
        for cb in state.callbacks:
            cb.on_log(state, figures)
        return figures

    def on_end(self, state: LoopState, finished: bool) -> None:
        if finished and state.t > state.start and state.t % self.every and getattr(self, "logged_at", -1) != state.t:
            self.report(state)  # stopped between two log points: log the partial stretch


def summary(figures: dict[str, np.ndarray]) -> str:
    """The progress bar's figures: reward per step and the game's measure (or the return)."""
    text = f"{REWARD_RATE.label} {np.nanmean(figures[REWARD_RATE.tag]):+.4f}"
    for m in (*GAMES.values(), RETURN):
        if m.tag in figures and np.isfinite(figures[m.tag]).any():
            text += f"  {m.label} {np.nanmean(figures[m.tag]):.3f}"
    return text


def terminal_columns() -> int:
    """The columns the terminal reports: 0 where either Python (shutil) or the terminal behind stderr
    (what tqdm asks) says 0."""
    columns = shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
    try:
        columns = min(columns, os.get_terminal_size(sys.stderr.fileno()).columns)
    except (AttributeError, ValueError, OSError):  # not a real terminal (a test's stand-in)
        pass
    return columns


class Progress(Callback):
    """tqdm's bar on a terminal, with the last logged :func:`summary`, and a plain line every
    LINE_EVERY seconds where no bar can be drawn.

    Without a terminal (a log file, CI) only the lines. A terminal that reports 0 columns (some CI
    and ``script`` set-ups) gets a bar of FALLBACK_COLUMNS and the lines as well: tqdm sized to 0
    columns prints nothing.
    """

    def on_start(self, state: LoopState) -> None:
        tty = sys.stderr.isatty()
        wide = tty and terminal_columns() > 0
        self.bar = tqdm(total=state.steps, initial=state.t, unit="step", dynamic_ncols=wide,
                        ncols=None if wide else FALLBACK_COLUMNS, disable=not tty, file=sys.stderr)
        self.lines, self.last_line = not (tty and wide), time.perf_counter()

    def on_step(self, state: LoopState) -> bool:
        if state.t % 50 == 0:
            self.bar.update(state.t - self.bar.n)
        return True

    def on_log(self, state: LoopState, figures: dict[str, np.ndarray]) -> None:
        text = summary(figures)
        self.bar.set_postfix_str(text, refresh=False)
        if self.lines and time.perf_counter() - self.last_line > LINE_EVERY:
            print(f"step {state.t:,}  {text}", flush=True)
            self.last_line = time.perf_counter()

    def on_end(self, state: LoopState, finished: bool) -> None:
        self.bar.update(state.t - self.bar.n)
        self.bar.close()


class CheckpointCallback(Callback):
    """``save(t)`` every ``every`` steps (0: never in between) and at the end of a loop that
    finished cleanly after at least one step."""

    def __init__(self, save: Callable[[int], None], every: int):
        self.save, self.every = save, every

    def on_step(self, state: LoopState) -> bool:
        if self.every and state.t % self.every == 0:
            self.save(state.t)
        return True

    def on_end(self, state: LoopState, finished: bool) -> None:
        if finished and state.t > state.start:
            self.save(state.t)


class LiveCallback(Callback):
    """The live window (:class:`~tracerl.learners.run.live.LiveWindow`) of one lifetime: fed every
    step. Once the user closes it, training goes on headless, or the loop stops (``stop_on_close``:
    watch.py)."""

    def __init__(self, live, lifetime: int, record: str | None = None, stop_on_close: bool = False):
        self.live, self.k, self.record, self.stop_on_close = live, lifetime, record, stop_on_close

    def on_step(self, state: LoopState) -> bool:
        if self.live is not None and not self.live.step(state.t, float(state.reward[self.k])):
            self.close()
            if self.stop_on_close:
                return False
            tqdm.write("window closed; training goes on headless (Ctrl-C stops it and saves a checkpoint)")
        return True

    def close(self) -> None:
        self.live.close()
        if self.live.recorder is not None:
            tqdm.write(f"recorded {self.live.recorded} frames to {self.record}")
        self.live = None

    def on_end(self, state: LoopState, finished: bool) -> None:
        if self.live is not None:
            self.close()
