"""Bundled games, registered with Gymnasium on import.

    import gymnasium as gym, envs
    env = gym.make("tracerl/Pong-v0")                       # one game
    vec = gym.make_vec("tracerl/Pong-v0", num_envs=256,     # N games as numpy arrays
                       vectorization_mode="vector_entry_point")

On the command line the short names ``pong`` and ``flappy`` stand for these ids.
"""

from __future__ import annotations

import gymnasium as gym

from envs.flappy import FlappyBirdEnv, FlappyBirdVecEnv
from envs.pong import PongEnv, PongVecEnv

ALIASES = {"pong": "tracerl/Pong-v0", "flappy": "tracerl/FlappyBird-v0"}

for _id, _single, _vec in (("tracerl/Pong-v0", "envs.pong:PongEnv", "envs.pong:PongVecEnv"),
                           ("tracerl/FlappyBird-v0", "envs.flappy:FlappyBirdEnv", "envs.flappy:FlappyBirdVecEnv")):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_single, vector_entry_point=_vec)


def resolve_id(name: str) -> str:
    """A short name (``pong``, ``flappy``) or any registered Gymnasium id -> the Gymnasium id.

    Raises ValueError naming the value and what is allowed when the id is not registered.
    """
    env_id = ALIASES.get(name, name)
    if env_id not in gym.registry:
        raise ValueError(f"unknown environment {name!r}; allowed: {', '.join(ALIASES)} or a registered "
                         f"Gymnasium id such as CartPole-v1")
    return env_id


__all__ = ["ALIASES", "FlappyBirdEnv", "FlappyBirdVecEnv", "PongEnv", "PongVecEnv", "resolve_id"]
