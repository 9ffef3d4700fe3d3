"""Checkpoints of a run: everything that continues the same lifetimes, written atomically.

    save_checkpoint(path, {"format": FORMAT, "version": VERSION, "step": t, ...})
    ckpt = load_checkpoint(path)        # UsageError for a missing, corrupt or foreign file

numpy arrays in the games' state are stored as tensors (``to_torch``) so that
``torch.load(weights_only=True)`` reads the file; ``to_numpy`` turns them back.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from tracerl.learners.run.settings import UsageError, one_line

FORMAT, VERSION = "tracerl-train-checkpoint", 1


def to_torch(obj: Any) -> Any:
    """numpy arrays and scalars inside nested dicts / lists -> tensors (torch.load(weights_only) reads them)."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, dict):
        return {k: to_torch(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_torch(v) for v in obj)
    return obj


def to_numpy(obj: Any) -> Any:
    """The inverse of :func:`to_torch` (0-d tensors become numpy scalars)."""
    if isinstance(obj, torch.Tensor):
        a = obj.numpy()
        return a[()] if a.ndim == 0 else a
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_numpy(v) for v in obj)
    return obj


def env_state(env: gym.vector.VectorEnv) -> dict:
    """The games' own state: a native batch's state_dict, each single game's, or nothing (other envs)."""
    if hasattr(env, "state_dict"):
        return {"kind": "vector", "state": to_torch(env.state_dict())}
    games = [e.unwrapped for e in getattr(env, "envs", [])]
    if games and all(hasattr(g, "state_dict") for g in games):
        return {"kind": "singles", "states": [to_torch(g.state_dict()) for g in games]}
    return {"kind": "fresh"}


def load_env_state(env: gym.vector.VectorEnv, state: dict) -> None:
    if state["kind"] == "vector":
        env.load_state_dict(to_numpy(state["state"]))
    elif state["kind"] == "singles":
        for game, s in zip(env.envs, state["states"]):
            game.unwrapped.load_state_dict(to_numpy(s))


def save_checkpoint(path: str, state: dict) -> None:
    """Write atomically: a reader sees the old checkpoint or the new one, never half of one."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    """Read a train.py checkpoint; a missing, corrupt or foreign file raises UsageError."""
    if not os.path.isfile(path):
        raise UsageError(f"checkpoint {path!r} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UsageError(f"cannot read checkpoint {path!r}: corrupt or not a tracerl checkpoint ({one_line(e)})")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UsageError(f"{path!r} is not a tracerl train.py checkpoint")
    if ckpt.get("version") != VERSION:
        raise UsageError(f"checkpoint {path!r} has format version {ckpt.get('version')!r}; this train.py reads "
                         f"{VERSION}")
    return ckpt


def detached(state: dict) -> dict:
    return {k: v.detach() for k, v in state.items()}


def one_lifetime(saved: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor], n: int, k: int) -> dict:
    """Lifetime k of a state_dict of N lifetimes, shaped like ``fresh`` (a state_dict of one).

    A tensor is sliced where the saved one has N rows and the fresh one a single row; everything
    else (scalars, tensors shared by all lifetimes) is taken as it is.
    """
    out = {}
    for key, ref in fresh.items():
        t = saved[key]
        if t.shape != ref.shape and t.dim() >= 1 and t.shape[0] == n and t.shape[1:] == ref.shape[1:]:
            t = t[k:k + 1]
        out[key] = t.clone()
    return out
