"""The spiking policy: encoder -> [spiking convolution] -> hidden LIF / ALIF layers -> leaky readout -> softmax.

Per environment step the network runs K ticks on the encoded observation x (held constant over
the step). Per tick, for hidden layer l with input u (x for the first layer, the previous layer's
spikes otherwise) and neuron model of :mod:`tracerl.agents.neurons`::

    I_t = W_in u_t + W_rec z_{t-1} + b          (b: a homeostatic bias, see below)
    z_t, state = neuron_step(I_t, state)
    y_t = kappa * y_{t-1} + W_out z_t + b_out    (readout of the last hidden layer)

and after the K ticks ``pi = softmax(y / T)``. For a 0/1 grid (MinAtar's; or any picture with
``frontend="conv"``, :mod:`tracerl.agents.encoders`) the first layers are spiking convolutions
(:mod:`tracerl.agents.conv`; one by default, or a stack, each reading the spikes of the one below):
their neurons know where they look, and their shared kernels learn. An integer image goes flat
into the first dense layer by default, whose input weights start as random fields smoothed over
the picture (``smooth_fields``): each neuron then answers to where a thing is, in a graded way.
With ``readout_skip`` the readout also reads the encoded input directly.

Each layer keeps its own e-prop eligibility (Bellec et al. 2020, :mod:`tracerl.agents.layer`), no
backpropagation through time, so that for a cotangent dy on the logits (``local_grads``) a hidden
weight gets ``L[j] * ebar[j, i]`` with the learning signal ``L = B dy``, B = W_out^T ("symmetric")
or a fixed random matrix ("random"). For a feed-forward layer with the reset detached this is
exactly the gradient autograd computes through the whole history, with psi as the surrogate
derivative. The readout's eligibility is exact: ``dy (x) zbar`` with ``zbar_t = kappa * zbar_{t-1} + z_t``.

Homeostasis keeps hidden neurons alive: each neuron's bias drifts toward a target firing rate,
``b += eta_h * (target_rate - rate_ema)``, a local rule outside the policy gradient.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from gymnasium import spaces
from torch import nn

from tracerl.agents.encoders import make_encoder, observation_kind
from tracerl.agents.neurons import RESETS
from tracerl.agents.ranges import check_ranges
from tracerl.agents.conv import ConvLayer
from tracerl.agents.layer import SpikingLayer
from tracerl.agents.policy import Policy, per_lifetime

NEURONS = ("lif", "alif")
FEEDBACK = ("symmetric", "random", "chain")
FRONTENDS = ("auto", "conv", "dense")
CRITIC_READS = ("last", "all")
# The readout's time constant, ticks, when none is given: a picture's action follows this frame
# (Breakout 200k, +0.96 over 5 ticks, docs/images.md); features keep the slower one.
TAU_OUT_PICTURE, TAU_OUT_FEATURES = 1.5, 5.0
# A picture's dense layer starts from random fields this smooth (cells): a neuron then reads where a thing
# is, not which cell it lit. Pong from pixels at 1M, median of 5: 0.73 -> 0.88 (docs/images.md).
SMOOTH_PICTURE = 2.0


def smooth_fields(w: torch.Tensor, shape: tuple[int, int, int], sigma: float) -> torch.Tensor:
    """Each neuron's weights over a (C, H, W) picture, ``w`` (N, size, C*H*W), blurred per channel by a
    Gaussian of width ``sigma`` cells (zero outside the picture), each neuron's norm kept."""
    n, size, _ = w.shape
    r = max(1, math.ceil(3 * sigma))
    g = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=w.dtype) / sigma) ** 2)
    g = g / g.sum()
    c, h, wd = shape
    f = w.reshape(n * size * c, 1, h, wd)
    f = nn.functional.conv2d(f, g.view(1, 1, -1, 1), padding=(r, 0))
    f = nn.functional.conv2d(f, g.view(1, 1, 1, -1), padding=(0, r)).reshape(n, size, -1)
    return f * (w.norm(dim=2, keepdim=True) / f.norm(dim=2, keepdim=True).clamp_min(1e-12))


