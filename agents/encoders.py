"""Encoders: observations (N, *obs_shape) -> input for the first spiking layer.

What an observation *is* decides its encoder (``encoder="auto"``, :func:`observation_kind`):

- feature vectors, and arrays of two or more dimensions that are neither grids nor images
  (float arrays, say): :class:`NormalizeEncoder`, flattened, running mean / std.
- boolean or 0/1 grids (MinAtar's 10x10xC, each channel one kind of object): ``"spikes"``,
  :class:`FrameEncoder` with no scaling: each cell of each channel is one input, already a spike.
- images (integer dtype, 2-D or 3-D with a channel axis of at most 4, first or last): ``"pixels"``,
  :class:`FrameEncoder` scaled from the Box's own range to [0, 1], max-pooled to at most
  ``MAX_SIDE`` cells a side.

Grid encoders keep the picture: they return (N, C, H, W) and say so with ``out_shape``, so that a
convolutional front end can read it (a dense layer flattens it). Besides the frame they give ON and
OFF events, as an event camera does: a cell whose value rose by more than ``threshold`` since the
last step fires ON, one that fell fires OFF (``"events"``: the events alone, no frame).

Each encoder's state (running statistics, the last frame) lives in buffers, so it is saved and
restored with the agent's ``state_dict``. Encoders never build autograd graphs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

MAX_SIDE = 20  # images are max-pooled to at most this many cells on their longer side
MAX_CHANNELS = 4  # an image's channel axis: gray, RGB, RGBA, or a stack of up to 4 frames


class NormalizeEncoder(nn.Module):
    """x = clip((obs - mean) / sqrt(var + eps), -clip, clip), with mean / var updated online.

    Running statistics per lifetime (Welford's update, one observation per step)::

        count += 1;  d = obs - mean;  mean += d / count;  m2 += d * (obs - mean);  var = m2 / count
    """

    out_shape = None  # flat

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

    out_shape = None

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


def channel_axis(shape: tuple[int, ...]) -> int | None:
    """Where a grid's channels are: -1 (channel-last, (H, W, C)), 0 (channel-first, (C, H, W)), or
    None (a 2-D (H, W) grid). A 3-D shape whose first and last axes are both short takes the shorter
    (channel-last on a tie, Gymnasium's and MinAtar's layout). Raises ValueError for other shapes."""
    if len(shape) == 2:
        return None
    if len(shape) != 3:
        raise ValueError(f"a grid is (H, W), (H, W, C) or (C, H, W); got shape {shape}")
    return -1 if shape[-1] <= shape[0] else 0


def observation_kind(space: spaces.Box) -> str:
    """``"spikes"`` (a boolean or 0/1 grid), ``"pixels"`` (an integer image), or ``"features"``.

    A grid or image is 2-D, or 3-D with a channel axis (first or last) of at most ``MAX_CHANNELS``
    (a boolean or 0/1 grid may have any number of channels: MinAtar's Seaquest has 10). Any other
    array is flattened to features. Raises ValueError for what cannot be encoded at all.
    """
    shape, dtype = tuple(space.shape), np.dtype(space.dtype)
    if math.prod(shape) == 0:
        raise ValueError(f"cannot encode observations of shape {shape} and dtype {dtype}; allowed: arrays with "
                         f"at least one value (features, 0/1 grids, integer images)")
    if len(shape) not in (2, 3):
        return "features"
    binary = dtype == np.bool_ or (np.issubdtype(dtype, np.integer) and np.all(space.low == 0) and np.all(space.high == 1))
    if binary:
        return "spikes"
    if np.issubdtype(dtype, np.integer) and np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        axis = channel_axis(shape)
        if axis is None or shape[axis] <= MAX_CHANNELS:
            return "pixels"
    return "features"


class FrameEncoder(nn.Module):
    """A grid or image (N, *obs_shape) -> (N, C_out, H', W'): the frame, then ON / OFF events.

    With ``f`` the frame as (C, H, W), scaled by the Box's range ``(obs - low) / (high - low)`` and
    max-pooled ``pool`` x ``pool`` (a ball of one cell survives pooling; an average would smear it)::

        on  = [f - f_last >  threshold]     off = [f_last - f > threshold]     (0 or 1 per cell)

    and the output is ``[f, on, off]`` stacked over channels (``frame=False``: ``[on, off]``, an
    event camera's view; ``events=False``: ``[f]``). A new episode's first step has no last frame,
    so no events. For a boolean grid the scaling is the identity and every input is a spike.
    """

    def __init__(self, n: int, space: spaces.Box, pool: int | None = None, frame: bool = True,
                 events: bool = True, threshold: float = 0.1):
        super().__init__()
        if not (frame or events):
            raise ValueError("a frame encoder needs frame=True or events=True")
        shape = tuple(space.shape)
        self.axis = channel_axis(shape)
        c = 1 if self.axis is None else shape[self.axis]
        h, w = (shape if self.axis is None else shape[1:] if self.axis == 0 else shape[:2])
        self.pool = max(1, math.ceil(max(h, w) / MAX_SIDE)) if pool is None else int(pool)
        self.frame, self.events, self.threshold = frame, events, threshold
        ho, wo = math.ceil(h / self.pool), math.ceil(w / self.pool)
        self.out_shape = (c * (int(frame) + 2 * int(events)), ho, wo)
        self.out_dim = math.prod(self.out_shape)
        self.channel_kinds = ("frame",) * c * int(frame) + ("on",) * c * int(events) + ("off",) * c * int(events)
        low = np.broadcast_to(np.asarray(space.low, np.float64), shape).copy()
        high = np.broadcast_to(np.asarray(space.high, np.float64), shape).copy()
        if space.dtype == np.bool_:
            low, high = np.zeros(shape), np.ones(shape)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
            raise ValueError(f"cannot scale observations of shape {shape} and dtype {space.dtype} to [0, 1]: "
                             f"its Box needs finite bounds with high > low")
        # a copy, not a view of the batch of one: bptt detaches every buffer in place, which a view refuses
        chw = lambda a: self._chw(torch.as_tensor(a, dtype=torch.float32)[None])[0].clone()  # noqa: E731
        self.register_buffer("low", chw(low), persistent=False)
        self.register_buffer("inv_range", 1.0 / chw(high - low), persistent=False)
        self.register_buffer("last", torch.zeros(n, c, ho, wo))
        self.register_buffer("fresh", torch.ones(n, dtype=torch.bool))  # no last frame yet

    def _chw(self, x: torch.Tensor) -> torch.Tensor:
        """(N, *obs_shape) -> (N, C, H, W)."""
        if self.axis is None:
            return x[:, None]
        return x.movedim(-1, 1) if self.axis == -1 else x

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        f = (self._chw(obs.to(torch.float32)) - self.low) * self.inv_range
        if self.pool > 1:
            f = torch.nn.functional.max_pool2d(f, self.pool, ceil_mode=True)
        out = [f] if self.frame else []
        if self.events:
            seen = (~self.fresh).to(f.dtype)[:, None, None, None]
            d = (f - self.last) * seen
            out += [(d > self.threshold).to(f.dtype), (d < -self.threshold).to(f.dtype)]
            self.last.copy_(f)
            self.fresh.fill_(False)
        return torch.cat(out, dim=1) if len(out) > 1 else out[0]

    def reset_lifetimes(self, mask: torch.Tensor) -> None:
        """A new episode has no previous frame: no events on its first step."""
        self.fresh.logical_or_(mask)


ENCODERS = ("auto", "normalize", "population", "spikes", "pixels", "events")


def make_encoder(name: str, n: int, space: spaces.Box, **kwargs) -> nn.Module:
    """Build an encoder by name for N lifetimes and one observation's Box space.

    ``"auto"``: by :func:`observation_kind`. ``"spikes"``, ``"pixels"`` and ``"events"`` need a grid
    or image; ``"normalize"`` and ``"population"`` take any array (flattened).
    """
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; allowed: {', '.join(map(repr, ENCODERS))}")
    kind = observation_kind(space)
    shape, dtype = tuple(space.shape), np.dtype(space.dtype)
    if name == "auto":
        name = kind if kind != "features" else "normalize"
    if name == "normalize":
        encoder = NormalizeEncoder(n, math.prod(shape), **kwargs)
    elif name == "population":
        encoder = PopulationEncoder(n, math.prod(shape), **kwargs)
    elif kind == "features":
        raise ValueError(f"encoder {name!r} needs a 0/1 grid or an integer image ((H, W), or a channel axis of at "
                         f"most {MAX_CHANNELS} first or last); got shape {shape} and dtype {dtype}")
    else:
        encoder = FrameEncoder(n, space, **({"frame": False, **kwargs} if name == "events" else kwargs))
    encoder.name = name  # what "auto" chose, for the run's config
    return encoder
