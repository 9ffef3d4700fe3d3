"""Encoders: observations (N, *obs_shape) -> input currents (N, D) for the first spiking layer.

Each encoder is a small module whose state (running statistics, the last frame) lives in buffers,
so it is saved and restored with the agent's ``state_dict``. Encoders never build autograd graphs.

- :class:`NormalizeEncoder`: running mean / std normalisation per observation value, clipped.
- :class:`PopulationEncoder`: normalisation, then Gaussian receptive fields: each value drives
  ``n_per_dim`` neurons whose preferred values tile [-range, range].
- :class:`PixelEncoder`: grayscale image -> average-pooled, plus the difference to the last frame
  (motion), both flattened.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class NormalizeEncoder(nn.Module):
    """x = clip((obs - mean) / sqrt(var + eps), -clip, clip), with mean / var updated online.

    Running statistics per lifetime (Welford's update, one observation per step)::

        count += 1;  d = obs - mean;  mean += d / count;  m2 += d * (obs - mean);  var = m2 / count
    """

    def __init__(self, n: int, obs_dim: int, clip: float = 5.0, eps: float = 1e-2, update: bool = True):
        super().__init__()
        self.clip, self.eps, self.update = clip, eps, update
        self.out_dim = obs_dim
        self.register_buffer("mean", torch.zeros(n, obs_dim))
        self.register_buffer("m2", torch.zeros(n, obs_dim))
        self.register_buffer("count", torch.zeros(n, 1))  # a tensor, so a compiled step never specialises on it

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.reshape(obs.shape[0], -1).to(self.mean.dtype)
        if self.update:
            self.count += 1.0
            delta = obs - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (obs - self.mean)
        var = self.m2 / self.count.clamp(min=1.0)
        return torch.clamp((obs - self.mean) / torch.sqrt(var + self.eps), -self.clip, self.clip)

    def reset_lifetimes(self, mask: torch.Tensor) -> None:
        """Running statistics describe a whole lifetime: an episode boundary keeps them."""


class PopulationEncoder(nn.Module):
    """Normalise, then Gaussian receptive fields::

        x[d * n + k] = exp(-(u_d - c_k)^2 / (2 sigma^2)),  c_k evenly over [-range, range],
        sigma = (2 range / (n - 1)) * width

    so each observation value is carried by a few active neurons around its value.
    """

    def __init__(self, n: int, obs_dim: int, n_per_dim: int = 8, value_range: float = 2.5, width: float = 0.75):
        super().__init__()
        self.norm = NormalizeEncoder(n, obs_dim)
        self.out_dim = obs_dim * n_per_dim
        self.register_buffer("centres", torch.linspace(-value_range, value_range, n_per_dim))
        self.inv_two_sigma2 = 1.0 / (2.0 * (2.0 * value_range / (n_per_dim - 1) * width) ** 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        u = self.norm(obs)
        return torch.exp(-((u[..., None] - self.centres) ** 2) * self.inv_two_sigma2).reshape(u.shape[0], -1)

    def reset_lifetimes(self, mask: torch.Tensor) -> None:
        pass


class PixelEncoder(nn.Module):
    """uint8 image (N, H, W) or (N, H, W, C) -> [pooled frame, pooled frame - last pooled frame].

    The image is averaged to grayscale over channels, scaled to [0, 1] and average-pooled by
    ``pool`` x ``pool``; the difference to the previous frame carries motion, which one frame lacks.
    """

    def __init__(self, n: int, obs_shape: tuple[int, ...], pool: int = 4):
        super().__init__()
        self.pool = pool
        h, w = obs_shape[0] // pool, obs_shape[1] // pool
        self.out_dim = 2 * h * w
        self.register_buffer("last", torch.zeros(n, h * w))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        img = obs.to(torch.float32) / 255.0
        if img.dim() == 4:
            img = img.mean(dim=-1)
        n, h, w = img.shape
        p = self.pool
        img = img[:, : h // p * p, : w // p * p].reshape(n, h // p, p, w // p, p).mean(dim=(2, 4)).reshape(n, -1)
        diff = img - self.last
        self.last.copy_(img)
        return torch.cat([img, diff * 4.0], dim=1)

    def reset_lifetimes(self, mask: torch.Tensor) -> None:
        """A new episode has no previous frame: no motion on its first step."""
        self.last.masked_fill_(mask[:, None], 0.0)


ENCODERS = ("normalize", "population", "pixels")


def make_encoder(name: str, n: int, obs_shape: tuple[int, ...], **kwargs) -> nn.Module:
    """Build an encoder by name for N lifetimes and one observation's shape."""
    if name == "normalize":
        return NormalizeEncoder(n, math.prod(obs_shape), **kwargs)
    if name == "population":
        return PopulationEncoder(n, math.prod(obs_shape), **kwargs)
    if name == "pixels":
        if len(obs_shape) not in (2, 3):
            raise ValueError(f"pixel encoder needs image observations (H, W) or (H, W, C); got shape {obs_shape}")
        return PixelEncoder(n, obs_shape, **kwargs)
    raise ValueError(f"unknown encoder {name!r}; allowed: {', '.join(map(repr, ENCODERS))}")
