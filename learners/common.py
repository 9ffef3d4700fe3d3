"""Pieces every learner shares: learning signals, step-size control, reward scaling, NaN guard.

All state is a tensor with a leading batch of N lifetimes, kept in buffers so ``state_dict``
carries it into checkpoints.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from tracerl.agents.policy import per_lifetime


NUMPY_DTYPE = {torch.float32: np.float32, torch.bool: np.bool_, torch.int64: np.int64}


def as_batch(x, n: int, dtype) -> torch.Tensor:
    """A scalar or (N,) array-like (reward, terminated) as an (N,) tensor of ``dtype``.

    Converted in numpy and wrapped without a copy (torch.as_tensor with a dtype costs ~15 us).
    """
    a = np.asarray(x, dtype=NUMPY_DTYPE[dtype]).reshape(-1)
    if a.size == 1 and n > 1:
        a = np.broadcast_to(a, (n,)).copy()
    return torch.from_numpy(a)


def transition(reward, terminated, truncated, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step's (reward, terminated, done = terminated | truncated) as (N,) tensors for a learner."""
    term = np.asarray(terminated, dtype=np.bool_)
    done = term | np.asarray(truncated, dtype=np.bool_)
    return as_batch(reward, n, torch.float32), as_batch(term, n, torch.bool), as_batch(done, n, torch.bool)


