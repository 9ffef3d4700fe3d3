"""A non-spiking reference policy with the spiking policy's interface: normalise -> tanh MLP -> softmax.

It shows what the spiking network gains or gives up with the same learners, encoders and loop.
Its per-step gradients are exact (backprop through one step, by hand, no autograd)::

    h = tanh(W1 x + b1),  y = W2 h + b2
    dW2 = dy (x) h,  db2 = dy,  dh = (W2^T dy) * (1 - h^2),  dW1 = dh (x) x,  db1 = dh
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from gymnasium import spaces

from tracerl.agents.encoders import make_encoder
from tracerl.agents.policy import Policy, per_lifetime
from tracerl.agents.ranges import check_ranges


class MLPPolicy(Policy):
    """One tanh hidden layer of ``hidden`` units over N lifetimes; see :class:`tracerl.agents.spiking.SpikingPolicy`."""

    READOUT = ("w2", "b2")

    def __init__(self, observation_space: spaces.Box, action_space: spaces.Discrete, hidden: int | Sequence[int] = 64,
                 n: int = 1, seed: int | Sequence[int] = 0, encoder: str = "auto", temperature: float = 1.0,
                 out_scale: float = 0.1, encoder_kwargs: dict | None = None, temperature_start: float | None = None):
        super().__init__(observation_space, action_space, n, seed, temperature, temperature_start)
        sizes = [hidden] if isinstance(hidden, int) else [int(h) for h in hidden]
        if len(sizes) != 1:
            raise ValueError(f"the mlp agent has one hidden layer; got hidden={sizes}; allowed: one size, like 64")
        size = sizes[0]
        self.config = dict(hidden=size, encoder=encoder, temperature=temperature, out_scale=out_scale,
                           temperature_start=temperature_start)
        check_ranges(self.config)
        self.encoder = make_encoder(encoder, n, observation_space, **(encoder_kwargs or {}))
        self.config["encoder"] = self.encoder.name
        d, a = self.encoder.out_dim, self.n_actions
        self.register_buffer("w1", per_lifetime(self.seeds, 1, lambda g: torch.randn(size, d, generator=g) / math.sqrt(d)))
        self.register_buffer("b1", torch.zeros(n, size))
        self.register_buffer("w2", per_lifetime(self.seeds, 2, lambda g: torch.randn(a, size, generator=g) * out_scale / math.sqrt(size)))
        self.register_buffer("b2", torch.zeros(n, a))
        self.register_buffer("x", torch.zeros(n, d))
        self.register_buffer("h", torch.zeros(n, size))

    def _forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.encoder(obs).flatten(1)  # a grid encoder's picture, flattened: the MLP has no notion of place
        h = torch.tanh((self.w1 * x[:, None, :]).sum(-1) + self.b1)
        self.x.copy_(x)
        self.h.copy_(h)
        return (self.w2 * h[:, None, :]).sum(-1) + self.b2  # locals, not the buffers: bptt may differentiate

    def local_grads(self, dy: torch.Tensor) -> dict[str, torch.Tensor]:
        dh = (self.w2 * dy[:, :, None]).sum(1) * (1 - self.h * self.h)
        return {"w2": dy[:, :, None] * self.h[:, None, :], "b2": dy,
                "w1": dh[:, :, None] * self.x[:, None, :], "b1": dh}

    def feature_grads(self, dphi: torch.Tensor) -> dict[str, torch.Tensor]:
        dh = dphi[:, :self.h.shape[1]] * (1 - self.h * self.h)  # features are [h, x, 1]: only h depends on W
        return {"w1": dh[:, :, None] * self.x[:, None, :], "b1": dh}

    def standin_logits(self, u: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
        """The MLP itself on input u: its own one-step stand-in (see SpikingPolicy.standin_logits)."""
        h = torch.tanh((w["w1"] * u[:, None, :]).sum(-1) + w["b1"])
        return (w["w2"] * h[:, None, :]).sum(-1) + w["b2"]

    def weights(self) -> dict[str, torch.Tensor]:
        return {"w2": self.w2, "b2": self.b2, "w1": self.w1, "b1": self.b1}

    def features(self) -> torch.Tensor:
        return torch.cat([self.h, self.x, torch.ones(self.n, 1)], dim=1)

    def _reset_lifetimes(self, mask: torch.Tensor) -> None:
        self.encoder.reset_lifetimes(mask)
