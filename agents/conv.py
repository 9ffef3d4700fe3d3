"""A spiking convolution: LIF / ALIF neurons on a grid whose input weights are shared kernels.

For input u (N, C, H, W) and ``channels`` kernels W_c (C, k, k) moved by ``stride``, neuron (c, p)
at output position p sees the patch u_p (C * k * k values) and gets the current ``W_c . u_p + b_cp``.
Each neuron's dynamics are those of :class:`tracerl.agents.layer.SpikingLayer`.

e-prop for a shared weight: every neuron (c, p) has its own eligibility for the kernel entry i
(``ebar[c, p, i]``, the same recursion as a dense synapse, with the presynaptic trace of the input
cell that p's patch puts at i), and the shared weight's gradient is the sum over the positions that
use it::

    dW_c[i] = sum_p L[c, p] * ebar[c, p, i]

So memory is N x channels x positions x C k k, fixed for the whole lifetime, and for a
feed-forward layer with the reset detached this is exactly the gradient autograd computes through
the whole history (tests/test_exactness.py). The presynaptic traces live on the input grid
(N, C, H, W) and are cut into patches with ``unfold``.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from tracerl.agents.policy import per_lifetime
from tracerl.agents.layer import SpikingLayer


def conv_out(side: int, kernel: int, stride: int) -> tuple[int, int]:
    """Output positions along one side, and the zeros padded after it so that every input cell is
    seen (MinAtar's paddle is on the last row)."""
    out = -(-(side - kernel) // stride) + 1
    return out, (out - 1) * stride + kernel - side


class ConvLayer(SpikingLayer):
    """N lifetimes of a spiking convolution over (C, H, W) inputs; ``size`` = channels x positions.

    Its spikes come out flat, channel-major ((N, channels * H' * W')), for the layer above or the
    readout. It reads the encoded observation (the first layer, held over the ticks) or the spikes of
    the convolution below (a sequence, read back as that layer's grid of ``in_shape``).
    """

    def __init__(self, n: int, in_shape: tuple[int, int, int], channels: int, kernel: int, stride: int,
                 neuron: str, kappa: float, tau_mem: float, tau_adapt: float, beta: float, gamma_pd: float,
                 input_scale: float, seeds: list[int], salt: int, reset: str = "subtract"):
        c, h, w = in_shape
        kernel = min(kernel, h, w)
        self.in_shape, self.channels, self.kernel, self.stride = tuple(in_shape), channels, kernel, stride
        (ho, pad_h), (wo, pad_w) = conv_out(h, kernel, stride), conv_out(w, kernel, stride)
        self.out_hw, self.pad = (ho, wo), (0, pad_w, 0, pad_h)
        self.positions = self.out_hw[0] * self.out_hw[1]
        super().__init__(n, c * kernel * kernel, channels * self.positions, neuron, False, kappa, tau_mem,
                         tau_adapt, beta, gamma_pd, input_scale, seeds, salt, reset)

    def _init_input(self, n: int, in_dim: int, input_scale: float, seeds: list[int], salt: int) -> None:
        """w_in (N, channels, C k k) ~ N(0, input_scale^2 / (C k k)); xbar_in on the input grid (N, C, H, W);
        ebar_in per neuron and kernel entry (N, channels, positions, C k k)."""
        std = input_scale / math.sqrt(in_dim)
        co, p = self.channels, self.positions
        self.register_buffer("w_in", per_lifetime(seeds, salt, lambda g: torch.randn(co, in_dim, generator=g) * std))
        self.register_buffer("xbar_in", torch.zeros(n, *self.in_shape))
        self.register_buffer("ebar_in", torch.zeros(n, co, p, in_dim))
        self.register_buffer("eps_in", torch.zeros(n, co, p, in_dim) if self.neuron == "alif" else torch.zeros(0))

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C k k, positions)."""
        return F.unfold(F.pad(x, self.pad) if any(self.pad) else x, self.kernel, stride=self.stride)

    def drive(self, u: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        if u.dim() == 2:  # the flat spikes (or rates) of the convolution below
            u = u.reshape(u.shape[0], *self.in_shape)
        return torch.bmm(self.w_in if w is None else w, self._patches(u)).reshape(u.shape[0], -1)

    def _post(self, a: torch.Tensor) -> torch.Tensor:
        return a.reshape(a.shape[0], self.channels, self.positions, 1)

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        return self._patches(x).transpose(1, 2)[:, None]

    def _input_grad(self, signal: torch.Tensor) -> torch.Tensor:
        return (self._post(signal) * self.ebar_in).sum(2)

    def feed_back(self, g: torch.Tensor) -> torch.Tensor:
        """The transposed convolution of a signal on the currents (N, channels * positions): what each input
        cell's kernels carry back, summed over the patches that see it, (N, C * H * W)."""
        n, (c, h, w) = g.shape[0], self.in_shape
        cols = torch.bmm(self.w_in.transpose(1, 2), g.reshape(n, self.channels, self.positions))
        grid = F.fold(cols, (h + self.pad[3], w + self.pad[1]), self.kernel, stride=self.stride)
        return grid[:, :, :h, :w].reshape(n, -1)

    def forward(self, u: torch.Tensor, ticks: int, const: bool) -> torch.Tensor:
        if not const:  # (ticks, N, C H W) spikes of the convolution below, as its grid
            u = u.reshape(u.shape[0], u.shape[1], *self.in_shape)
        return super().forward(u, ticks, const)
