"""eprop: trace-based REINFORCE / actor-critic on e-prop eligibility, one update per env step.

Every step, for every learnable weight W of the agent (Bellec et al. 2020, DESIGN.md)::

    g_t = d log pi(a_t | s_t) / dW            from the agent's local eligibility traces
    E_t = lambda E_{t-1} + g_t                the policy-gradient trace (horizon 1 / (1 - lambda))
    W  += lr_eff (A_t E_t + c_H dH(pi_t)/dW)   the update, every step; the entropy term acts now,
                                              outside the trace, so a saturating softmax is pulled back

with the learning signal A_t:

- ``signal="greedy"``: ``A_t = r_t - b_t`` with a running mean reward ``b`` (the average-reward
  form of REINFORCE whose discount is lambda). When an episode terminates its rewards stop, so
  the step also gets the future it loses, ``A_T -= b lambda / (1 - lambda)``: with it
  ``sum_t A_t E_t`` is unbiased for episodic REINFORCE whatever b, and a game that pays +1 per
  step alive (CartPole) has its failure seen. Small lambda: "which recent actions paid off right
  now". (``sparse_baseline``: b tracks the non-zero rewards alone and only they carry a signal.)
- ``signal="td"``: ``A_t = delta_t = r_t + gamma V(s_{t+1}) (1 - done) - V(s_t)`` from a linear
  critic on the agent's spike features (or, ``critic="mlp"``, one with a hidden ReLU layer besides),
  learned online by TD(lambda); with ``critic_torso`` its TD error also trains the hidden layer it
  reads, through that layer's own eligibility (``agent.feature_grads``).

``lr_eff`` is ``lr`` bounded as in ObGD (the step shrinks when lr * ||E||_1, or ||E||_2^2, is large; the
signal's size is left out, see ``obgd_step``; behind a learning convolution every weight tensor is
bounded by its own trace, elsewhere all weights together), or with ``optimizer="rms"`` a per-weight RMSprop
scaling; with ``lr_end``, times a per-lifetime scale that falls from 1 to lr_end / lr as the lifetime's
reward rate rises. An agent built with ``temperature_start`` has its softmax's T lowered here, after
each step's update, by the same test (``ProgressSchedule``).
Nothing but fixed-size traces is kept between steps, and no autograd graph is built.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tracerl.agents.compiled import CompiledStep
from tracerl.agents.policy import Policy
from tracerl.learners.common import (LambdaSchedule, LinearCritic, MLPCritic, RewardBaseline, RewardScaler,
                                     ProgressSchedule, as_batch, check_finite, default_entropy, nan_to_num,
                                     obgd_step, time_limit_values, trace_size, transition)
from tracerl.agents.ranges import check_ranges

SIGNALS = ("greedy", "td")
OPTIMIZERS = ("sgd", "rms")
BOUND_GROUPS = ("auto", "shared", "weight")
BOUND_NORMS = ("auto", "l1", "l2sq")
CRITICS = ("linear", "mlp")


class EProp(nn.Module):
    """Per-step e-prop learner for a :class:`agents.policy.Policy` (spiking or MLP).

    Args:
        agent: the policy; its weights are updated in place.
        signal: "greedy" or "td".
        lr: actor step size; hidden_lr: multiplier for weights below the readout.
        trace_lambda: lambda of the policy-gradient trace; lambda_schedule / lambda_end /
            lambda_steps: how it widens over the lifetime (see LambdaSchedule).
        gamma: discount of the critic (td).
        critic_lr, critic_lambda: TD(lambda) critic; critic: "linear" (LinearCritic) or "mlp" (MLPCritic,
            a hidden ReLU layer of critic_hidden units besides the linear read).
        entropy: coefficient c_H of the entropy term; None: ``default_entropy(agent, None, signal)``,
            0.003 for greedy from features, 0.01 elsewhere.
        entropy_target: keep the policy's entropy from falling below this fraction of its largest,
            H* = target log |A| (SAC's automatic coefficient, on a log scale, as a floor): c_H becomes
            per lifetime, starts at ``entropy`` and moves every step by ``log c_H += entropy_rate (H* -
            H(pi_t))`` within [``entropy``, 1]: it rises only while the policy is surer than H*. None: fixed.
        baseline_beta, sparse_baseline: greedy baseline.
        bound_kappa: ObGD bound of the actor step (0 turns it off); optimizer: "sgd" or "rms".
        signal_bound: the bound also sees the signal, ``lr_eff = lr / max(lr kappa max(|A|, 1) ||E||_1, 1)``
            as in ObGD itself (default: on for greedy, whose rare large signals, such as a
            termination's lost future, would otherwise overshoot; off for td, whose critic it biases).
        bound_groups: which weights share one step bound: "shared" (a convolution's kernels each on their
            own trace, every other weight together), "weight" (every weight tensor on its own), or
            "auto": "weight" where a convolution learns, "shared" otherwise.
        bound_norm: the size of the trace the bound reads, "l1" (ObGD's), "l2sq" (see ``trace_size``),
            or "auto": "l2sq" where a convolution learns, "l1" otherwise.
        critic_torso: step size with which the critic's TD error also trains the hidden layers it reads
            (td; 0: the critic reads them as given). Their weights W get ``W += lr_eff delta_t e^V_t``
            with ``e^V_t = gamma lambda_c e^V_{t-1} + dV(s_t)/dW`` (``agent.feature_grads``): TD(lambda) on
            a torso that actor and critic share, as AC(lambda) has it; ``lr_eff`` is bounded per weight
            tensor by its own trace as the actor's (``bound_norm``, ``bound_kappa``).
        lr_end: the actor's step falls from lr toward lr_end as the lifetime improves: times
            ``lr_factor`` at each new best reward rate (``ProgressSchedule``; with the bound, after it:
            ``lr_eff * lr_scale``). None: the step stays lr.
        reward_scale: divide rewards by a running std of the discounted return, so that the
            advantage is of order 1 whatever the game's reward scale (streaming RL's normalisation).
    """

    def __init__(self, agent: Policy, signal: str = "td", lr: float = 0.01, hidden_lr: float = 1.0,
                 trace_lambda: float = 0.9, lambda_schedule: str = "constant", lambda_end: float | None = None,
                 lambda_steps: int = 200_000, gamma: float = 0.99, critic_lr: float = 0.05,
                 critic_lambda: float = 0.8, entropy: float | None = None, baseline_beta: float = 0.99,
                 sparse_baseline: bool = False, bound_kappa: float = 2.0, optimizer: str = "sgd",
                 rms_beta: float = 0.999, reward_scale: bool = True, signal_bound: bool | None = None,
                 bound_groups: str = "auto", bound_norm: str = "auto", critic: str = "linear",
                 critic_hidden: int = 64, entropy_target: float | None = None, entropy_rate: float = 1e-3,
                 critic_torso: float = 0.0, lr_end: float | None = None, lr_factor: float = 0.9):
        super().__init__()
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; allowed: {', '.join(map(repr, SIGNALS))}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(map(repr, OPTIMIZERS))}")
        object.__setattr__(self, "agent", agent)  # not a submodule: the agent has its own state_dict
        n = agent.n
        self.n, self.signal, self.lr, self.hidden_lr, self.entropy = n, signal, lr, hidden_lr, entropy
        self.bound_kappa, self.optimizer, self.rms_beta, self.gamma = bound_kappa, optimizer, rms_beta, gamma
        self.config = dict(signal=signal, lr=lr, hidden_lr=hidden_lr, trace_lambda=trace_lambda,
                           lambda_schedule=lambda_schedule, lambda_end=lambda_end, lambda_steps=lambda_steps,
                           gamma=gamma, critic_lr=critic_lr, critic_lambda=critic_lambda, entropy=entropy,
                           baseline_beta=baseline_beta, sparse_baseline=sparse_baseline,
                           bound_kappa=bound_kappa, optimizer=optimizer, rms_beta=rms_beta,
                           reward_scale=reward_scale, signal_bound=signal_bound, bound_groups=bound_groups,
                           bound_norm=bound_norm, critic=critic, critic_hidden=critic_hidden,
                           entropy_target=entropy_target, entropy_rate=entropy_rate, critic_torso=critic_torso,
                           lr_end=lr_end, lr_factor=lr_factor)
        if bound_groups not in BOUND_GROUPS:
            raise ValueError(f"unknown bound_groups {bound_groups!r}; allowed: {', '.join(map(repr, BOUND_GROUPS))}")
        if bound_norm not in BOUND_NORMS:
            raise ValueError(f"unknown bound_norm {bound_norm!r}; allowed: {', '.join(map(repr, BOUND_NORMS))}")
        if critic not in CRITICS:
            raise ValueError(f"unknown critic {critic!r}; allowed: {', '.join(map(repr, CRITICS))}")
        conv_learns = bool(agent.shared_weights())
        if bound_groups == "auto":
            # Behind a learning convolution the dense layer's trace (its input is 256+ spike rates) sets
            # the common bound and throttles the readout too (MinAtar 200k, docs/images.md).
            bound_groups = "weight" if conv_learns else "shared"
            self.config["bound_groups"] = bound_groups
        self.entropy = self.config["entropy"] = default_entropy(agent, entropy, signal)
        if bound_norm == "auto":
            # The kernels' traces, summed over positions, have entries above 1 and the dense layer's are
            # small: L2^2 slows the first and frees the second (MinAtar 200k and 1M, docs/images.md).
            bound_norm = "l2sq" if conv_learns else "l1"
            self.config["bound_norm"] = bound_norm
        self.bound_norm = bound_norm
        self.signal_bound = signal == "greedy" if signal_bound is None else signal_bound
        check_ranges(self.config)
        self.names = list(agent.weights())
        self._scale = {k: (1.0 if k in agent.READOUT else hidden_lr) for k in self.names}
        # Shared weights (a convolution's kernels) sum the eligibility of every position that uses them,
        # so their trace is about positions times a dense weight's: in the common bound they would
        # throttle every other weight's step (Breakout: 1,684 of a trace L1 of 1,783). Each gets its own.
        self.own_bound = set(agent.shared_weights()) if bound_groups == "shared" else set(self.names)
        for k, w in agent.weights().items():
            self.register_buffer(self._buf("trace", k), torch.zeros_like(w))
            if optimizer == "rms":
                self.register_buffer(self._buf("sq", k), torch.zeros_like(w))
        self.schedule = LambdaSchedule(n, trace_lambda, lambda_schedule, lambda_end, lambda_steps)
        self.baseline = RewardBaseline(n, baseline_beta, sparse_baseline)
        self.critic = None
        if signal == "td":
            dim = agent.features().shape[1]
            self.critic = (LinearCritic(n, dim, critic_lr, gamma, critic_lambda) if critic == "linear" else
                           MLPCritic(n, dim, critic_lr, gamma, critic_lambda, hidden=critic_hidden, seeds=agent.seeds))
        self.torso_lr, self.critic_lambda = (critic_torso if signal == "td" else 0.0), critic_lambda
        self.torso = list(agent.feature_grads(agent.features()).keys()) if self.torso_lr else []
        for k in self.torso:
            self.register_buffer(self._buf("vtrace", k), torch.zeros_like(agent.weights()[k]))
        self.scaler = RewardScaler(n, gamma) if reward_scale else None
        self.temperature = ProgressSchedule.temperature_of(agent)
        # The bounded step has one size however well a lifetime does (greedy on Flappy Bird lost by 1M
        # what it had by 300k): lr_scale falls toward lr_end / lr (not above 1) at each new best reward rate.
        self.lr_schedule = None
        if lr_end is None:
            self.lr_scale = 1.0
        else:
            self.lr_schedule = ProgressSchedule(n, min(lr_end / lr, 1.0) if lr else 1.0, factor=lr_factor)
            self.register_buffer("lr_scale", torch.ones(n))
        self.entropy_target = None if entropy_target is None else entropy_target * math.log(agent.n_actions)
        self.entropy_rate = entropy_rate
        if self.entropy_target is not None:
            self._coef_floor = max(float(self.entropy), 1e-4)
            self.register_buffer("entropy_coef", torch.full((n,), self._coef_floor))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

    @staticmethod
    def _buf(kind: str, name: str) -> str:
        return f"{kind}__{name.replace('.', '_')}"

    @torch.no_grad()
    def step(self, reward, terminated=False, next_obs=None, truncated=False, final_obs=None) -> dict[str, torch.Tensor]:
        """Learn from the step just taken (the agent's last ``act``). Returns (N,) figures for logging.

        ``next_obs`` (the observation after the step) is needed by ``signal="td"``; the agent then
        runs its forward pass on it now, and its next ``act(next_obs)`` only samples. At an episode
        boundary (terminated or truncated; with Gymnasium's same-step autoreset ``next_obs`` is then
        the new episode's first observation) the agent's activity and the traces are reset; the
        value of the next state counts as 0 only when ``terminated``. Where a time limit cut the
        episode (truncated), td bootstraps from V of its last observation, ``final_obs`` (N,
        *obs_shape; the rows of the other lifetimes are ignored), as the loop passes it from
        Gymnasium's ``info["final_obs"]`` (:func:`~tracerl.learners.common.peek_value`).

        Raises FloatingPointError when the learning signal or a trace of a lifetime is NaN or
        infinite; that lifetime's weights are not updated in that step.
        """
        n = self.n
        r, terminal, done = transition(reward, terminated, truncated, n)
        if self.signal == "td":
            if next_obs is None:
                raise ValueError("signal='td' needs next_obs: learner.step(reward, terminated, next_obs)")
            obs = self.agent.as_batch(next_obs)
        else:
            obs = torch.zeros(())
        cut, boot = time_limit_values(self.agent, self.critic, terminated, truncated, final_obs, n)
        out = self._step_fn(r, terminal, done, obs, cut, boot)
        if not bool(out.pop("finite")):
            check_finite(int(self.steps) - 1, advantage=out["advantage"], trace=out["trace_size"])
        return out

    @property
    def _step_fn(self):
        return self.__dict__.get("_compiled_step") or self._step

    def compile(self, options: dict | None = None) -> "EProp":
        """Compile the whole per-step update; the agent's forward is compiled once: inside this step
        for td (it runs ``agent.advance``), else the agent's own (``agent.compile``). See Policy.compile."""
        self.__dict__["_compiled_step"] = CompiledStep(self._step, options)
        if self.signal != "td":
            self.agent.compile(options)
        return self

    def _step(self, r: torch.Tensor, terminal: torch.Tensor, done: torch.Tensor, obs: torch.Tensor,
              cut: torch.Tensor, boot: torch.Tensor) -> dict:
        """Tensor-only body of ``step``: no Python branch on data, so it compiles to one graph.
        ``cut``: episodes a time limit ended, whose V(s_{t+1}) is ``boot`` (V of their last observation)."""
        agent, n = self.agent, self.n
        raw = r
        if self.scaler is not None:
            r = self.scaler(r, done)
        lam = self.schedule.lam
        g_pi = agent.local_grads(agent.logp_cotangent())
        adaptive = self.entropy_target is not None
        g_h = agent.local_grads(agent.entropy_cotangent()) if self.entropy or adaptive else None
        entropy = agent.entropy()

        if self.signal == "td":
            phi = agent.features()
            v = self.critic.value(phi)
            g_v = agent.feature_grads(self.critic.grad_phi(phi)) if self.torso else {}
            agent.reset_state(done)
            agent.advance(obs)  # forward on s_{t+1}: features for V(s_{t+1}), and a_{t+1} sampled
            v_next = torch.where(terminal, torch.zeros_like(v), torch.where(cut, boot, self.critic.value(agent.features())))
            advantage = r + self.gamma * v_next - v
        else:
            advantage = self.baseline(r, terminal, lam)
            agent.reset_state(done)

        traces = {k: getattr(self, self._buf("trace", k)) for k in self.names}
        l1 = torch.zeros(n)
        own_l1 = {}
        for k, e in traces.items():
            e.mul_(lam.view(-1, *([1] * (e.dim() - 1)))).add_(g_pi[k])
            ek = self._scale[k] * trace_size(e, self.bound_norm)  # the bound sees each weight's own step
            if k in self.own_bound:
                own_l1[k] = ek
            else:
                l1 = l1 + ek
        total_size = l1 + sum(own_l1.values()) if own_l1 else l1
        finite = torch.isfinite(advantage) & torch.isfinite(total_size)

        if self.optimizer == "sgd":
            signal = advantage if self.signal_bound else None

            def bounded(trace_l1):
                step = obgd_step(self.lr, trace_l1, self.bound_kappa, signal) if self.bound_kappa else torch.full((n,), self.lr)
                return torch.where(finite, step * self.lr_scale, torch.zeros_like(step))  # scaled after the bound

            step = bounded(l1)
            own_step = {k: bounded(v) for k, v in own_l1.items()}
        update_sq = torch.zeros(n)
        safe_adv = torch.where(finite, advantage, torch.zeros_like(advantage))
        weights = agent.weights()
        for k, w in weights.items():
            shape = (-1,) + (1,) * (w.dim() - 1)
            u = traces[k] * safe_adv.view(shape)
            if g_h is not None:
                u = u + (self.entropy_coef.view(shape) if adaptive else self.entropy) * g_h[k]
            if self.optimizer == "rms":
                sq = getattr(self, self._buf("sq", k))
                sq.mul_(self.rms_beta).addcmul_(u, u, value=1 - self.rms_beta)
                u = u / (torch.sqrt(sq) + 1e-8) * (self.lr * self.lr_scale * finite.to(u.dtype)).view(shape)
            else:
                u = nan_to_num(u) * own_step.get(k, step).view(shape)
            u = u * self._scale[k]
            w.add_(u)
            update_sq = update_sq + u.flatten(1).pow(2).sum(1)

        if self.critic is not None:
            for k in self.torso:  # the critic's TD(lambda) step on the layers it reads, before it moves itself
                e = getattr(self, self._buf("vtrace", k))
                shape = (-1,) + (1,) * (e.dim() - 1)
                e.mul_(self.gamma * self.critic_lambda).add_(g_v[k])
                size = trace_size(e, self.bound_norm)
                lr = obgd_step(self.torso_lr, size, self.bound_kappa) if self.bound_kappa else torch.full((n,), self.torso_lr)
                u = nan_to_num(e * (lr * safe_adv).view(shape))
                weights[k].add_(u)
                e.masked_fill_(done.view(shape), 0.0)
            self.critic.update(phi, safe_adv)
            self.critic.reset_traces(done)
        for e in traces.values():
            e.masked_fill_(done.view(-1, *([1] * (e.dim() - 1))), 0.0)
        self.schedule.update(r)
        if self.temperature is not None:  # after this step's gradients, which saw the T that chose its action
            self.temperature(raw, agent.temp)
        if self.lr_schedule is not None:
            self.lr_schedule(raw, self.lr_scale)
        if adaptive:  # after the step, which used the coefficient of the entropy it saw
            log_c = torch.log(self.entropy_coef) + self.entropy_rate * (self.entropy_target - entropy)
            self.entropy_coef.copy_(torch.exp(log_c).clamp(self._coef_floor, 1.0))
        self.steps.add_(1)
        out = {"advantage": advantage, "update_norm": update_sq.sqrt(), "entropy": entropy, "lambda": lam,
               "trace_size": total_size, "finite": finite.all()}  # as the bound reads it: L1, or L2^2 (bound_norm)
        if self.temperature is not None:
            out["temperature"] = agent.temp[:, 0].clone()
        if adaptive:
            out["entropy_coef"] = self.entropy_coef.clone()
        if self.lr_schedule is not None:
            out["lr"] = self.lr * self.lr_scale  # a new tensor: the buffer moves on
        if self.signal == "td":
            out["value"] = v
        else:
            out["baseline"] = self.baseline.b.clone()
        return out

    def reset_traces(self, mask=None) -> None:
        """Zero the policy-gradient and critic traces of the masked lifetimes (all if None)."""
        mask = torch.ones(self.n, dtype=torch.bool) if mask is None else as_batch(mask, self.n, torch.bool)
        for kind, k in [("trace", k) for k in self.names] + [("vtrace", k) for k in self.torso]:
            e = getattr(self, self._buf(kind, k))
            e.masked_fill_(mask.view(-1, *([1] * (e.dim() - 1))), 0.0)
        if self.critic is not None:
            self.critic.reset_traces(mask)
