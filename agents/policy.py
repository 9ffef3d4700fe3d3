"""What every tracerl policy shares: spaces, lifetimes, sampling, and the seam to the learners.

A policy holds N independent lifetimes (each with its own weights and random stream) and runs
one environment step at a time, without autograd::

    action = agent.act(obs)          # forward one env step, sample pi, remember what the learner needs
    grads = agent.local_grads(dy)    # d(dy . y_t)/dW for every learnable weight, from local traces

``dy`` is a cotangent on the policy's logits y_t (N, A): ``(onehot(a_t) - pi_t) / T`` gives
grad log pi(a_t | s_t), ``entropy_cotangent()`` the gradient of the policy's entropy. Learners
combine these with traces and a learning signal; they never look inside the network.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from tracerl.agents import rng
from tracerl.agents.compiled import CompiledStep


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

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, n: int,
                 seed: int | Sequence[int], temperature: float):
        super().__init__()
        from tracerl.learners.ranges import check_range  # here, not above: the learners package imports agents
        check_range("temperature", temperature)
        check_spaces(observation_space, action_space)
        self.observation_space, self.action_space = observation_space, action_space
        self.n, self.n_actions, self.temperature = n, int(action_space.n), float(temperature)
        self.seeds = lifetime_seeds(n, seed)
        self.obs_shape = tuple(observation_space.shape)
        self.register_buffer("rng_keys", rng.seed_keys(self.seeds))
        self.register_buffer("rng_counter", torch.zeros(n, dtype=torch.int64))
        self.register_buffer("pi", torch.full((n, self.n_actions), 1.0 / self.n_actions))
        self.register_buffer("action", torch.zeros(n, dtype=torch.int64))
        # a learner already ran the forward pass on the next observation (and sampled its action)
        self.register_buffer("pending", torch.zeros((), dtype=torch.bool))

    # -- acting -------------------------------------------------------------------------------
    def _as_batch(self, obs) -> tuple[torch.Tensor, bool]:
        obs = torch.as_tensor(np.asarray(obs))
        single = obs.dim() == len(self.obs_shape)
        if single:
            if self.n != 1:
                raise ValueError(f"one observation given to a policy of {self.n} lifetimes; pass (N, *obs_shape)")
            obs = obs[None]
        return obs, single

    @torch.no_grad()
    def forward(self, obs) -> torch.Tensor:
        """Advance the network by one environment step on ``obs`` and sample this step's action.

        Returns pi (N, A); the sampled actions are in ``self.action``.
        """
        batch, _ = self._as_batch(obs)
        self._step_fn(batch)
        return self.pi

    def _step(self, obs: torch.Tensor) -> None:
        """Tensor-only body of ``forward`` (what ``compile()`` compiles): pi and a sampled action."""
        self.pi.copy_(torch.softmax(self._forward(obs) / self.temperature, dim=-1))
        self.action.copy_(rng.categorical(self.pi, self.rng_keys, self.rng_counter))
        self.rng_counter.add_(1)

    @property
    def _step_fn(self):
        return self.__dict__.get("_compiled_step") or self._step

    def compile(self, options: dict | None = None) -> "Policy":
        """Compile the per-step forward with torch.compile (fullgraph, static shapes); returns self.

        The first step then takes a while (tens of seconds on a small CPU); every later one calls
        the compiled graph directly (:class:`tracerl.agents.compiled.CompiledStep`) and is several times
        faster than eager. Settings read by the step are frozen: compile again after changing one.
        Tests and debugging use the eager path.
        """
        self.__dict__["_compiled_step"] = CompiledStep(self._step, options)
        return self

    @torch.no_grad()
    def act(self, obs):
        """One environment step: forward and sample, unless a learner already did so on this obs.

        Returns an int for one unbatched observation, else an (N,) int64 numpy array.
        """
        single = np.ndim(obs) == len(self.obs_shape)
        if not bool(self.pending):
            self.forward(obs)
        self.pending.fill_(False)
        actions = self.action.numpy().copy()
        return int(actions[0]) if single else actions

    def prepare(self, obs) -> None:
        """Forward on ``obs`` now (a learner needs its features); the next ``act(obs)`` only samples."""
        self.forward(obs)
        self.pending.fill_(True)

    def cancel_pending(self) -> None:
        self.pending.fill_(False)

    # -- what learners use -------------------------------------------------------------------
    def logp_cotangent(self, action: torch.Tensor | None = None) -> torch.Tensor:
        """d log pi(a_t) / d y_t = (onehot(a_t) - pi_t) / T, (N, A); a_t the sampled action unless
        ``action`` (N,) int64 is given (e.g. a teacher's, for imitation)."""
        action = self.action if action is None else action
        onehot = torch.nn.functional.one_hot(action, self.n_actions).to(self.pi.dtype)
        return (onehot - self.pi) / self.temperature

    def entropy_cotangent(self) -> torch.Tensor:
        """d H(pi_t) / d y_t = -pi_t * (log pi_t + H(pi_t)) / T, (N, A)."""
        logp = torch.log(self.pi.clamp(min=1e-12))
        entropy = -(self.pi * logp).sum(-1, keepdim=True)
        return -self.pi * (logp + entropy) / self.temperature

    def entropy(self) -> torch.Tensor:
        return -(self.pi * torch.log(self.pi.clamp(min=1e-12))).sum(-1)

    def _forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(N, *obs_shape) -> logits y_t (N, A)."""
        raise NotImplementedError

    def local_grads(self, dy: torch.Tensor) -> dict[str, torch.Tensor]:
        """d(sum(dy * y_t))/dW for every learnable weight W, each shaped like W."""
        raise NotImplementedError

    def features(self) -> torch.Tensor:
        """(N, F) features of the current step for a linear critic."""
        raise NotImplementedError

    def weights(self) -> dict[str, torch.Tensor]:
        """The learnable tensors, updated in place by learners."""
        raise NotImplementedError

    def reset_state(self, mask: torch.Tensor | None = None) -> None:
        """Forget the network's activity (not its weights) for the masked lifetimes (all if None)."""
        mask = torch.ones(self.n, dtype=torch.bool) if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        self._reset_state(mask)
        if bool(mask.all()):
            self.cancel_pending()

    def _reset_state(self, mask: torch.Tensor) -> None:
        """Tensor-only: zero the activity of the masked lifetimes (learners call it inside compiled code)."""
        raise NotImplementedError

    def stats(self) -> dict[str, torch.Tensor]:
        """(N,) per-lifetime figures for logging: firing rates, weight norms."""
        return {f"weight_norm/{k}": v.flatten(1).norm(dim=1) for k, v in self.weights().items()}
