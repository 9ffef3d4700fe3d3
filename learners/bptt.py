"""bptt: REINFORCE / actor-critic with surrogate-gradient backprop through time, the baseline.

The network runs with autograd recording over T env steps (``truncation``; spikes pass gradients
through the pseudo-derivative of :func:`tracerl.agents.neurons.spike`; the reset is detached, as for
e-prop). At the end of each stretch of T steps::

    G_t   = r_t + gamma G_{t+1} (1 - done_t)                returns inside the T steps
    A_t   = G_t - b                       ("greedy": b a running mean of G)
          = G_t + gamma^(T-t) V(s_T) - V(s_t)   ("td": a linear critic, TD(lambda) online)
    loss  = -sum_t A_t log pi(a_t | s_t) - c_H sum_t H(pi_t)
    W    <- Adam(W, grad(loss)), the gradient's norm clipped per lifetime to ``clip`` first

and the graph is dropped. Memory and the time of each backward pass grow with T: that is what this
learner is here to show beside the online ones. A checkpoint taken within T steps keeps the
weights, the baseline and the critic, not the partial stretch.
"""

from __future__ import annotations

import torch
from torch import nn

from tracerl.agents.policy import Policy
from tracerl.learners.common import (LinearCritic, as_batch, check_finite, default_entropy, time_limit_values,
                                     transition)
from tracerl.agents.ranges import check_ranges