def conv_stack(channels, kernel, stride) -> list[tuple[int, int, int]]:
    """(channels, kernel, stride) of each convolution: lists give one per entry, an int is used for each."""
    lists = [v for v in (channels, kernel, stride) if isinstance(v, (list, tuple))]
    depth = len(lists[0]) if lists else 1
    if any(len(v) != depth for v in lists) or depth == 0:
        raise ValueError(f"conv_channels {channels!r}, conv_kernel {kernel!r} and conv_stride {stride!r} name different "
                         f"numbers of convolutions; allowed: ints, or lists of one length")
    each = lambda v: list(v) if isinstance(v, (list, tuple)) else [v] * depth  # noqa: E731
    return list(zip(each(channels), each(kernel), each(stride)))


class SpikingPolicy(Policy):
    """A spiking policy for a Discrete action space, over N independent lifetimes.

    Args:
        observation_space, action_space: one environment's spaces (Box, Discrete).
        hidden: size of each hidden layer, an int or a list (default one layer of 128).
        n: lifetimes in the batch; seed: lifetime i is seeded ``seed + i`` (or a list of seeds).
        neuron: "lif" or "alif"; recurrent: add recurrent weights in every hidden layer.
        reset: what a spike does to the potential: "subtract" theta (the default) or set it to "zero"
            (what NIR can express, :mod:`tracerl.agents.nirgraph`); see :mod:`tracerl.agents.neurons`.
        ticks: network ticks K per environment step.
        tau_mem, tau_out, tau_adapt: time constants in ticks (membrane, readout, ALIF threshold).
            tau_out None: ``TAU_OUT_PICTURE`` where the encoder keeps a picture (the action follows this
            frame, not a blend with the last: MinAtar at 1M, median of 5, Breakout 4.82 against 3.81
            with 5, Space Invaders 13.68 against 12.56; docs/images.md), else ``TAU_OUT_FEATURES``.
        conv_tau_mem: the convolution's own membrane time constant (None: ``tau_mem``), for a front end
            that forgets faster than the layers behind it (Breakout 200k at 3: no gain).
        beta: ALIF threshold rise per spike; gamma_pd: height of the pseudo-derivative.
        encoder: "auto" (by what the observation is), "normalize", "population", "spikes" (0/1 grids),
            "pixels" (integer images) or "events" (ON / OFF events alone); see :mod:`tracerl.agents.encoders`.
        frontend: "auto" (a spiking convolution for a 0/1 grid, such as MinAtar's; the picture flattened
            into the first dense layer for an integer image, and features always dense), "conv" or
            "dense". An image's default is dense by measurement: Pong from its pixels at 1M, median of 5,
            0.73 with the dense layer against 0.27 with the convolution (docs/images.md).
        conv_channels, conv_kernel, conv_stride: the convolution's kernels, their side and their step
            (4 and 2: MinAtar's 10 x 10 becomes 4 x 4 positions, each seeing 4 x 4 cells). A list in any
            of them stacks one convolution per entry (an int is used for each), e.g. channels [16, 32],
            kernel [4, 2], stride [2, 1]: the second reads the first's spikes on its 4 x 4 grid.
        frontend_learn: False keeps the convolutions' kernels as they started (a fixed random front end).
        feedback: "symmetric" (B = W_out^T for the last hidden layer) or "random" (fixed random B);
            layers below the last then get fixed random feedback. "chain": the last as "symmetric", and
            each layer below gets the signal of the layer above carried back through that layer's input
            weights and this step's mean pseudo-derivatives, ``L_l = W_{l+1}^T (psi_{l+1} L_{l+1})`` (one
            step of backpropagation between layers; none through time).
        input_scale: input weights start ~ N(0, input_scale^2 / in_dim); None: 3 where the encoder gives a
            picture of 0/1 cells, mostly zero (grids, images and their events), else 1.
        out_scale: readout weights start ~ N(0, out_scale^2 / hidden).
        target_rate, homeostasis: target spikes per tick and the bias step that keeps neurons near it.
        temperature: T of the softmax.
        temperature_start: None (T stays at ``temperature``) or where T starts, per lifetime; the
            learner lowers it toward ``temperature`` as the reward rate rises (ProgressSchedule).
        critic_reads: what a critic reads of the network besides the encoded input (``features``): the
            "last" hidden layer's filtered spikes, or "all" hidden layers' (the convolution's spike
            rates of this step too: local, nonlinear features of the picture).
        input_smooth: for a picture on the dense front end, the first layer's input weights start as
            random fields smoothed over the picture by a Gaussian of this width (cells; 0: independent
            draws), so that a neuron answers alike to an object a cell or two apart; None: 2 there
            (SMOOTH_PICTURE), 0 where it does not apply.
        readout_skip: the readout also reads the encoded input x (a direct path, as reservoir readouts
            have): ``y_t = kappa y_{t-1} + W_out z_t + W_skip x + b_out``, W_skip starting at zero, so
            the network starts as without it; its eligibility is exact like the readout's.
    """

    READOUT = ("w_out", "b_out")

    def __init__(self, observation_space: spaces.Box, action_space: spaces.Discrete,
                 hidden: int | Sequence[int] = 128, n: int = 1, seed: int | Sequence[int] = 0,
                 neuron: str = "lif", recurrent: bool = False, ticks: int = 4, tau_mem: float = 10.0,
                 tau_out: float | None = None, tau_adapt: float = 100.0, beta: float = 0.2, gamma_pd: float = 0.3,
                 encoder: str = "auto", feedback: str = "symmetric", input_scale: float | None = None,
                 out_scale: float = 0.1, target_rate: float = 0.05, homeostasis: float = 1e-3,
                 temperature: float = 1.0, encoder_kwargs: dict | None = None, frontend: str = "auto",
                 conv_channels: int | Sequence[int] = 16, conv_kernel: int | Sequence[int] = 4,
                 conv_stride: int | Sequence[int] = 2,
                 frontend_learn: bool = True, reset: str = "subtract", temperature_start: float | None = None,
                 conv_tau_mem: float | None = None, critic_reads: str = "last", readout_skip: bool = False,
                 input_smooth: float | None = None):
        super().__init__(observation_space, action_space, n, seed, temperature, temperature_start)
        if neuron not in NEURONS:
            raise ValueError(f"unknown neuron {neuron!r}; allowed: {', '.join(map(repr, NEURONS))}")
        if feedback not in FEEDBACK:
            raise ValueError(f"unknown feedback {feedback!r}; allowed: {', '.join(map(repr, FEEDBACK))}")
        if reset not in RESETS:
            raise ValueError(f"unknown reset {reset!r}; allowed: {', '.join(map(repr, RESETS))}")
        if critic_reads not in CRITIC_READS:
            raise ValueError(f"unknown critic_reads {critic_reads!r}; allowed: {', '.join(map(repr, CRITIC_READS))}")
        if frontend not in FRONTENDS:
            raise ValueError(f"unknown frontend {frontend!r}; allowed: {', '.join(map(repr, FRONTENDS))}")
        sizes = [s for s in ([hidden] if isinstance(hidden, int) else list(hidden)) if s]
        self.config = dict(hidden=sizes, neuron=neuron, recurrent=recurrent, ticks=ticks, tau_mem=tau_mem,
                           tau_out=tau_out, tau_adapt=tau_adapt, beta=beta, gamma_pd=gamma_pd, encoder=encoder,
                           feedback=feedback, input_scale=input_scale, out_scale=out_scale,
                           target_rate=target_rate, homeostasis=homeostasis, temperature=temperature,
                           frontend=frontend, conv_channels=conv_channels, conv_kernel=conv_kernel,
                           conv_stride=conv_stride, frontend_learn=frontend_learn, reset=reset,
                           temperature_start=temperature_start, conv_tau_mem=conv_tau_mem,
                           critic_reads=critic_reads, readout_skip=readout_skip,
                           input_smooth=input_smooth)
        check_ranges(self.config)
        self.ticks, self.feedback, self.critic_reads, self.skip = ticks, feedback, critic_reads, readout_skip
        self.target_rate, self.homeostasis = target_rate, homeostasis
        self.encoder_kwargs = dict(encoder_kwargs or {})  # kept for an export (agents/nirgraph.py)
        self.encoder = make_encoder(encoder, n, observation_space, **self.encoder_kwargs)
        self.config["encoder"] = self.encoder.name
        picture = self.encoder.out_shape
        if tau_out is None:
            tau_out = TAU_OUT_PICTURE if picture is not None else TAU_OUT_FEATURES
        self.config["tau_out"] = tau_out
        self.kappa = math.exp(-1.0 / tau_out)
        if input_scale is None:
            # A picture's inputs are sparse: weights drawn for unit-variance inputs barely drive the
            # neurons. Breakout 200k, median of 5: scale 3 3.9 (1.5 on a re-run), scale 1 1.5 (docs/images.md).
            input_scale = 3.0 if picture is not None else 1.0
        self.config["input_scale"] = input_scale
        if frontend == "conv" and picture is None:
            raise ValueError(f"frontend 'conv' needs an encoder that keeps a picture (a grid or an image); "
                             f"observation shape {self.obs_shape} went to a flat encoder")
        self.conv = picture is not None and (frontend == "conv" or (
            frontend == "auto" and observation_kind(observation_space) == "spikes"))
        self.config["frontend"] = "conv" if self.conv else "dense"
        layers = []
        if self.conv:
            conv_tau = tau_mem if conv_tau_mem is None else conv_tau_mem
            shape = picture
            for j, (c, k, s) in enumerate(conv_stack(conv_channels, conv_kernel, conv_stride)):
                layers.append(ConvLayer(n, shape, c, k, s, neuron, self.kappa, conv_tau, tau_adapt, beta, gamma_pd,
                                        input_scale, self.seeds, salt=10 * j, reset=reset))
                shape = (c, *layers[-1].out_hw)
        elif not sizes:
            raise ValueError("hidden must name at least one layer size without a convolutional front end")
        dims = [layers[-1].size if layers else self.encoder.out_dim] + sizes
        layers += [SpikingLayer(n, dims[i], dims[i + 1], neuron, recurrent, self.kappa, tau_mem, tau_adapt, beta,
                                gamma_pd, input_scale, self.seeds, salt=10 * (i + len(layers)), reset=reset)
                   for i in range(len(sizes))]
        self.layers = nn.ModuleList(layers)
        self.dense_picture = dense_picture = picture is not None and not self.conv
        if input_smooth is None:
            input_smooth = SMOOTH_PICTURE if dense_picture else 0.0
        self.config["input_smooth"] = input_smooth
        if input_smooth and dense_picture:
            w = layers[0].w_in
            w.copy_(smooth_fields(w, picture, input_smooth))
        for layer in layers:
            if isinstance(layer, ConvLayer):
                layer.learn = frontend_learn  # False: the kernels stay as drawn, and no eligibility is kept
        sizes = [layer.size for layer in layers]
        h, a = sizes[-1], self.n_actions
        ostd = out_scale / math.sqrt(h)
        self.register_buffer("w_out", per_lifetime(self.seeds, 7, lambda g: torch.randn(a, h, generator=g) * ostd))
        if readout_skip:  # W_skip sits beside W_out as its last columns, starting at zero
            self.w_out = torch.cat([self.w_out, torch.zeros(n, a, self.encoder.out_dim)], dim=2)
        self.hidden_out = h  # the readout's columns that read the last hidden layer
        self.register_buffer("b_out", torch.zeros(n, a))
        self.register_buffer("y", torch.zeros(n, a))
        self.register_buffer("zbar", torch.zeros(n, self.w_out.shape[2]))  # kappa-filtered last-layer spikes [, x]
        self.register_buffer("bbar", torch.zeros(n, 1))  # kappa-filtered constant 1 (the bias' eligibility)
        self.register_buffer("x", torch.zeros(n, self.encoder.out_dim))  # this step's encoded observation
        self.register_buffer("_tick_weights", self.kappa ** torch.arange(ticks - 1, -1, -1, dtype=torch.float32),
                             persistent=False)  # kappa^(K-k), k = 1..K
        self._tick_sum = sum(self.kappa ** k for k in range(ticks))
        self.register_buffer("spikes", torch.zeros(ticks, n, h), persistent=False)  # (K, N, H) last step
        if feedback == "chain":
            for layer in layers[1:]:
                layer.keep_pseudo_derivative()
        for i, size in enumerate(sizes):  # fixed random feedback, used by every layer it applies to
            fb = per_lifetime(self.seeds, 100 + i, lambda g, s=size: torch.randn(s, a, generator=g) / math.sqrt(a))
            self.register_buffer(f"feedback_{i}", fb)

    def _forward(self, obs: torch.Tensor) -> torch.Tensor:
        u = self.encoder(obs)
        self.x.copy_(u.flatten(1))
        if not self.conv:
            u = u.flatten(1)
        for i, layer in enumerate(self.layers):  # layer by layer, all K ticks each: the layers feed forward
            u = layer(u, self.ticks, const=i == 0)
        self.spikes.copy_(u.detach())  # the last hidden layer's spikes of this step's ticks, for display
        # The readout over the K ticks, folded: with S = sum_k kappa^(K-k) z_k and c = sum_k kappa^(K-k),
        # y_K = kappa^K y_0 + W_out S + c b_out, zbar_K = kappa^K zbar_0 + S, bbar_K = kappa^K bbar_0 + c.
        decay = self.kappa ** self.ticks
        s = (self._tick_weights[:, None, None] * u).sum(0)
        c = self._tick_sum
        if self.skip:  # x is held over the K ticks: its share of S is c x
            s = torch.cat([s, c * self.x], dim=1)
        self.zbar.mul_(decay).add_(s.detach())
        self.bbar.mul_(decay).add_(c)
        self.y.mul_(decay).add_((self.w_out * s[:, None, :]).sum(-1) + c * self.b_out)
        if self.homeostasis:
            for layer in self.layers:
                layer.rate_ema.mul_(0.99).add_(layer.rate, alpha=0.01)
                layer.bias.add_(self.target_rate - layer.rate_ema, alpha=self.homeostasis)
        return self.y

    def local_grads(self, dy: torch.Tensor) -> dict[str, torch.Tensor]:
        grads = {"w_out": dy[:, :, None] * self.zbar[:, None, :], "b_out": dy * self.bbar}
        random = lambda i: (getattr(self, f"feedback_{i}") * dy[:, None, :]).sum(-1)  # noqa: E731
        top = (random(len(self.layers) - 1) if self.feedback == "random" else
               (self.w_out[:, :, :self.hidden_out] * dy[:, :, None]).sum(1))
        below = self._carry if self.feedback == "chain" else lambda i, signal: random(i)
        grads.update(self._hidden_grads(top, below))
        return grads

    def feature_grads(self, dphi: torch.Tensor) -> dict[str, torch.Tensor]:
        """A critic's cotangent on ``features()`` sent into the network. The features' first block is
        ``(1 - kappa) zbar`` of the last hidden layer, filtered as the readout is, so its neurons get
        the learning signal ``L = (1 - kappa) dphi[:H]`` on their own eligibility, as the actor's ``B dy``;
        with ``feedback="chain"`` the layers below get it carried back as the actor's, else nothing
        (the other feature blocks, the input and the rates of the layers below, are read as given)."""
        top = dphi[:, :self.hidden_out] * (1.0 - self.kappa)
        return self._hidden_grads(top, self._carry if self.feedback == "chain" else None)

    def _hidden_grads(self, signal: torch.Tensor, below) -> dict[str, torch.Tensor]:
        """The hidden layers' e-prop gradients for learning signals sent from the top: the last layer gets
        ``signal``, each layer i below it ``below(i, signal of layer i + 1)`` (``below`` None: none below)."""
        grads = {}
        for i in range(len(self.layers) - 1, -1, -1):
            if not any(layer.learn for layer in self.layers[:i + 1]):
                break  # nothing here or below learns (a frozen front end): no signal to compute
            if i < len(self.layers) - 1:
                if below is None:
                    break
                signal = below(i, signal)
            if self.layers[i].learn:
                for k, g in self.layers[i].local_grads(signal).items():
                    grads[f"layers.{i}.{k}"] = g
        return grads

    def _carry(self, i: int, signal: torch.Tensor) -> torch.Tensor:
        """``feedback="chain"``: layer i + 1's signal carried back through its input weights and this
        step's mean pseudo-derivatives, ``L_i = W_{i+1}^T (psi_{i+1} L_{i+1})``."""
        above = self.layers[i + 1]
        return above.feed_back(signal * above.psi_mean)

    def standin_logits(self, u: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
        """A one-step, rate-based stand-in of the network (the reflect learner differentiates it).

        For an input held at u (the encoded observation), a LIF neuron with current I fires about
        ``r = softclip((I - I_0) / theta)`` spikes per tick, I_0 = theta (1 - alpha) / 2 (half its
        rheobase), softclip a smooth clamp to [0, 1]; recurrent input uses the layer's observed
        rate; the readout settles at ``y = (W_out r + b_out) / (1 - kappa)``. ALIF adaptation is
        left out. ``w`` maps the names of ``weights()`` to tensors (leaves that require grad).
        """
        softclip = lambda x: (torch.nn.functional.softplus(10 * x) - torch.nn.functional.softplus(10 * (x - 1))) / 10  # noqa: E731
        x = u  # the flat encoded observation, which readout_skip's direct path reads
        if self.conv:  # u is the flat encoded observation (``x``); the convolution reads it as the picture
            u = u.reshape(u.shape[0], *self.encoder.out_shape)
        for i, layer in enumerate(self.layers):
            current = layer.drive(u, w.get(f"layers.{i}.w_in", layer.w_in)) + layer.bias
            if layer.recurrent:
                current = current + (w[f"layers.{i}.w_rec"] * layer.rate_ema[:, None, :]).sum(-1)
            theta = layer.p.theta
            u = softclip((current - theta * (1 - layer.p.alpha) / 2) / theta)
        if self.skip:
            u = torch.cat([u, x], dim=1)
        return ((w["w_out"] * u[:, None, :]).sum(-1) + w["b_out"]) / (1 - self.kappa)

    def weights(self) -> dict[str, torch.Tensor]:
        w = {"w_out": self.w_out, "b_out": self.b_out}
        for i, layer in enumerate(self.layers):
            if layer.learn:
                for k, t in layer.weights().items():
                    w[f"layers.{i}.{k}"] = t
        return w

    def shared_weights(self) -> tuple[str, ...]:
        """The weights shared across positions (the convolution's kernels), which learners bound apart."""
        return tuple(f"layers.{i}.w_in" for i, layer in enumerate(self.layers) if isinstance(layer, ConvLayer) and layer.learn)

    def features(self) -> torch.Tensor:
        """Critic features: the readout's filtered spikes (scaled to about a rate), [the spike rates of
        the layers below it, ``critic_reads="all"``], x, and 1."""
        below = [layer.rate for layer in self._critic_layers()]
        zbar = self.zbar[:, :self.hidden_out]  # the critic reads x itself, not its filtered copy
        return torch.cat([zbar * (1.0 - self.kappa), *below, self.x, torch.ones(self.n, 1)], dim=1)

    @property
    def feature_dim(self) -> int:
        below = sum(layer.size for layer in self._critic_layers())
        return self.hidden_out + below + self.x.shape[1] + 1

    def _critic_layers(self) -> list:
        """The layers below the last whose spike rates the critic reads (none unless ``critic_reads="all"``)."""
        return list(self.layers[:-1]) if self.critic_reads == "all" else []

    def _reset_lifetimes(self, mask: torch.Tensor) -> None:
        for layer in self.layers:
            layer.reset_state(mask)
        for t in (self.y, self.zbar, self.bbar):
            t.masked_fill_(mask[:, None], 0.0)
        self.encoder.reset_lifetimes(mask)

    def freeze(self) -> "SpikingPolicy":
        self.homeostasis = 0.0
        return super().freeze()

    def stats(self) -> dict[str, torch.Tensor]:
        out = super().stats()
        for i, layer in enumerate(self.layers):
            out[f"firing_rate/layer{i}"] = layer.rate.mean(1)
            out[f"dead_fraction/layer{i}"] = (layer.rate_ema < 1e-3).float().mean(1)
        return out
