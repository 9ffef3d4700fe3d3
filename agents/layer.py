"""A dense spiking layer: LIF / ALIF neurons with input (and optional recurrent) weights, and the
e-prop eligibility traces of every weight, for N lifetimes at once.

Per tick, with input u (the encoded observation, or the spikes of the layer below)::

    I_t = W_in u_t + W_rec z_{t-1} + b
    z_t, state = neuron_step(I_t, state)                 (tracerl.agents.neurons)
    xbar_t = alpha * xbar_{t-1} + u_t                    presynaptic trace, the neuron's own leak
    e_t    = psi_t * xbar_t                              (ALIF: psi_t * (xbar_t - beta * eps_t),
                                                          eps_{t+1} = rho * eps_t + e_t)
    ebar_t = kappa * ebar_{t-1} + e_t                    filtered like the policy's readout

so that a learning signal L (N, size) gives the weight update direction ``L[j] * ebar[j, i]``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tracerl.agents import neurons
from tracerl.agents.policy import per_lifetime


class SpikingLayer(nn.Module):
    """N lifetimes of one dense hidden layer: weights, neuron state and e-prop eligibility traces.

    What is particular to dense input weights is in four small methods (``_init_input``, ``drive``,
    ``_post`` / ``_pre`` and ``_input_grad``); :class:`tracerl.agents.conv.ConvLayer` overrides them
    for shared convolutional weights and keeps the rest (neurons, ticks, traces, reset).
    """

    def __init__(self, n: int, in_dim: int, size: int, neuron: str, recurrent: bool, kappa: float,
                 tau_mem: float, tau_adapt: float, beta: float, gamma_pd: float, input_scale: float,
                 seeds: list[int], salt: int, reset: str = "subtract"):
        super().__init__()
        self.neuron, self.recurrent, self.kappa, self.size = neuron, recurrent, kappa, size
        self.learn = True  # False: the input weights are fixed, and their eligibility is not kept
        self.keep_psi = False  # True (keep_pseudo_derivative): psi_mean holds this step's mean psi
        if neuron == "lif":
            self.p = neurons.LIFParams.from_tau(tau_mem, gamma_pd=gamma_pd, reset=reset)
        else:
            self.p = neurons.ALIFParams.from_tau(tau_mem, tau_adapt, beta=beta, gamma_pd=gamma_pd, reset=reset)
        self._init_input(n, in_dim, input_scale, seeds, salt)
        self.register_buffer("bias", torch.zeros(n, size))
        self.register_buffer("v", torch.zeros(n, size))
        self.register_buffer("z", torch.zeros(n, size))
        self.register_buffer("a", torch.zeros(n, size))  # ALIF adaptation (unused by LIF)
        self.register_buffer("rate", torch.zeros(n, size))  # spikes per tick in the last env step
        self.register_buffer("rate_ema", torch.full((n, size), 0.05))
        if recurrent:
            rstd = 0.5 / math.sqrt(size)
            self.register_buffer("w_rec", per_lifetime(seeds, salt + 1, lambda g: torch.randn(size, size, generator=g) * rstd))
            self.register_buffer("xbar_rec", torch.zeros(n, size))
            self.register_buffer("ebar_rec", torch.zeros(n, size, size))
            self.register_buffer("eps_rec", torch.zeros(n, size, size) if neuron == "alif" else torch.zeros(0))

    # -- what is particular to the input weights (dense here) ------------------------------------
    def _init_input(self, n: int, in_dim: int, input_scale: float, seeds: list[int], salt: int) -> None:
        """w_in (N, size, in_dim) ~ N(0, input_scale^2 / in_dim); its traces xbar_in and ebar_in."""
        std = input_scale / math.sqrt(in_dim)
        size = self.size
        self.register_buffer("w_in", per_lifetime(seeds, salt, lambda g: torch.randn(size, in_dim, generator=g) * std))
        self.register_buffer("xbar_in", torch.zeros(n, in_dim))
        self.register_buffer("ebar_in", torch.zeros(n, size, in_dim))
        self.register_buffer("eps_in", torch.zeros(n, size, in_dim) if self.neuron == "alif" else torch.zeros(0))

    def drive(self, u: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """The input current W_in u (or ``w`` u), (N, size)."""
        return ((self.w_in if w is None else w) * u[:, None, :]).sum(-1)

    def _post(self, a: torch.Tensor) -> torch.Tensor:
        """A per-neuron (N, size) tensor, broadcastable against ``ebar_in``."""
        return a[:, :, None]

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        """A per-input tensor (shaped like ``xbar_in``), broadcastable against ``ebar_in``."""
        return x[:, None, :]

    def _input_grad(self, signal: torch.Tensor) -> torch.Tensor:
        """``sum over the synapses that share a weight of L[j] * ebar[j, i]``, shaped like w_in."""
        return signal[:, :, None] * self.ebar_in

    def feed_back(self, g: torch.Tensor) -> torch.Tensor:
        """``W_in^T g``: a signal g on this layer's currents (N, size) carried to its inputs (N, in_dim)."""
        return torch.bmm(g[:, None, :], self.w_in)[:, 0]

    # -- the rest is the same for every layer ------------------------------------------------------
    def keep_pseudo_derivative(self) -> None:
        """Keep each neuron's pseudo-derivative averaged over the step's ticks (``psi_mean``, (N, size)),
        for a signal carried through this layer to the one below (``feedback="chain"``)."""
        self.keep_psi = True
        self.register_buffer("psi_mean", torch.zeros_like(self.v))

    def weights(self) -> dict[str, torch.Tensor]:
        return {"w_in": self.w_in, "w_rec": self.w_rec} if self.recurrent else {"w_in": self.w_in}

    def _eligibility(self, psi: torch.Tensor, pre: torch.Tensor, ebar: torch.Tensor, eps: torch.Tensor,
                     post) -> None:
        """ebar <- kappa ebar + e_t in place (ALIF: and eps <- rho eps + e_t); ``pre`` is xbar already
        broadcast against ebar, ``post`` broadcasts psi."""
        if self.neuron == "alif":
            e = post(psi) * (pre - self.p.beta * eps)
            eps.mul_(self.p.rho).add_(e)
        else:
            e = post(psi) * pre
        ebar.mul_(self.kappa).add_(e)

    def forward(self, u: torch.Tensor, ticks: int, const: bool) -> torch.Tensor:
        """Run ``ticks`` ticks; returns the spikes (ticks, N, size).

        ``u`` is either one input (``const``: shaped like ``xbar_in`` with the batch first) held
        constant over the ticks (the first layer: the encoded observation) or a sequence (ticks, N,
        in_dim) (a deeper layer: spikes below). With a constant input, W_in u is computed once, and
        for LIF neurons the K per-tick eligibility updates fold into two outer products per step.
        With ``xbar_k = alpha^k xbar_0 + c_k u`` and ``c_k = (1 - alpha^k) / (1 - alpha)``::

            ebar_K = kappa^K ebar_0 + (sum_k kappa^(K-k) alpha^k psi_k) (x) xbar_0
                                    + (sum_k kappa^(K-k) c_k psi_k) (x) u

        With a sequence, LIF neurons fold the K updates into one pass over ebar,
        ``ebar_K = kappa^K ebar_0 + sum_k (kappa^(K-k) psi_k) (x) xbar_k``.
        """
        lif = self.neuron == "lif"
        alpha, kappa = self.p.alpha, self.kappa
        dense_post = lambda a: a[:, :, None]  # noqa: E731  (recurrent weights are always dense)
        if const:
            i_ff = self.drive(u) + self.bias
            xbar0 = self.xbar_in.clone()
            p_acc = torch.zeros_like(self.v)
            q_acc = torch.zeros_like(self.v)
        else:
            psis, xbars = [], []
        spikes, psi_sum = [], 0.0
        for k in range(1, ticks + 1):
            current = i_ff if const else self.drive(u[k - 1]) + self.bias
            z_prev = self.z.clone()
            if self.recurrent:
                current = current + (self.w_rec * z_prev[:, None, :]).sum(-1)
            if lif:
                z, st = neurons.lif_step(current, neurons.LIFState(self.v, self.z), self.p)
                psi = neurons.lif_pseudo_derivative(st, self.p)
            else:
                z, st = neurons.alif_step(current, neurons.ALIFState(self.v, self.z, self.a), self.p)
                psi = neurons.alif_pseudo_derivative(st, self.p)
                self.a.copy_(st.a)
            self.v.copy_(st.v)
            self.z.copy_(z)
            psi = psi.detach()  # eligibility traces never carry an autograd graph (bptt may record the rest)
            if self.keep_psi:
                psi_sum = psi_sum + psi
            if not self.learn:  # fixed input weights: no eligibility to keep
                pass
            elif lif and const:
                p_acc = p_acc + (kappa ** (ticks - k) * alpha ** k) * psi
                q_acc = q_acc + (kappa ** (ticks - k) * (1 - alpha ** k) / (1 - alpha)) * psi
            else:
                self.xbar_in.mul_(alpha).add_((u if const else u[k - 1]).detach())
                if lif:
                    psis.append(kappa ** (ticks - k) * psi)
                    xbars.append(self.xbar_in.clone())
                else:
                    self._eligibility(psi, self._pre(self.xbar_in), self.ebar_in, self.eps_in, self._post)
            if self.recurrent:
                self.xbar_rec.mul_(alpha).add_(z_prev.detach())
                self._eligibility(psi, self.xbar_rec[:, None, :], self.ebar_rec, self.eps_rec, dense_post)
            spikes.append(z)
        if not self.learn:
            pass
        elif lif and const:
            ud = u.detach()
            self.ebar_in.mul_(kappa ** ticks).add_(self._post(p_acc) * self._pre(xbar0) + self._post(q_acc) * self._pre(ud))
            self.xbar_in.mul_(alpha ** ticks).add_(ud, alpha=(1 - alpha ** ticks) / (1 - alpha))
        elif lif:
            # one fused pass over ebar (a batched matmul over K = 4 ticks compiles to far slower code)
            acc = self._post(psis[0]) * self._pre(xbars[0])
            for psi_k, xbar_k in zip(psis[1:], xbars[1:]):
                acc = acc + self._post(psi_k) * self._pre(xbar_k)
            self.ebar_in.mul_(kappa ** ticks).add_(acc)
        zs = torch.stack(spikes)
        self.rate.copy_(zs.detach().mean(0))
        if self.keep_psi:
            self.psi_mean.copy_(psi_sum / ticks)
        return zs

    def local_grads(self, signal: torch.Tensor) -> dict[str, torch.Tensor]:
        """``L[j] * ebar[j, i]`` for a learning signal L (N, size)."""
        g = {"w_in": self._input_grad(signal)}
        if self.recurrent:
            g["w_rec"] = signal[:, :, None] * self.ebar_rec
        return g

    def reset_state(self, mask: torch.Tensor) -> None:
        for name in ("v", "z", "a", "xbar_in", "ebar_in", "eps_in", "xbar_rec", "ebar_rec", "eps_rec"):
            t = getattr(self, name, None)
            if t is not None and t.numel():
                t.masked_fill_(mask.view(-1, *([1] * (t.dim() - 1))), 0.0)
