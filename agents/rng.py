"""Counter-based random numbers, one independent stream per lifetime, with no Python loop over them.

A lifetime's stream is a pure function of its key (from its seed) and a step counter::

    u = (hash32(hash32(counter) ^ key) + 0.5) / 2**32

so lifetime i draws the same numbers whether it runs alone or in a batch of 64, and the stream is
saved and restored by saving the counter. ``hash32`` is the "lowbias32" integer hash
(Wellons 2018), computed in int64 without overflow.
"""

from __future__ import annotations

import torch

_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2**32 for 0 <= x < 2**32, split in 16-bit halves so int64 never overflows."""
    lo, hi = x & 0xFFFF, x >> 16
    return ((((hi * c) & _M32) << 16) + lo * c) & _M32


def hash32(x: torch.Tensor) -> torch.Tensor:
    x = x & _M32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def seed_keys(seeds: list[int]) -> torch.Tensor:
    """(N,) int64 keys, one per lifetime seed."""
    return hash32(hash32(torch.tensor(seeds, dtype=torch.int64)) ^ 0x5BD1E995)


def uniform(keys: torch.Tensor, counter: torch.Tensor) -> torch.Tensor:
    """(N,) float64 in (0, 1): draw number ``counter[i]`` of lifetime i's stream."""
    return (hash32(hash32(counter) ^ keys).to(torch.float64) + 0.5) * (1.0 / 2**32)


def categorical(probs: torch.Tensor, keys: torch.Tensor, counter: torch.Tensor) -> torch.Tensor:
    """Sample one index per row of ``probs`` (N, A) by inverting the cumulative distribution.

    The CDF is a masked sum rather than ``torch.cumsum``, which torch.compile leaves as a separate
    library call between two kernels; the sum fuses into the step's one kernel.
    """
    u = uniform(keys, counter).to(probs.dtype)
    a = probs.shape[-1]
    below = torch.arange(a)[None, :] <= torch.arange(a)[:, None]  # below[k, j]: j <= k
    cdf = (probs[:, None, :] * below).sum(dim=-1)
    idx = (cdf < u[:, None]).sum(dim=-1)
    return idx.clamp_(max=probs.shape[-1] - 1)
