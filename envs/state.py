"""Snapshots of the bundled games for checkpoints: every field in ``_STATE`` plus the random streams."""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np


class GameState:
    """For a single game (a gym.Env): ``state_dict()`` / ``load_state_dict()`` continue it exactly."""

    _STATE: tuple[str, ...] = ()

    def state_dict(self) -> dict[str, Any]:
        state = {k: copy.deepcopy(getattr(self, k)) for k in self._STATE}
        state["rng"] = self.np_random.bit_generator.state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self._STATE:
            setattr(self, k, copy.deepcopy(state[k]))
        self.np_random.bit_generator.state = state["rng"]


class BatchedGameState:
    """For N games as numpy arrays with one random stream each (``self._rngs``)."""

    _STATE: tuple[str, ...] = ()
    num_envs: int

    def _seed_rngs(self, seed: int | list[int] | None) -> None:
        """Game i gets ``seed + i`` (or seed[i]), through Gymnasium's seeding like the single games."""
        n = self.num_envs
        seeds = [None] * n if seed is None else [seed + i for i in range(n)] if isinstance(seed, int) else list(seed)
        self._rngs = [gym.utils.seeding.np_random(s)[0] for s in seeds]

    def state_dict(self) -> dict[str, Any]:
        state = {k: np.array(getattr(self, k), copy=True) for k in self._STATE}
        state["rngs"] = [r.bit_generator.state for r in self._rngs]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in self._STATE:
            setattr(self, k, np.array(state[k], copy=True))
        self._rngs = [gym.utils.seeding.np_random(0)[0] for _ in state["rngs"]]
        for r, s in zip(self._rngs, state["rngs"]):
            r.bit_generator.state = s
