"""reflect: trace-average REINFORCE through a one-step stand-in of the network.

The original idea of this project. Instead of an eligibility trace per synapse, keep two small
decaying traces per lifetime::

    ubar_t = lambda ubar_{t-1} + (1 - lambda) x_t        average input of the first layer
    cbar_t = lambda cbar_{t-1} + onehot(a_t)              recent actions, counted with decay

When a reward event arrives, the agent builds a one-step, rate-based stand-in of itself from the
weights and ubar (``agent.standin_logits``: steady-state firing rate as a smooth function of
current, threshold and leak), and the learner takes, with autograd, the gradient of::

    J = A_t * sum_a cbar_t[a] * log pi_standin(a | ubar_t)

(A_t the greedy advantage: reward minus a running baseline of event rewards), then drops the
graph at once. The recent history is compressed into one small backward pass instead of being
unrolled. An entropy term acts every step through the agent's local gradients, as in eprop.
"""

from __future__ import annotations

import torch
from torch import nn

from tracerl.agents.policy import Policy
from tracerl.learners.common import (RewardBaseline, ProgressSchedule, as_batch, check_finite, default_entropy,
                                     obgd_step, transition)
from tracerl.agents.ranges import check_ranges


class Reflect(nn.Module):
    """Trace-average REINFORCE for a policy with ``standin_logits`` (spiking or MLP).

    Args:
        agent: the policy. signal: "greedy" (the only one; the signal is the greedy advantage).
        lr: step size, bounded as in ObGD with ``bound_kappa`` (0: plain SGD).
        trace_lambda: decay of the input and action traces.
        entropy, baseline_beta, sparse_baseline: as in :class:`tracerl.learners.eprop.EProp` (entropy None:
            ``default_entropy(agent, None, "greedy")``, as the default preset gives it).
    """

    def __init__(self, agent: Policy, signal: str = "greedy", lr: float = 0.01, trace_lambda: float = 0.9,
                 entropy: float | None = 0.01, baseline_beta: float = 0.99, sparse_baseline: bool = True,
                 bound_kappa: float = 0.5):
        super().__init__()
        if signal != "greedy":
            raise ValueError(f"unknown signal {signal!r} for reflect; allowed: 'greedy'")
        object.__setattr__(self, "agent", agent)
        n = agent.n
        entropy = default_entropy(agent, entropy, "greedy")
        self.n, self.lr, self.lam, self.entropy, self.bound_kappa = n, lr, trace_lambda, entropy, bound_kappa
        self.config = dict(signal=signal, lr=lr, trace_lambda=trace_lambda, entropy=entropy,
                           baseline_beta=baseline_beta, sparse_baseline=sparse_baseline, bound_kappa=bound_kappa)
        check_ranges(self.config)
        self.baseline = RewardBaseline(n, baseline_beta, sparse_baseline)
        self.temperature = ProgressSchedule.temperature_of(agent)  # lowers an agent's temperature_start, as in eprop
        self.register_buffer("ubar", torch.zeros_like(agent.x))
        self.register_buffer("cbar", torch.zeros(n, agent.n_actions))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

    def compile(self, options: dict | None = None) -> "Reflect":
        """reflect runs eager (its graph is built only at reward events); the agent's forward is compiled."""
        self.agent.compile(options)
        return self

    @torch.no_grad()
    def step(self, reward, terminated=False, next_obs=None, truncated=False, final_obs=None) -> dict[str, torch.Tensor]:
        agent, n = self.agent, self.n
        r, _, done = transition(reward, terminated, truncated, n)
        self.ubar.mul_(self.lam).add_(agent.x, alpha=1 - self.lam)
        self.cbar.mul_(self.lam).add_(torch.nn.functional.one_hot(agent.action, agent.n_actions).to(self.cbar.dtype))
        advantage = self.baseline(r)
        entropy = agent.entropy()
        weights = agent.weights()
        g_h = agent.local_grads(agent.entropy_cotangent()) if self.entropy else {}
        update_sq = torch.zeros(n)
        step = torch.zeros(n)
        if bool((advantage != 0).any()):
            leaves = {k: w.detach().clone().requires_grad_(True) for k, w in weights.items()}
            with torch.enable_grad():
                logp = torch.log_softmax(agent.standin_logits(self.ubar, leaves) / agent.softmax_t, dim=-1)
                objective = (self.cbar * logp).sum(-1)  # per lifetime; weights are per lifetime too
                grads = torch.autograd.grad(objective.sum(), list(leaves.values()))
            grads = dict(zip(leaves, grads))  # graph dropped here
            l1 = sum(g.abs().flatten(1).sum(1) for g in grads.values())
            check_finite(int(self.steps), advantage=advantage, gradient=l1)
            step = obgd_step(self.lr, l1, self.bound_kappa) if self.bound_kappa else torch.full((n,), self.lr)
            for k, w in weights.items():
                shape = (-1,) + (1,) * (w.dim() - 1)
                u = grads[k] * (step * advantage).view(shape)
                w.add_(u)
                update_sq += u.flatten(1).pow(2).sum(1)
        for k, g in g_h.items():
            u = self.entropy * self.lr * g
            weights[k].add_(u)
        agent.reset_state(done)
        self.cbar.masked_fill_(done[:, None], 0.0)
        self.steps += 1
        out = {"advantage": advantage, "update_norm": update_sq.sqrt(), "entropy": entropy,
               "baseline": self.baseline.b.clone(), "step_size": step}
        if self.temperature is not None:
            self.temperature(r, agent.temp)
            out["temperature"] = agent.temp[:, 0].clone()
        return out

    def reset_traces(self, mask=None) -> None:
        mask = torch.ones(self.n, dtype=torch.bool) if mask is None else as_batch(mask, self.n, torch.bool)
        self.ubar.masked_fill_(mask[:, None], 0.0)
        self.cbar.masked_fill_(mask[:, None], 0.0)
