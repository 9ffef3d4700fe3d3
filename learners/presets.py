"""Per-environment default settings, in one place: the ones the benchmarks measure.

Each preset has ``agent`` (SpikingPolicy / MLPPolicy keywords), ``learner`` (learner keywords)
and ``reward``: "env" (the environment's reward) or "failure" (0 every step, -1 when the episode
terminates: CartPole's learning reward as a continuing lifetime). Values not given fall back to
the class defaults. ``preset(env_id)`` returns DEFAULT for environments without their own.
"""

from __future__ import annotations

import copy

DEFAULT = {
    "agent": {"hidden": 128, "ticks": 4},
    "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.01},
    "reward": "env",
}

PRESETS = {
    "CartPole-v1": {
        "agent": {"hidden": 128, "ticks": 4},
        "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.01, "gamma": 0.99},
        "reward": "failure",
    },
    "tracerl/Pong-v0": {
        "agent": {"hidden": 128, "ticks": 4},
        "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.01, "gamma": 0.98},
        "reward": "env",
    },
    "tracerl/FlappyBird-v0": {
        "agent": {"hidden": 128, "ticks": 4},
        "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.01, "gamma": 0.98},
        "reward": "env",
    },
}


def preset(env_id: str) -> dict:
    """A deep copy of the preset for ``env_id`` (DEFAULT if it has none)."""
    return copy.deepcopy(PRESETS.get(env_id, DEFAULT))
