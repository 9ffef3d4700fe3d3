"""Building a run's games, agent and learner from its resolved settings (:mod:`.settings`).

    env = build_env(config, n=config["lifetimes"], singles=False, render=False)
    agent = build_agent(config, env)
    learner = build_learner(config, agent)
    compile_step(agent, learner)        # torch.compile, the agent's forward once

What the user got wrong (an env that cannot be made, spaces a policy cannot take, a keyword the
agent or learner refuses) raises :class:`UsageError` in one line.
"""

from __future__ import annotations

import gymnasium as gym

from tracerl.agents import make_agent
from tracerl.agents.policy import check_spaces
from tracerl.learners import make_learner
from tracerl.learners.run.checkpoint import one_lifetime
from tracerl.learners.run.games import make_env
from tracerl.learners.run.settings import UsageError, one_line


def build_env(config: dict, n: int, singles: bool, render: bool) -> gym.vector.VectorEnv:
    """N games (:func:`~tracerl.learners.run.games.make_env`); ``singles``: N single games, so one can be drawn."""
    env_id, kwargs = config["env"], dict(config["env_kwargs"])
    if render:
        kwargs["render_mode"] = "rgb_array"
    try:
        return make_env(env_id, n, singles=singles, **kwargs)
    except Exception as e:  # a missing extra (box2d), an unknown env keyword, ...
        raise UsageError(f"cannot make {env_id} with {config['env_kwargs'] or 'its defaults'}: {one_line(e)}")


def build_agent(config: dict, env: gym.vector.VectorEnv, n: int | None = None, seed: int | None = None):
    try:
        check_spaces(env.single_observation_space, env.single_action_space)
    except ValueError as e:
        raise UsageError(f"{config['env']}: {one_line(e)}")
    try:
        return make_agent(config["agent"], env.single_observation_space, env.single_action_space,
                          n=n or config["lifetimes"], seed=config["seed"] if seed is None else seed,
                          **config["agent_kwargs"])
    except (ValueError, TypeError) as e:
        raise UsageError(one_line(e))


def build_learner(config: dict, agent):
    try:
        return make_learner(config["learner"], agent, **config["learner_kwargs"])
    except (ValueError, TypeError) as e:
        raise UsageError(one_line(e))


def build_lifetime(ckpt: dict, path: str, env: gym.vector.VectorEnv, k: int, learn: bool = False):
    """Lifetime k of a checkpoint (read from ``path``) alone: an agent of one lifetime, seeded as
    lifetime k was, holding the checkpoint's rows k, and its learner likewise when ``learn``
    (else None). A checkpoint that does not fit its own settings is one line (UsageError)."""
    config = ckpt["config"]
    n = config["lifetimes"]
    agent = build_agent(config, env, n=1, seed=config["seed"] + k)
    learner = build_learner(config, agent) if learn else None
    try:
        agent.load_state_dict(one_lifetime(ckpt["agent"], agent.state_dict(), n, k))
        if learner is not None:
            learner.load_state_dict(one_lifetime(ckpt["learner"], learner.state_dict(), n, k))
    except (KeyError, RuntimeError) as e:
        raise UsageError(f"checkpoint {path!r} does not fit its own settings: {one_line(e)}")
    return agent, learner


def compile_step(agent, learner=None) -> None:
    """Compile the per-step work with torch.compile: the learner's step, which compiles the agent's
    forward where it does not run it itself (``learner.compile()``), or, without a learner, the
    agent's forward (``agent.compile()``)."""
    if learner is not None:
        learner.compile()
    else:
        agent.compile()