def time_limit_values(agent, critic, terminated, truncated, final_obs, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cut, boot)``, each (N,): the lifetimes whose episode a time limit cut (truncated, not
    terminated, with their last observation ``final_obs`` given), and V of that last observation
    there (:func:`peek_value`; 0 elsewhere, and everywhere without a critic or a cut)."""
    cut, boot = torch.zeros(n, dtype=torch.bool), torch.zeros(n)
    if final_obs is not None:
        cut = as_batch(np.asarray(truncated, np.bool_) & ~np.asarray(terminated, np.bool_), n, torch.bool)
        if critic is not None and bool(cut.any()):
            boot = torch.where(cut, peek_value(agent, critic, agent.as_batch(final_obs)), boot)
    return cut, boot


@torch.no_grad()
def peek_value(agent, critic: "LinearCritic", obs: torch.Tensor) -> torch.Tensor:
    """The critic's V of observations ``obs`` (N, *obs_shape) one step on from the network as it
    stands, leaving the network as it was (every buffer restored, bit for bit).

    A time limit is not a failure: the TD target of an episode's last step bootstraps from V of
    that episode's last observation (Gymnasium's ``final_obs``, SB3's ``terminal_observation``),
    not from the next episode's first one. It costs one more forward, only on steps that cut an
    episode.
    """
    saved = [(t, t.detach().clone()) for _, t in agent.named_buffers()]
    agent.advance(obs)
    v = critic.value(agent.features()).detach().clone()
    for t, old in saved:
        if not torch.equal(t, old):  # only what moved: bptt's graph holds the weights, and copy_ would version them
            t.copy_(old)
    return v


class RewardBaseline(nn.Module):
    """Greedy learning signal ``A_t = r_t - b_t`` with a running mean ``b <- beta b + (1 - beta) r``.

    ``sparse=True`` (default): rewards that are exactly zero are "no event"; the baseline tracks the
    mean of the event rewards alone, and steps without an event get ``A = 0``. Subtracting a
    baseline between sparse events would push down every action taken while nothing happens.

    ``sparse=False`` with ``terminal`` and the trace's ``lam``: an episode's rewards stop when it
    terminates, so that step also gets the future it loses, ``A_T -= b lam / (1 - lam)`` (the sum
    of ``lam^j (0 - b)``, j >= 1): with it ``sum_t A_t E_t`` is unbiased for episodic REINFORCE
    whatever b.
    """

    def __init__(self, n: int, beta: float = 0.99, sparse: bool = True):
        super().__init__()
        self.beta, self.sparse = beta, sparse
        self.register_buffer("b", torch.zeros(n))

    def forward(self, reward: torch.Tensor, terminal: torch.Tensor | None = None,
                lam: torch.Tensor | None = None) -> torch.Tensor:
        advantage = reward - self.b
        if self.sparse:
            event = reward != 0
            self.b.copy_(torch.where(event, self.beta * self.b + (1 - self.beta) * reward, self.b))
            return torch.where(event, advantage, torch.zeros_like(advantage))
        if terminal is not None:
            advantage = advantage - torch.where(terminal, self.b * lam / (1 - lam), torch.zeros_like(self.b))
        self.b.mul_(self.beta).add_(reward, alpha=1 - self.beta)
        return advantage


class LinearCritic(nn.Module):
    """V(s) = w . phi(s), learned online by TD(lambda) with an accumulating trace::

        delta_t = r_t + gamma V(s_{t+1}) (1 - done_t) - V(s_t)
        e_t     = gamma lambda e_{t-1} + phi(s_t)
        w      += lr_eff delta_t e_t,   lr_eff = obgd_step(lr, ||e_t||_1)

    The ObGD-style bound (Elsayed et al. 2024, see obgd_step) shrinks the step when the trace is long.
    """

    def __init__(self, n: int, feature_dim: int, lr: float = 0.05, gamma: float = 0.99, lam: float = 0.8,
                 kappa: float = 2.0):
        super().__init__()
        self.lr, self.gamma, self.lam, self.kappa = lr, gamma, lam, kappa
        self.register_buffer("w", torch.zeros(n, feature_dim))
        self.register_buffer("e", torch.zeros(n, feature_dim))

    def value(self, phi: torch.Tensor) -> torch.Tensor:
        return (self.w * phi).sum(-1)

    def grad_phi(self, phi: torch.Tensor) -> torch.Tensor:
        """dV/dphi (N, F)."""
        return self.w

    def update(self, phi: torch.Tensor, delta: torch.Tensor) -> None:
        self.e.mul_(self.gamma * self.lam).add_(phi)
        step = obgd_step(self.lr, self.e.abs().sum(-1), self.kappa)
        self.w.add_(self.e * (step * delta)[:, None])

    def reset_traces(self, mask: torch.Tensor) -> None:
        self.e.masked_fill_(mask[:, None], 0.0)


class MLPCritic(nn.Module):
    """V(s) = u . phi + v . relu(W phi): the linear critic plus one hidden ReLU layer, learned
    online by TD(lambda) with one accumulating trace per tensor, as LinearCritic (streaming TD with
    a network, Elsayed et al. 2024)::

        h = relu(W phi);   dV/du = phi,   dV/dv = h,   dV/dW = (v * [W phi > 0]) outer phi
        e_x <- gamma lambda e_x + dV/dx   for x in (u, v, W)
        x   += obgd_step(lr, ||e_x||_1) delta_t e_x

    Each tensor is bounded by its own trace, so that u steps as LinearCritic's w would. The
    gradients are written out (no autograd: nothing but the traces is kept between steps). v starts
    at 0, so the critic starts as the linear one and adds what a linear read of the features cannot
    give. W starts random per lifetime (seeded as the agent's weights, ``seeds``). Measured against
    the linear critic: level on Flappy Bird at 1M and Breakout at 200k, slower early on Flappy Bird
    (docs/results.md); an option, not the default.
    """

    def __init__(self, n: int, feature_dim: int, lr: float = 0.05, gamma: float = 0.99, lam: float = 0.8,
                 kappa: float = 2.0, hidden: int = 64, seeds: list[int] | None = None):
        super().__init__()
        self.lr, self.gamma, self.lam, self.kappa = lr, gamma, lam, kappa
        seeds = list(range(n)) if seeds is None else seeds
        std = 1.0 / math.sqrt(feature_dim)
        self.register_buffer("u", torch.zeros(n, feature_dim))
        self.register_buffer("v", torch.zeros(n, hidden))
        self.register_buffer("W", per_lifetime(seeds, 500,
                                               lambda g: torch.randn(hidden, feature_dim, generator=g) * std))
        for k in ("u", "v", "W"):
            self.register_buffer("e_" + k, torch.zeros_like(getattr(self, k)))

    def _hidden(self, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre = torch.bmm(self.W, phi[:, :, None])[:, :, 0]
        return pre, torch.relu(pre)

    def value(self, phi: torch.Tensor) -> torch.Tensor:
        return (self.u * phi).sum(-1) + (self.v * self._hidden(phi)[1]).sum(-1)

    def grad_phi(self, phi: torch.Tensor) -> torch.Tensor:
        """dV/dphi = u + W^T (v * [W phi > 0]), (N, F)."""
        pre, _ = self._hidden(phi)
        return self.u + torch.bmm(((self.v * (pre > 0)))[:, None, :], self.W)[:, 0]

    def update(self, phi: torch.Tensor, delta: torch.Tensor) -> None:
        pre, h = self._hidden(phi)
        grads = {"u": phi, "v": h, "W": (self.v * (pre > 0))[:, :, None] * phi[:, None, :]}
        for k, g in grads.items():
            w, e = getattr(self, k), getattr(self, "e_" + k)
            e.mul_(self.gamma * self.lam).add_(g)
            step = obgd_step(self.lr, e.flatten(1).abs().sum(1), self.kappa) * delta
            w.add_(e * step.view(-1, *([1] * (e.dim() - 1))))

    def reset_traces(self, mask: torch.Tensor) -> None:
        for k in ("u", "v", "W"):
            e = getattr(self, "e_" + k)
            e.masked_fill_(mask.view(-1, *([1] * (e.dim() - 1))), 0.0)


def default_entropy(agent, entropy: float | None = None, signal: str = "td") -> float:
    """``entropy`` where given; where a preset gives none (``entropy=None``), the default entropy
    coefficient c_H: 0.01 behind a convolution and for td from features, 0.003 for greedy and for
    td from an image on the dense front end. Behind a convolution the policy turned
    near-deterministic early (Breakout: entropy 0.08 by 200k, 0.03 by 1M) and its gradients,
    (1 - pi) for the chosen action, fade with it; 0.01 keeps it learning (Breakout at 1M, median of
    10: 5.63 -> 6.44, 8 of 10 higher; docs/images.md). td from features, 0.003 -> 0.01 (20 seeds):
    Acrobot lifetimes that never reach the goal by 300k 3 -> 0 (the others end about 7 lower),
    CartPole without its preset 475 by 150k in 3 -> 8 of 10, Pong level (docs/results.md). Greedy
    keeps 0.003: CartPole 475 by 100k in 7 -> 0 of 10 with 0.01. From an image on the dense front
    end the policy stayed near uniform with 0.01 (about 1.0 nats of ln 3 at 1M on Pong from pixels);
    0.003 lets it commit: Pong from pixels at 1M, median of 5, 0.88 -> 0.91 (docs/images.md)."""
    if entropy is not None:
        return entropy
    if agent.shared_weights():
        return 0.01
    return 0.003 if signal != "td" or agent.dense_picture else 0.01


def nan_to_num(x: torch.Tensor) -> torch.Tensor:
    """``torch.nan_to_num(x)`` (NaN -> 0, +-inf -> the largest finite values), written so that it
    vectorizes: Inductor compiles ``torch.nan_to_num`` on CPU to a scalar ``isnan`` per element."""
    info = torch.finfo(x.dtype)
    return torch.where(x != x, torch.zeros_like(x), x.clamp(info.min, info.max))


def obgd_step(lr: float, trace_l1: torch.Tensor, kappa: float, signal: torch.Tensor | None = None) -> torch.Tensor:
    """Per-lifetime step size bounded as in ObGD (Elsayed et al. 2024, streaming deep RL)::

        M = lr * kappa * ||trace||_1,   lr_eff = lr / max(M, 1)

    ObGD also multiplies M by max(|signal|, 1) (given ``signal``, so does this). That makes the step for |signal| > 1 a signed
    constant, a robust (Huber-like) regression: TD errors are skewed (a rare large one when an
    episode ends, small ones otherwise), so the critic settles far from the TD fixed point (on
    CartPole under a random policy: V about 80 where the returns are about 20) and the actor's
    rare large advantages count for as little as the common small ones. Left out, the bound
    depends on the trace alone and the step is an unbiased, shrunken gradient step; the rewards'
    scale is normalised instead (RewardScaler). Greedy keeps the factor: it has no critic to bias,
    and its rare large signals (a termination's lost future) would otherwise overshoot.
    """
    if signal is not None:
        trace_l1 = trace_l1 * torch.clamp(signal.abs(), min=1.0)
    return lr / torch.clamp(lr * kappa * trace_l1, min=1.0)


def trace_size(trace: torch.Tensor, norm: str = "l1") -> torch.Tensor:
    """Per-lifetime size of a (N, ...) trace for the step bound: ``||E||_1`` ("l1", ObGD's) or
    ``||E||_2^2`` ("l2sq": to first order, how far a unit step along E moves log pi, since E is a
    sum of its gradients). They agree on a trace of 0/1 entries; "l2sq" is the smaller where most
    entries are small (a dense layer's) and the larger where they exceed 1 (a convolution's, summed
    over positions)."""
    flat = trace.flatten(1)
    return flat.abs().sum(1) if norm == "l1" else flat.pow(2).sum(1)


class RewardScaler(nn.Module):
    """Divide rewards by a running std of the discounted return ``G <- gamma G + r`` (Welford)."""

    def __init__(self, n: int, gamma: float = 0.99, eps: float = 1e-8):
        super().__init__()
        self.gamma, self.eps = gamma, eps
        self.register_buffer("ret", torch.zeros(n))
        self.register_buffer("count", torch.zeros(n))
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("m2", torch.zeros(n))

    def forward(self, reward: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        self.ret.mul_(self.gamma).add_(reward)
        self.count.add_(1.0)
        delta = self.ret - self.mean
        self.mean.add_(delta / self.count)
        self.m2.add_(delta * (self.ret - self.mean))
        self.ret.masked_fill_(done, 0.0)
        std = torch.sqrt(self.m2 / self.count.clamp(min=2.0) + self.eps)
        return torch.where(self.count > 1, reward / std.clamp(min=1e-3), reward)


class LambdaSchedule(nn.Module):
    """The trace horizon, per lifetime: lambda = 1 - 1 / horizon.

    - ``"constant"``: lambda stays at ``lam``.
    - ``"linear"``: the horizon grows geometrically from 1 / (1 - lam) to 1 / (1 - lam_end)
      over ``steps`` env steps: start greedy, widen with experience.
    - ``"plateau"``: the horizon grows by ``factor`` (up to lam_end's) whenever the reward rate (an
      EMA over about ``patience`` steps) has not beaten its best by ``tol`` for ``patience`` steps.
    """

    MODES = ("constant", "linear", "plateau")

    def __init__(self, n: int, lam: float, mode: str = "constant", lam_end: float | None = None,
                 steps: int = 200_000, patience: int = 20_000, factor: float = 1.5, tol: float = 0.01):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"unknown lambda schedule {mode!r}; allowed: {', '.join(map(repr, self.MODES))}")
        self.mode, self.steps, self.patience, self.factor, self.tol = mode, steps, patience, factor, tol
        self.h0 = 1.0 / (1.0 - lam)
        self.h1 = 1.0 / (1.0 - (lam if lam_end is None else lam_end))
        self.register_buffer("horizon", torch.full((n,), self.h0))
        self.register_buffer("t", torch.zeros(n))
        self.register_buffer("rate", torch.zeros(n))
        self.register_buffer("best", torch.full((n,), -math.inf))
        self.register_buffer("since", torch.zeros(n))

    @property
    def lam(self) -> torch.Tensor:
        return 1.0 - 1.0 / self.horizon

    def update(self, reward: torch.Tensor) -> None:
        if self.mode == "constant":
            return
        self.t.add_(1.0)
        if self.mode == "linear":
            frac = torch.clamp(self.t / self.steps, max=1.0)
            self.horizon.copy_(self.h0 * (self.h1 / self.h0) ** frac)
            return
        self.rate.mul_(1 - 1 / self.patience).add_(reward, alpha=1 / self.patience)
        better = self.rate > self.best + self.tol
        self.best.copy_(torch.where(better, self.rate, self.best))
        self.since.copy_(torch.where(better, torch.zeros_like(self.since), self.since + 1))
        grow = (self.since >= self.patience) & (self.t >= self.patience)
        self.horizon.copy_(torch.where(grow, torch.clamp(self.horizon * self.factor, max=self.h1), self.horizon))
        self.since.masked_fill_(grow, 0.0)
        self.best.copy_(torch.where(grow, self.rate, self.best))


class ProgressSchedule(nn.Module):
    """A per-lifetime quantity lowered by the lifetime's own progress::

        rate  <- rate + a (r - rate),   a = max(1 / t, 1 / patience)      (mean, then EMA of the reward)
        se     = sqrt(a / 2 * var(r))                                     (the EMA's noise)
        when rate > best + tol * se:   best <- rate,   x <- max(factor * x, end)

    It lowers the softmax's T (``temperature_of``: from the agent's ``temperature_start``, exploring,
    to ``temperature``, near-deterministic) and eprop's step (``lr_end``: from 1 to lr_end / lr, so
    the updates that found a good policy do not shake it apart). A lifetime that does not improve
    keeps its x: it does not freeze on one action before it has learned anything, as a low T from
    the start can (Flappy Bird at T = 0.05, docs/robustness.md). The first ``patience`` steps only
    measure. A game paying the same reward for every step alive (CartPole's +1) has the same rate
    whatever the policy: there x never moves.
    """

    def __init__(self, n: int, end: float, patience: int = 10_000, factor: float = 0.9, tol: float = 2.0):
        super().__init__()
        self.end, self.patience, self.factor, self.tol = end, patience, factor, tol
        self.register_buffer("t", torch.zeros(n))
        self.register_buffer("rate", torch.zeros(n))
        self.register_buffer("sq", torch.zeros(n))
        self.register_buffer("best", torch.full((n,), -math.inf))

    def forward(self, reward: torch.Tensor, x: torch.Tensor) -> None:
        """Update from this step's (N,) raw ``reward``; lowers ``x`` (N, ...) in place."""
        self.t.add_(1.0)
        a = torch.clamp(1.0 / self.t, min=1.0 / self.patience)
        self.rate.add_(a * (reward - self.rate))
        self.sq.add_(a * (reward * reward - self.sq))
        se = torch.sqrt(a / 2 * torch.clamp(self.sq - self.rate * self.rate, min=0.0))
        ready = self.t >= self.patience
        better = ready & torch.isfinite(self.best) & (self.rate > self.best + self.tol * se)
        self.best.copy_(torch.where(ready & (better | torch.isinf(self.best)), self.rate, self.best))
        better = better.view(-1, *([1] * (x.dim() - 1)))
        x.copy_(torch.where(better, torch.clamp(x * self.factor, min=self.end), x))

    @classmethod
    def temperature_of(cls, agent) -> "ProgressSchedule | None":
        """The T schedule of an agent built with ``temperature_start`` (None for a fixed T): every
        learner builds it so, and calls it after its update with the step's raw reward and ``agent.temp``."""
        return cls(agent.n, agent.temperature) if agent.temp is not None else None


def check_finite(step: int, **tensors: torch.Tensor) -> None:
    """Raise FloatingPointError naming the quantity and lifetimes that went NaN or inf."""
    for name, t in tensors.items():
        bad = ~torch.isfinite(t)
        if bad.any():
            lifetimes = torch.nonzero(bad.reshape(bad.shape[0], -1).any(1)).flatten().tolist()
            raise FloatingPointError(
                f"non-finite {name} at step {step} in lifetime(s) {lifetimes}; learning stopped and those "
                f"lifetimes' weights were not updated (lower the learning rate or enable the bound)")
