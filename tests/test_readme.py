"""The README's own-loop example runs as written (with fewer steps), on the installed package."""

import re

import torch

from conftest import ROOT


def own_loop() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Your own loop"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run(code: str) -> dict:
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    return scope


def test_the_readme_loop_runs_as_written_and_learns():
    code = own_loop()
    assert "reset_state" not in code and "reset_traces" not in code  # the seam needs no manual calls
    scope = run(code.replace("range(200_000)", "range(300)"))
    agent = scope["agent"]
    fresh = type(agent)(agent.observation_space, agent.action_space, hidden=128, feedback="random")
    moved = [k for k, w in agent.weights().items() if not torch.equal(w, fresh.weights()[k])]
    assert "w_out" in moved and "layers.0.w_in" in moved


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
