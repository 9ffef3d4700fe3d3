"""Spiking policy networks (and an MLP reference) over a batch of N independent lifetimes."""

from __future__ import annotations

from tracerl.agents.mlp import MLPPolicy
from tracerl.agents.policy import Policy, check_spaces
from tracerl.agents.spiking import SpikingPolicy

AGENTS = {"spiking": SpikingPolicy, "mlp": MLPPolicy}


def make_agent(name: str, observation_space, action_space, **kwargs) -> Policy:
    """Build an agent by name ("spiking" or "mlp")."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; allowed: {', '.join(map(repr, AGENTS))}")
    return AGENTS[name](observation_space, action_space, **kwargs)


__all__ = ["AGENTS", "MLPPolicy", "Policy", "SpikingPolicy", "check_spaces", "make_agent"]