class BPTT(nn.Module):
    """Truncated-BPTT policy gradient, the graph held and differentiated every ``truncation`` env steps."""

    def __init__(self, agent: Policy, signal: str = "greedy", lr: float = 0.001, truncation: int = 100,
                 gamma: float = 0.99, entropy: float | None = 0.01, baseline_beta: float = 0.99, clip: float = 1.0,
                 critic_lr: float = 0.05, critic_lambda: float = 0.8):
        super().__init__()
        if signal not in ("greedy", "td"):
            raise ValueError(f"unknown signal {signal!r}; allowed: 'greedy', 'td'")
        if agent.temp is not None:  # its graph holds T over the window: lowering it in place would break backward
            raise ValueError(f"bptt keeps the softmax's temperature fixed; temperature_start={float(agent.temp[0])!r} "
                             f"is lowered by eprop and reflect only; allowed: no temperature_start with bptt")
        object.__setattr__(self, "agent", agent)
        n = agent.n
        entropy = default_entropy(agent, entropy, signal)  # None: as the default preset gives it
        self.n, self.signal, self.lr, self.truncation, self.gamma = n, signal, lr, truncation, gamma
        self.entropy, self.baseline_beta, self.clip = entropy, baseline_beta, clip
        self.config = dict(signal=signal, lr=lr, truncation=truncation, gamma=gamma, entropy=entropy,
                           baseline_beta=baseline_beta, clip=clip, critic_lr=critic_lr, critic_lambda=critic_lambda)
        check_ranges(self.config)
        self.critic = LinearCritic(n, agent.features().shape[1], critic_lr, gamma, critic_lambda) if signal == "td" else None
        self.register_buffer("baseline", torch.zeros(n))
        self.register_buffer("adam_t", torch.zeros(()))
        for k, w in agent.weights().items():  # Adam moments, per weight and lifetime
            self.register_buffer(f"m__{k.replace('.', '_')}", torch.zeros_like(w))
            self.register_buffer(f"v__{k.replace('.', '_')}", torch.zeros_like(w))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        self._logp: list[torch.Tensor] = []
        self._ent: list[torch.Tensor] = []
        self._r: list[torch.Tensor] = []
        self._done: list[torch.Tensor] = []
        self._boot: list[torch.Tensor] = []
        self._v: list[torch.Tensor] = []
        for w in agent.weights().values():
            w.requires_grad_(True)

    def compile(self, options: dict | None = None) -> "BPTT":
        """bptt runs eager: its graph spans T steps (it runs the agent's forward itself)."""
        return self

    def step(self, reward, terminated=False, next_obs=None, truncated=False, final_obs=None) -> dict[str, torch.Tensor]:
        """As EProp.step: ``final_obs``, the last observation of episodes a time limit cut, gives the
        value their return bootstraps from (td; greedy cuts the return there)."""
        agent, n = self.agent, self.n
        if next_obs is None:
            raise ValueError("bptt needs next_obs: learner.step(reward, terminated, next_obs)")
        r, terminal, done = transition(reward, terminated, truncated, n)
        cut, boot = time_limit_values(agent, self.critic, terminated, truncated, final_obs, n)
        pi = agent.pi.clone()  # the buffer is overwritten next step; autograd keeps this copy
        self._logp.append(torch.log(pi.gather(1, agent.action.clone()[:, None])[:, 0].clamp(min=1e-12)))
        self._ent.append(-(pi * torch.log(pi.clamp(min=1e-12))).sum(-1))
        self._r.append(r)
        self._done.append(done)  # the return stops at every episode's end; a cut one gets boot there
        self._boot.append(boot)  # 0 where no time limit cut the episode
        out = {"entropy": self._ent[-1].detach()}
        if self.critic is not None:
            with torch.no_grad():
                phi = agent.features().detach()
                v = self.critic.value(phi)
            self._v.append(v)
        obs = agent.as_batch(next_obs)
        with torch.enable_grad():  # the forward on s_{t+1} records the graph for the T steps
            agent.reset_state(done)
            agent.advance(obs)  # the next act(next_obs) takes the action sampled here
        if self.critic is not None:
            with torch.no_grad():
                v_next = torch.where(terminal, torch.zeros_like(v),
                                     torch.where(cut, boot, self.critic.value(agent.features().detach())))
                delta = r + self.gamma * v_next - v
                self.critic.update(phi, delta)
                self.critic.reset_traces(done)
            out["value"] = v
        self.steps += 1
        if len(self._r) >= self.truncation:
            out.update(self._learn())
        return out

    def _learn(self) -> dict[str, torch.Tensor]:
        agent, n = self.agent, self.n
        r, done, boot = torch.stack(self._r), torch.stack(self._done), torch.stack(self._boot)
        g = torch.zeros(n)
        if self.critic is not None:
            with torch.no_grad():
                g = self.critic.value(agent.features().detach())  # bootstrap from s_T
        returns = []
        for t in range(len(self._r) - 1, -1, -1):
            g = r[t] + self.gamma * torch.where(done[t], boot[t], g)
            returns.append(g)
        returns = torch.stack(returns[::-1])
        if self.critic is not None:
            advantage = returns - torch.stack(self._v)
        else:
            advantage = returns - self.baseline
            self.baseline.mul_(self.baseline_beta).add_(returns.mean(0), alpha=1 - self.baseline_beta)
        loss = -(advantage.detach() * torch.stack(self._logp)).sum() - self.entropy * torch.stack(self._ent).sum()
        weights = agent.weights()
        grads = torch.autograd.grad(loss, list(weights.values()), allow_unused=True)
        with torch.no_grad():
            norm = torch.sqrt(sum(gr.flatten(1).pow(2).sum(1) for gr in grads if gr is not None))
            check_finite(int(self.steps), gradient=norm)
            scale = torch.clamp(self.clip / (norm + 1e-12), max=1.0)
            self.adam_t += 1
            b1, b2 = 0.9, 0.999
            update_sq = torch.zeros(n)
            for (k, w), gr in zip(weights.items(), grads):
                if gr is None:
                    continue
                gr = gr * scale.view(-1, *([1] * (w.dim() - 1)))
                m, v = getattr(self, f"m__{k.replace('.', '_')}"), getattr(self, f"v__{k.replace('.', '_')}")
                m.mul_(b1).add_(gr, alpha=1 - b1)
                v.mul_(b2).addcmul_(gr, gr, value=1 - b2)
                u = self.lr * (m / (1 - b1 ** self.adam_t)) / (torch.sqrt(v / (1 - b2 ** self.adam_t)) + 1e-8)
                w.sub_(u)
                update_sq += u.flatten(1).pow(2).sum(1)
            ids = {id(w) for w in weights.values()}
            for buf in agent.buffers():  # cut the graph: the next T steps start from detached state
                if id(buf) not in ids:
                    buf.detach_()
        self._logp, self._ent, self._r, self._done, self._boot, self._v = [], [], [], [], [], []
        return {"advantage": advantage.detach().mean(0), "update_norm": update_sq.sqrt()}

    def reset_traces(self, mask=None) -> None:
        if self.critic is not None:
            mask = torch.ones(self.n, dtype=torch.bool) if mask is None else as_batch(mask, self.n, torch.bool)
            self.critic.reset_traces(mask)
