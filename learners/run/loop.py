"""The loop of a run, written once: act, step the games, learn; callbacks do everything else.

    env = make_env("pong", n=5)
    obs, _ = env.reset(seed=0)
    state = loop(agent, learner, env, obs, steps=200_000, callbacks=[MyCallback()])
    state.measures.since_last()["hit_rate"]

In the manner of Stable-Baselines3's callbacks, a :class:`Callback` sees the loop's
:class:`LoopState` at the start, after every step (returning False stops the loop after that
step), at every logged point (``on_log``, called by the logging callback with the (N,) figures by
TensorBoard tag) and at the end (``finished``: the loop ran to its last step or a callback stopped
it; False when an exception, a NaN or a second Ctrl-C, ends it mid-step). train.py's logging,
checkpoints, live window, signal handling and a sweep's reports are callbacks
(:mod:`tracerl.learners.run.callbacks`).

``learner=None`` plays without learning: the agent's activity is reset where an episode ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch

from tracerl.learners.run.games import Measures, counts_events, learning_reward


@dataclass
class LoopState:
    """What callbacks see: the objects of the run and the last step.

    ``t`` counts env steps per lifetime (a resumed run starts at its checkpoint's step, ``start``);
    ``reward`` (N,) is the env's reward of the last step; ``out`` the learner's (N,) figures of it.
    """

    agent: Any
    learner: Any
    env: gym.vector.VectorEnv
    obs: Any
    steps: int
    t: int = 0
    start: int = 0
    reward_kind: str = "env"
    measures: Measures | None = None
    callbacks: Sequence["Callback"] = ()
    reward: np.ndarray | None = None
    terminated: np.ndarray | None = None
    truncated: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    out: dict[str, torch.Tensor] | None = None


class Callback:
    """Hooks into :func:`loop`; every method does nothing unless overridden."""

    def on_start(self, state: LoopState) -> None:
        """Before the first step."""

    def on_step(self, state: LoopState) -> bool | None:
        """After every step (``state.t`` already counts it). False stops the loop after this step."""
        return True

    def on_log(self, state: LoopState, figures: dict[str, np.ndarray]) -> None:
        """At every logged point: the (N,) figures by TensorBoard tag (sent by the logging callback)."""

    def on_end(self, state: LoopState, finished: bool) -> None:
        """After the last step; ``finished`` is False when an exception ended the loop mid-step."""


def loop(agent, learner, env: gym.vector.VectorEnv, obs, steps: int, *, t: int = 0, reward: str = "env",
         measures: Measures | None = None, callbacks: Sequence[Callback] = ()) -> LoopState:
    """Run N lifetimes from step ``t`` to step ``steps``: act, step the games, learn, measure.

    Returns the final :class:`LoopState` (its ``obs`` continues the lifetimes; its ``measures``
    hold their figures). An exception (a NaN in learning raises FloatingPointError) reaches the
    caller after every callback's ``on_end(state, finished=False)``.
    """
    state = LoopState(agent, learner, env, obs, steps, t=t, start=t, reward_kind=reward,
                      measures=measures or Measures(env.num_envs, counts_events(env)), callbacks=list(callbacks))
    hooks = [cb for cb in state.callbacks if type(cb).on_step is not Callback.on_step]
    finished = False
    try:
        for cb in state.callbacks:
            cb.on_start(state)
        act, update = agent.act, state.measures.update
        learn = learner.step if learner is not None else None
        while state.t < steps:
            action = act(state.obs)
            obs, r, terminated, truncated, info = env.step(action)
            done = terminated | truncated
            if learn is not None:
                if truncated.any() and "final_obs" in info:  # a time limit: the learner bootstraps from the last obs
                    final = obs.copy()
                    cut = truncated & info["_final_obs"]
                    final[cut] = np.stack(info["final_obs"][cut])
                    state.out = learn(learning_reward(reward, r, terminated), terminated, obs, truncated, final_obs=final)
                else:
                    state.out = learn(learning_reward(reward, r, terminated), terminated, obs, truncated)
            elif done.any():
                agent.reset_state(torch.from_numpy(done))
            update(r, done, info)
            state.t += 1
            state.obs, state.reward, state.terminated, state.truncated, state.info = obs, r, terminated, truncated, info
            if hooks and not all([cb.on_step(state) is not False for cb in hooks]):
                break
        finished = True
    finally:
        for cb in state.callbacks:
            cb.on_end(state, finished)
    return state


class Every(Callback):
    """Calls ``fn(t, measures)`` every ``every`` steps (the benchmarks' reports)."""

    def __init__(self, every: int, fn: Callable[[int, Measures], None]):
        self.every, self.fn = every, fn

    def on_step(self, state: LoopState) -> bool:
        if state.t % self.every == 0:
            self.fn(state.t, state.measures)
        return True


def run(agent, learner, env: gym.vector.VectorEnv, obs, steps: int, reward: str = "env",
        measures: Measures | None = None, every: int = 0,
        callback: Callable[[int, Measures], None] | None = None):
    """``steps`` steps of :func:`loop` from step 0; ``callback(t, measures)`` every ``every`` steps.
    Returns (measures, last obs)."""
    cbs = [Every(every, callback)] if every and callback is not None else []
    state = loop(agent, learner, env, obs, steps, reward=reward, measures=measures, callbacks=cbs)
    return state.measures, state.obs
