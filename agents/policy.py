"""What every tracerl policy shares: spaces, lifetimes, sampling, and the seam to the learners.

A policy holds N independent lifetimes (each with its own weights and random stream) and runs
one environment step at a time, without autograd::

    action = agent.act(obs)          # forward one env step, sample pi, remember what the learner needs
    grads = agent.local_grads(dy)    # d(dy . y_t)/dW for every learnable weight, from local traces
    agent.reset_state(done)          # an episode ended: forget those lifetimes' activity
    agent.advance(next_obs)          # a learner that needs the next state runs the step itself;
                                     # the next act(next_obs) then returns the action sampled there

``dy`` is a cotangent on the policy's logits y_t (N, A): ``(onehot(a_t) - pi_t) / T`` gives
grad log pi(a_t | s_t), ``entropy_cotangent()`` the gradient of the policy's entropy. Learners
combine these with traces and a learning signal; they never look inside the network, and call
nothing else of it (``features()``, ``entropy()``, ``weights()``, ``shared_weights()``, ``as_batch()``,
``dense_picture``: all documented here).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from tracerl.agents import rng
from tracerl.agents.compiled import CompiledStep
from tracerl.agents.ranges import check_range


def check_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """tracerl policies act in a Discrete action space from a Box observation."""
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"unsupported action space {action_space}; allowed: Discrete (a finite set of actions)")
    if not isinstance(observation_space, spaces.Box):
        raise ValueError(f"unsupported observation space {observation_space}; allowed: Box")


def lifetime_seeds(n: int, seed: int | Sequence[int]) -> list[int]:
    """Lifetime i gets ``seed + i`` (as Gymnasium's vector envs seed their games), or seed[i]."""
    seeds = [int(seed) + i for i in range(n)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
    if len(seeds) != n:
        raise ValueError(f"got {len(seeds)} seeds for {n} lifetimes")
    return seeds


def per_lifetime(seeds: list[int], salt: int, make) -> torch.Tensor:
    """Stack ``make(generator)`` over lifetimes, each from its own seeded generator (set-up only)."""
    return torch.stack([make(torch.Generator().manual_seed(s * 1_000_003 + salt)) for s in seeds])


class Policy(nn.Module):
    """Base class: subclasses implement ``_forward``, ``local_grads``, ``features``, ``weights``."""

    READOUT: tuple[str, ...] = ()  # names of the readout weights (the rest are "hidden" to learners)
    dense_picture: bool = False  # a picture read flat by a dense layer (learners' default entropy differs)

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, n: int,
                 seed: int | Sequence[int], temperature: float, temperature_start: float | None = None):
        super().__init__()
        check_range("temperature", temperature)
        check_range("temperature_start", temperature_start)
        check_spaces(observation_space, action_space)
        self.observation_space, self.action_space = observation_space, action_space
        self.n, self.n_actions, self.temperature = n, int(action_space.n), float(temperature)
        self.seeds = lifetime_seeds(n, seed)
        self.obs_shape = tuple(observation_space.shape)
        self.register_buffer("rng_keys", rng.seed_keys(self.seeds))
        self.register_buffer("rng_counter", torch.zeros(n, dtype=torch.int64))
        self.register_buffer("pi", torch.full((n, self.n_actions), 1.0 / self.n_actions))
        self.register_buffer("action", torch.zeros(n, dtype=torch.int64))
        # advance() has run on the next observation (a learner's step) and act() has not yet taken its action
        self.register_buffer("pending", torch.zeros((), dtype=torch.bool))
        self.greedy = False  # True: act by the most probable action instead of sampling (evaluation)
        # With temperature_start, T is per lifetime and starts there; the learner lowers it toward
        # ``temperature`` as the lifetime's reward rate rises (learners.common.ProgressSchedule).
        self.register_buffer("temp", None if temperature_start is None else torch.full((n, 1), float(temperature_start)))

    # -- acting -------------------------------------------------------------------------------
    def as_batch(self, obs) -> torch.Tensor:
        """An observation (``obs_shape``, for a policy of one lifetime) or a batch (N, *obs_shape),
        as an (N, *obs_shape) tensor."""
        obs = torch.as_tensor(np.asarray(obs))
        if obs.dim() == len(self.obs_shape):
            if self.n != 1:
                raise ValueError(f"one observation given to a policy of {self.n} lifetimes; pass (N, *obs_shape)")
            obs = obs[None]
        return obs

    @torch.no_grad()
    def forward(self, obs) -> torch.Tensor:
        """Advance the network by one environment step on ``obs`` and sample this step's action.

        Returns pi (N, A); the sampled actions are in ``self.action``.
        """
        self._advance_fn(self.as_batch(obs))
        return self.pi

    def advance(self, obs: torch.Tensor) -> None:
        """One environment step of the network on ``obs`` (N, *obs_shape): pi, and a sampled action.

        Tensor-only (what ``compile()`` compiles). A learner whose signal needs the next state
        (td: V(s_{t+1}) from its features) calls it on the next observation inside its own step;
        the agent then notes that this step is taken, and its next ``act`` returns the action
        sampled here instead of running the network again.
        """
        self.pi.copy_(torch.softmax(self._forward(obs) / self.softmax_t, dim=-1))
        if self.greedy:  # evaluation: the most probable action
            self.action.copy_(self.pi.argmax(-1))
        else:
            self.action.copy_(rng.categorical(self.pi, self.rng_keys, self.rng_counter))
        self.rng_counter.add_(1)
        self.pending.fill_(True)

    @property
    def _advance_fn(self):
        return self.__dict__.get("_compiled_step") or self.advance

    def compile(self, options: dict | None = None) -> "Policy":
        """Compile ``advance`` with torch.compile (fullgraph, static shapes) for ``act``; returns self.

        The first step then takes a while (tens of seconds on a small CPU); every later one calls
        the compiled graph directly (:class:`tracerl.agents.compiled.CompiledStep`) and is several
        times faster than eager. Settings read by the step are frozen: compile again after changing
        one. A learner that runs ``advance`` inside its own compiled step compiles it there instead
        (``learner.compile()`` decides; see the learners). Tests and debugging use the eager path.
        """
        self.__dict__["_compiled_step"] = CompiledStep(self.advance, options)
        return self

    @torch.no_grad()
    def act(self, obs):
        """The action for ``obs``: one step of the network, unless a learner already took it on
        this observation (``advance`` inside ``learner.step(..., next_obs)``; at an episode's end
        ``next_obs`` is the new episode's first observation, as Gymnasium's same-step autoreset
        gives it).

        Returns an int for one unbatched observation, else an (N,) int64 numpy array.
        """
        single = np.ndim(obs) == len(self.obs_shape)
        if not bool(self.pending):
            self._advance_fn(self.as_batch(obs))
        self.pending.fill_(False)
        actions = self.action.numpy().copy()
        return int(actions[0]) if single else actions

    # -- what learners use -------------------------------------------------------------------
    def logp_cotangent(self, action: torch.Tensor | None = None) -> torch.Tensor:
        """d log pi(a_t) / d y_t = (onehot(a_t) - pi_t) / T, (N, A); a_t the sampled action unless
        ``action`` (N,) int64 is given (e.g. a teacher's, for imitation)."""
        action = self.action if action is None else action
        onehot = torch.nn.functional.one_hot(action, self.n_actions).to(self.pi.dtype)
        return (onehot - self.pi) / self.softmax_t

    def entropy_cotangent(self) -> torch.Tensor:
        """d H(pi_t) / d y_t = -pi_t * (log pi_t + H(pi_t)) / T, (N, A)."""
        logp = torch.log(self.pi.clamp(min=1e-12))
        entropy = -(self.pi * logp).sum(-1, keepdim=True)
        return -self.pi * (logp + entropy) / self.softmax_t

    @property
    def softmax_t(self):
        """The softmax's T: ``temperature``, or (N, 1) per lifetime with ``temperature_start``."""
        return self.temperature if self.temp is None else self.temp

    def entropy(self) -> torch.Tensor:
        return -(self.pi * torch.log(self.pi.clamp(min=1e-12))).sum(-1)

    def _forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(N, *obs_shape) -> logits y_t (N, A)."""
        raise NotImplementedError

    def local_grads(self, dy: torch.Tensor) -> dict[str, torch.Tensor]:
        """d(sum(dy * y_t))/dW for every learnable weight W, each shaped like W."""
        raise NotImplementedError

    def feature_grads(self, dphi: torch.Tensor) -> dict[str, torch.Tensor]:
        """d(sum(dphi * features()))/dW for the weights below the readout that the features depend
        on (a critic's gradient sent into the network, ``EProp(critic_torso=...)``), each shaped like W."""
        raise NotImplementedError

    def shared_weights(self) -> tuple[str, ...]:
        """Names of the weights shared across positions (a convolution's kernels): their trace sums
        every position's, so learners bound their step apart. None here."""
        return ()

    def features(self) -> torch.Tensor:
        """(N, F) features of the current step for a linear critic."""
        raise NotImplementedError

    def weights(self) -> dict[str, torch.Tensor]:
        """The learnable tensors, updated in place by learners."""
        raise NotImplementedError

    def reset_state(self, mask: torch.Tensor | None = None) -> None:
        """Forget the network's activity (not its weights) for the masked lifetimes ((N,) bool; all if
        None), as at the start of an episode. Tensor-only for a tensor mask: learners call it inside
        their compiled step. A step already taken by ``advance`` is dropped when every lifetime is
        reset (the next ``act`` runs the network afresh)."""
        if mask is None:
            mask = torch.ones(self.n, dtype=torch.bool)
        elif not isinstance(mask, torch.Tensor):
            mask = torch.as_tensor(np.asarray(mask), dtype=torch.bool)
        self._reset_lifetimes(mask)
        self.pending.masked_fill_(mask.all(), False)

    def _reset_lifetimes(self, mask: torch.Tensor) -> None:
        """Zero the activity of the masked lifetimes (each policy's own state; see ``reset_state``)."""
        raise NotImplementedError

    def freeze(self) -> "Policy":
        """Stop the agent's own plasticity, the one outside any learner (the encoder's running input
        statistics; the spiking policy's homeostatic biases too): a saved lifetime then plays as it
        was saved (watch.py without --learn). Returns self; compile after, not before."""
        for module in self.modules():
            if module is not self and isinstance(getattr(module, "update", None), bool):
                module.update = False
        return self

    def stats(self) -> dict[str, torch.Tensor]:
        """(N,) per-lifetime figures for logging: firing rates, weight norms."""
        return {f"weight_norm/{k}": v.flatten(1).norm(dim=1) for k, v in self.weights().items()}
