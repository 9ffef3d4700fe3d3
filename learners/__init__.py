"""Per-step learning rules. Each has ``step(reward, terminated, next_obs)`` and a ``state_dict``."""

from __future__ import annotations

from learners.eprop import EProp

LEARNERS = {"eprop": EProp}


def make_learner(name: str, agent, **kwargs):
    """Build a learner by name for ``agent``."""
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; allowed: {', '.join(map(repr, LEARNERS))}")
    return LEARNERS[name](agent, **kwargs)


__all__ = ["EProp", "LEARNERS", "make_learner"]
