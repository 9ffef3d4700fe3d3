"""The README's own-loop example runs as written (with fewer steps), on the installed package."""

import re

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from conftest import ROOT


def own_loop() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Your own loop"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run(code: str) -> dict:
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    return scope


class SignsEnv(gym.Env):
    """Observation (s, -s), s = +-1 drawn at random for each episode of 20 steps (cut by a time
    limit); the action that names s's sign pays +1, the other -1. Chance: a mean reward of 0."""

    def __init__(self):
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(2)

    def _obs(self):
        return np.array([self.s, -self.s], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s, self.t = float(self.np_random.choice([-1.0, 1.0])), 0
        return self._obs(), {}

    def step(self, action):
        reward = 1.0 if int(action) == int(self.s > 0) else -1.0
        self.t += 1
        return self._obs(), reward, False, self.t >= 20, {}


gym.register(id="ReadmeSigns-v0", entry_point=SignsEnv)


def signs_rewards(code: str, steps: int) -> np.ndarray:
    """The README's loop on ReadmeSigns-v0; the reward of every step."""
    code = code.replace("range(200_000)", f"range({steps})").replace('"tracerl/Pong-v0"', '"ReadmeSigns-v0"')
    code = code.replace("env.step(action)\n", "env.step(action)\n    rewards.append(reward)\n")
    torch.manual_seed(0)
    return np.array(run("rewards = []\n" + code)["rewards"])


def test_the_readme_loop_runs_as_written_and_learns():
    code = own_loop()
    assert "reset_state" not in code and "reset_traces" not in code  # the seam needs no manual calls
    scope = run(code.replace("range(200_000)", "range(300)"))  # on Pong, as written
    agent = scope["agent"]
    fresh = type(agent)(agent.observation_space, agent.action_space, hidden=128, feedback="random")
    moved = [k for k, w in agent.weights().items() if not torch.equal(w, fresh.weights()[k])]
    assert "w_out" in moved and "layers.0.w_in" in moved

    rewards = signs_rewards(code, 1000)  # on a game it can learn in seconds, the same loop
    assert rewards[-300:].mean() > 0.9, (rewards[:300].mean(), rewards[-300:].mean())  # chance: 0
    # the reward, not the entropy term or the critic's own noise, is what teaches it
    unrewarded = signs_rewards(code.replace("learner.step(reward,", "learner.step(0.0 * reward,"), 1000)
    assert abs(unrewarded[-300:].mean()) < 0.3, unrewarded[-300:].mean()


def test_the_readme_loop_across_episode_ends_is_the_librarys_loop():
    """On a game with episodes the README's loop, which resets the game before ``learner.step``,
    follows exactly the lifetime the library's loop gives over a same-step autoreset batch of one:
    no manual ``reset_state``, and no step taken on a finished episode's last observation."""
    from tracerl.agents import SpikingPolicy
    from tracerl.learners import EProp
    from tracerl.learners.run import make_env
    from tracerl.learners.run.loop import loop

    code = own_loop().replace("range(200_000)", "range(600)").replace('"tracerl/Pong-v0"', '"CartPole-v1"')
    code = code.replace("obs, info = env.reset()", "obs, info = env.reset(); ends.append(t)")
    scope = run("ends = []\n" + code)
    assert len(scope["ends"]) >= 5

    env = make_env("CartPole-v1", 1)
    obs, _ = env.reset(seed=0)
    agent = SpikingPolicy(env.single_observation_space, env.single_action_space, hidden=128, feedback="random")
    learner = EProp(agent, signal="td", bound_kappa=0.5)
    state = loop(agent, learner, env, obs, 600)
    assert state.measures.n_episodes[0] == len(scope["ends"])
    for k, w in agent.weights().items():
        assert torch.equal(w, scope["agent"].weights()[k]), k
