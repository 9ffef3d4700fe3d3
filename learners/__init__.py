"""Per-step learning rules. Each has ``step(reward, terminated, next_obs)`` and a ``state_dict``."""

from __future__ import annotations

from tracerl.learners.bptt import BPTT
from tracerl.learners.eprop import EProp
from tracerl.learners.reflect import Reflect

LEARNERS = {"eprop": EProp, "reflect": Reflect, "bptt": BPTT}


def make_learner(name: str, agent, **kwargs):
    """Build a learner by name for ``agent``."""
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; allowed: {', '.join(map(repr, LEARNERS))}")
    return LEARNERS[name](agent, **kwargs)


__all__ = ["BPTT", "EProp", "LEARNERS", "Reflect", "make_learner"]
