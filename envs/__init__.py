"""Bundled games, registered with Gymnasium on import, and the names the command line takes.

    import gymnasium as gym, envs
    env = gym.make("tracerl/Pong-v0")                       # one game
    vec = gym.make_vec("tracerl/Pong-v0", num_envs=256,     # N games as numpy arrays
                       vectorization_mode="vector_entry_point")
    envs.resolve_id("cartpole")                             # -> "CartPole-v1"
    envs.resolve_id("some_package:Game-v0")                 # imports some_package, which registers Game-v0

On the command line (train.py, watch.py, the benchmarks) the short names of ``ALIASES`` stand for
their ids, and Gymnasium's ``module:Id`` form names a game that another package registers when it
is imported.
"""

from __future__ import annotations

import difflib
import importlib

import gymnasium as gym

from tracerl.envs.flappy import FlappyBirdEnv, FlappyBirdVecEnv
from tracerl.envs.pong import PongEnv, PongVecEnv

BUNDLED = ("tracerl/Pong-v0", "tracerl/FlappyBird-v0")  # the games of this package
# The one table of short names: train.py, watch.py and every benchmark resolve --env through it.
ALIASES = {"pong": "tracerl/Pong-v0", "flappy": "tracerl/FlappyBird-v0", "cartpole": "CartPole-v1",
           "acrobot": "Acrobot-v1"}

for _id, _single, _vec in (
        ("tracerl/Pong-v0", "tracerl.envs.pong:PongEnv", "tracerl.envs.pong:PongVecEnv"),
        ("tracerl/FlappyBird-v0", "tracerl.envs.flappy:FlappyBirdEnv", "tracerl.envs.flappy:FlappyBirdVecEnv")):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_single, vector_entry_point=_vec)


def register_minatar() -> bool:
    """Register MinAtar's Gymnasium ids (``MinAtar/Breakout-v1``, ...) when the ``minatar`` package is
    installed (``pip install -e ".[minatar]"``): importing ``minatar.gym`` alone registers nothing.
    Returns whether they are registered."""
    if "MinAtar/Breakout-v1" in gym.registry:
        return True
    try:
        from minatar import gym as minatar_gym
    except ImportError:
        return False
    minatar_gym.register_envs()
    return True


register_minatar()


def resolve_id(name: str) -> str:
    """A short name (``pong``, ``cartpole``, ...), a registered Gymnasium id, or ``module:Id`` -> the id.

    ``module:Id`` imports ``module`` (which registers ``Id`` on import, as Gymnasium's ``make``
    does with this form) and returns ``module:Id`` itself, so a run's config names the module
    and a resumed run or watch.py imports it again. Raises ValueError, one line, naming the value,
    the nearest names (difflib) and what is allowed when the id is not registered.
    """
    env_id = ALIASES.get(name, name)
    module, colon, bare = env_id.rpartition(":")
    if colon:
        if not module or not bare:
            raise ValueError(f"invalid environment {name!r}; expected module:Id, e.g. some_package:Game-v0")
        try:
            importlib.import_module(module)
        except Exception as e:  # ImportError, or the module's own error at import
            raise ValueError(f"cannot import module {module!r} for environment {name!r}: "
                             f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": "))
        if bare not in gym.registry:
            raise ValueError(f"module {module!r} registers no environment {bare!r}{near_miss(bare)}")
        return env_id
    if env_id not in gym.registry:
        raise ValueError(f"unknown environment {name!r}{near_miss(name)}; allowed: {', '.join(ALIASES)}, a "
                         f"registered Gymnasium id such as CartPole-v1, or module:Id (a package that registers Id)")
    return env_id


def near_miss(name: str) -> str:
    """`` (did you mean 'pong'?)`` for the nearest short names and registered ids (case aside), or ''."""
    by_lower: dict[str, str] = {}
    for n in [*ALIASES, *gym.registry]:
        by_lower.setdefault(n.lower(), n)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.75)
    return f" (did you mean {' or '.join(repr(by_lower[c]) for c in close)}?)" if close else ""


def short_name(env_id: str) -> str:
    """The id without its module and namespace, for run names: ``pkg:ns/Game-v0`` -> ``Game-v0``."""
    return env_id.rpartition(":")[2].split("/")[-1]


__all__ = ["ALIASES", "BUNDLED", "FlappyBirdEnv", "FlappyBirdVecEnv", "PongEnv", "PongVecEnv", "near_miss",
           "register_minatar", "resolve_id", "short_name"]
