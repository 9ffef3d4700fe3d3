"""Evaluation as Stable-Baselines3's EvalCallback does it: the lifetimes as they stand, learning
frozen, each in a copy of its game, acting by the most probable action (and, as a second figure,
by sampling, as in training).

    figures = evaluate(agent, config, episodes=5, steps=5000)   # {"eval/mean_reward": (N,), ...}
    EvalCallback(log, every=50_000, episodes=5, steps=5000)      # train.py --eval-every 50000

Games with episodes: each lifetime plays until it has finished ``episodes`` episodes (at most
``MAX_EPISODE_STEPS`` steps each); ``eval/mean_reward`` and ``eval/mean_ep_length`` are the mean
return and length of those episodes. The bundled games, one endless life: a fixed stretch of
``steps`` steps, their measure over it (``eval/hit_rate``, ``eval/pipes_per_life``) and
``eval/reward_rate``. Sampled figures end in ``_sampled``. The copies start from rest in games
seeded apart from training's (seed + ``SEED_OFFSET``), the same ones at every evaluation; the
agent's own plasticity (homeostasis, input statistics) is stopped in the copy, so the lifetime
itself is untouched.
"""

from __future__ import annotations

import numpy as np
import torch

from tracerl.learners.run.build import build_agent, build_env
from tracerl.learners.run.games import EPISODES, Measures, counts_events, endless
from tracerl.learners.run.loop import Callback, LoopState, loop

SEED_OFFSET = 10_000  # the evaluation games' seeds, apart from training's
MAX_EPISODE_STEPS = 10_000  # a cap per wanted episode, for a game whose episodes never end


class _Enough(Callback):
    """Stops the loop once every lifetime has finished ``episodes`` episodes."""

    def __init__(self, episodes: int):
        self.episodes = episodes

    def on_step(self, state: LoopState) -> bool:
        return not bool((state.measures.n_episodes >= self.episodes).all())


@torch.no_grad()
def evaluate(agent, config: dict, episodes: int = 5, steps: int = 5000) -> dict[str, np.ndarray]:
    """(N,) figures of every lifetime of ``agent``, played frozen: greedy, then sampled."""
    n, figures = agent.n, {}
    continuing = endless(config)
    for greedy, suffix in ((True, ""), (False, "_sampled")):
        env = build_env(config, n, singles=False, render=False)
        obs, _ = env.reset(seed=config["seed"] + SEED_OFFSET)
        copy = build_agent(config, env, n=n)
        copy.load_state_dict(agent.state_dict())
        copy.freeze()
        copy.reset_state()
        copy.greedy = greedy
        measures = Measures(n, counts_events(config["env"]))
        if continuing:
            loop(copy, None, env, obs, steps, measures=measures)
            figures.update({f"eval/{key}{suffix}": v for key, v in measures.game().items()})
            figures[f"eval/reward_rate{suffix}"] = measures.reward / max(measures.steps, 1)
        else:
            loop(copy, None, env, obs, episodes * MAX_EPISODE_STEPS, measures=measures, callbacks=[_Enough(episodes)])
            length, ret = measures.opening(min(episodes, EPISODES))
            figures[f"eval/mean_reward{suffix}"], figures[f"eval/mean_ep_length{suffix}"] = ret, length
        env.close()
    return figures


class EvalCallback(Callback):
    """Every ``every`` steps (and not at step 0), :func:`evaluate` the lifetimes and log the figures
    to the run's TensorBoard log under ``eval/``, and to the terminal."""

    def __init__(self, log, config: dict, every: int, episodes: int = 5, steps: int = 5000):
        self.log, self.config, self.every, self.episodes, self.steps = log, config, every, episodes, steps

    def on_step(self, state: LoopState) -> bool:
        if self.every and state.t % self.every == 0:
            figures = evaluate(state.agent, self.config, self.episodes, self.steps)
            self.log.scalars(figures, state.t)
            main = next(iter(figures))
            print(f"eval at step {state.t:,}: {main} {np.nanmean(figures[main]):.3f} (mean over lifetimes)", flush=True)
        return True
