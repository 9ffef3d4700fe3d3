"""Spiking neuron models as pure step functions over explicit state.

Every tensor carries a leading batch dimension N of independent lifetimes. A step function takes
the input current of one network tick and the state, and returns the spikes and the new state;
nothing is kept anywhere else, so a model can be tested by calling one function.

LIF, discrete time, subtractive reset (one tick)::

    v_t = alpha * v_{t-1} + I_t - theta * z_{t-1}
    z_t = H(v_t - theta)                                 (strictly above: v_t > theta)

or, with ``reset="zero"`` (the reset NIR and most neuromorphic chips have; :mod:`tracerl.agents.nirgraph`),
the potential after a spike is 0: ``v_t = alpha * (1 - z_{t-1}) * v_{t-1} + I_t``.

with ``alpha = exp(-dt / tau_mem)``. ALIF adds an adaptive threshold that rises by ``beta`` after
each spike and decays back with ``rho = exp(-dt / tau_adapt)``, a memory beyond ``tau_mem``::

    a_t = rho * a_{t-1} + z_{t-1}
    A_t = theta + beta * a_t
    v_t = alpha * v_{t-1} + I_t - A_{t-1} * z_{t-1}
    z_t = H(v_t - A_t)

(ALIF with ``reset="zero"``: ``v_t = alpha * (1 - z_{t-1}) * v_{t-1} + I_t`` likewise.) The reset
carries no gradient, and the e-prop traces leave it out (exact for subtraction, where it does not
scale v; for zero an approximation, as e-prop's own traces for LIF are).

Learners use the pseudo-derivative in place of dz/dv (Bellec et al. 2020)::

    psi_t = gamma_pd / theta * max(0, 1 - |v_t - A_t| / theta)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class SpikeFunction(torch.autograd.Function):
    """z = H(x) with x = v - threshold; its backward is the pseudo-derivative, so that a learner
    that does backpropagate (bptt, reflect's one-step graph) sees the same surrogate as e-prop::

        dz/dx = gamma_pd / theta * max(0, 1 - |x| / theta)

    Without autograd (the online learners) it is a plain comparison.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, theta: float, gamma_pd: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.theta, ctx.gamma_pd = theta, gamma_pd
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        psi = (ctx.gamma_pd / ctx.theta) * torch.clamp(1.0 - torch.abs(x) / ctx.theta, min=0.0)
        return grad * psi, None, None


def spike(x: torch.Tensor, theta: float, gamma_pd: float) -> torch.Tensor:
    """H(x), with the pseudo-derivative as its gradient when autograd is recording."""
    if torch.is_grad_enabled() and x.requires_grad:
        return SpikeFunction.apply(x, theta, gamma_pd)
    return (x > 0).to(x.dtype)


RESETS = ("subtract", "zero")


class LIFParams(NamedTuple):
    alpha: float  # membrane leak per tick, exp(-1 / tau_mem)
    theta: float = 1.0  # firing threshold
    gamma_pd: float = 0.3  # height of the pseudo-derivative
    reset: str = "subtract"  # or "zero"

    @classmethod
    def from_tau(cls, tau_mem: float, theta: float = 1.0, gamma_pd: float = 0.3,
                 reset: str = "subtract") -> "LIFParams":
        return cls(math.exp(-1.0 / tau_mem), theta, gamma_pd, reset)


class LIFState(NamedTuple):
    v: torch.Tensor  # (N, H) membrane potential
    z: torch.Tensor  # (N, H) spikes of the last tick, 0. or 1.


def lif_step(current: torch.Tensor, state: LIFState, p: LIFParams) -> tuple[torch.Tensor, LIFState]:
    """One tick of LIF neurons. ``current`` is I_t, shape (N, H)."""
    if p.reset == "zero":
        v = p.alpha * state.v * (1.0 - state.z.detach()) + current  # reset: no gradient through it
    else:
        v = p.alpha * state.v + current - p.theta * state.z.detach()
    z = spike(v - p.theta, p.theta, p.gamma_pd)
    return z, LIFState(v, z)


def lif_pseudo_derivative(state: LIFState, p: LIFParams) -> torch.Tensor:
    """psi_t for the state just returned by :func:`lif_step`."""
    return (p.gamma_pd / p.theta) * torch.clamp(1.0 - torch.abs(state.v - p.theta) / p.theta, min=0.0)


class ALIFParams(NamedTuple):
    alpha: float  # membrane leak per tick
    rho: float  # threshold adaptation decay per tick, exp(-1 / tau_adapt)
    beta: float = 0.2  # threshold rise per spike
    theta: float = 1.0  # baseline threshold
    gamma_pd: float = 0.3
    reset: str = "subtract"  # or "zero"

    @classmethod
    def from_tau(cls, tau_mem: float, tau_adapt: float, beta: float = 0.2, theta: float = 1.0,
                 gamma_pd: float = 0.3, reset: str = "subtract") -> "ALIFParams":
        return cls(math.exp(-1.0 / tau_mem), math.exp(-1.0 / tau_adapt), beta, theta, gamma_pd, reset)


class ALIFState(NamedTuple):
    v: torch.Tensor  # (N, H) membrane potential
    z: torch.Tensor  # (N, H) spikes of the last tick
    a: torch.Tensor  # (N, H) threshold adaptation


def alif_threshold(state: ALIFState, p: ALIFParams) -> torch.Tensor:
    return p.theta + p.beta * state.a


def alif_step(current: torch.Tensor, state: ALIFState, p: ALIFParams) -> tuple[torch.Tensor, ALIFState]:
    """One tick of adaptive LIF neurons. ``current`` is I_t, shape (N, H)."""
    if p.reset == "zero":
        v = p.alpha * state.v * (1.0 - state.z.detach()) + current  # reset: no gradient
    else:
        v = p.alpha * state.v + current - (alif_threshold(state, p) * state.z).detach()
    a = p.rho * state.a + state.z
    z = spike(v - (p.theta + p.beta * a), p.theta, p.gamma_pd)
    return z, ALIFState(v, z, a)


def alif_pseudo_derivative(state: ALIFState, p: ALIFParams) -> torch.Tensor:
    return (p.gamma_pd / p.theta) * torch.clamp(1.0 - torch.abs(state.v - alif_threshold(state, p)) / p.theta, min=0.0)
