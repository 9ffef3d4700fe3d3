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
    "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.003, "reward_scale": True},
    "reward": "env",
}

PRESETS = {
    # 5 seeds reach a trailing-100 mean episode length of 475 within 100k steps (scripts/bench_learning.py).
    "CartPole-v1": {
        "agent": {"hidden": 128, "ticks": 4},
        "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.001, "bound_kappa": 0.5,
                    "gamma": 0.99, "reward_scale": False},
        "reward": "failure",
    },
    # Random feedback reaches the hidden layer with useful updates; symmetric feedback through the
    # small readout weights moved w_in ~100x less than w_out and learned unevenly across seeds.
    "tracerl/Pong-v0": {
        "agent": {"hidden": 128, "ticks": 4, "feedback": "random"},
        "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.01, "bound_kappa": 1.0,
                    "gamma": 0.98, "reward_scale": False},
        # greedy needs the trace to span the ball's whole approach (~40 steps): with lambda 0.9 the
        # trace holds only the last, late corrections before a miss, and greedy learned to avoid
        # moving toward the ball (hit rates below random's).
        "greedy": {"trace_lambda": 0.98, "bound_kappa": 0.5},
        "reward": "env",
    },
    # Flappy Bird punishes every wrong flap: the scripted policy with 1% of its actions flipped
    # passes 4.4 pipes per crash instead of 74. A sharper softmax (T = 0.3) and no entropy term
    # let the policy become that sure (median pipes per crash at 300k 9.7; T = 1, entropy 0.001: 4.8).
    # It must also be quick: with tau_mem 10 / tau_out 5 ticks at 4 ticks per step the network
    # answers an observation about two steps late, while the bird moves up to 10 px a step. Time
    # constants of 3 / 1.5 ticks and 8 ticks per step: median 13.9 at 300k (scripts/bench_imitation.py:
    # taught the scripted action directly, agreement 0.950 -> 0.979 after 30k steps).
    "tracerl/FlappyBird-v0": {
        "agent": {"hidden": 128, "ticks": 8, "tau_mem": 3.0, "tau_out": 1.5, "feedback": "random",
                  "temperature": 0.3},
        "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.0, "bound_kappa": 1.0,
                    "gamma": 0.98, "reward_scale": False},
        "reward": "env",
    },
}


# The presets are written for eprop; the other learners take these on top (and ignore what does
# not apply to them, such as bound_kappa for bptt).
LEARNER_OVERRIDES = {
    "eprop": {},
    "reflect": {"signal": "greedy"},  # reflect's signal is the greedy advantage
    "bptt": {"lr": 0.001, "window": 100},  # Adam on the windowed gradient
}


def preset(env_id: str, learner: str = "eprop", signal: str | None = None, tuned: bool = True) -> dict:
    """A deep copy of the preset for ``env_id`` (DEFAULT if it has none or ``tuned`` is False), for
    ``learner`` and ``signal``.

    A preset may hold per-signal overrides under the signal's name (e.g. ``"greedy": {...}``).
    """
    cfg = copy.deepcopy(PRESETS.get(env_id, DEFAULT) if tuned else DEFAULT)
    signal = signal or LEARNER_OVERRIDES.get(learner, {}).get("signal") or cfg["learner"].get("signal")
    for name in ("td", "greedy"):
        overrides = cfg.pop(name, {})
        if name == signal:
            cfg["learner"].update(overrides)
    cfg["learner"].update(LEARNER_OVERRIDES.get(learner, {}))
    if signal:
        cfg["learner"]["signal"] = signal
    return cfg
