"""A learned lifetime as a NIR graph (the Neuromorphic Intermediate Representation), and back.

    graph, notes = to_nir(agent, lifetime=0, env_id="tracerl/Pong-v0")   # notes: approximations made
    nir.write("policy.nir", graph)
    player = NIRPolicy(nir.read("policy.nir"))       # tracerl's own importer: plays the graph
    action = player.act(obs)                         # encodes obs as the metadata says, K ticks, samples pi

NIR (``pip install -e ".[nir]"``) is what snnTorch, Norse, Sinabs, Rockpool, Lava-DL, Nengo and
Spyx read, and through them neuromorphic chips. Its neurons are continuous-time::

    LIF:  tau dv/dt = (v_leak - v) + r I,  spike when v > v_threshold, then v = v_reset
    LI:   tau dv/dt = (v_leak - v) + r I

and an importer steps them with forward Euler at a dt of its own, ``v <- (1 - dt/tau) v + (r dt/tau) I``.
A discrete leak alpha per tick is therefore ``tau = dt / (1 - alpha)`` with ``r = tau / dt`` (an
input gain of 1), at ``dt = DT`` (1e-4 s, the dt snnTorch's importer assumes; the graph's metadata
says it). The graph, from the encoded observation to the logits::

    input -> Affine(W_in, b) -> LIF [-> Linear(W_rec) -> back into the LIF: a cycle, one tick late]
          -> ... -> Affine(W_out, b_out) -> LI(kappa) -> output
    [input -> Linear(W_skip) -> the same LI: ``readout_skip``'s direct path]

The biases are the homeostatic ones as they stand (frozen), the convolution is its dense
(Toeplitz) matrix (its biases are per position, which NIR's Conv2d cannot hold). What NIR has no
node for is metadata: the encoder (preprocessing: its name, settings and frozen state, enough to
rebuild it), the K ticks per environment step, ``pi = softmax(y / temperature)`` after the last
tick, and the network's state carrying over between steps (reset at an episode's end).

What NIR cannot express: adaptive thresholds (ALIF) are refused; reset by subtraction (tracerl's
default) is exported as reset to zero, named in ``notes`` and in the metadata ("approximations"),
so such a graph's spikes differ from the checkpoint's. Train with ``reset="zero"`` for an exact
export.
"""

from __future__ import annotations

import json

import nir
import numpy as np
import torch
from gymnasium import spaces

from tracerl.agents.encoders import make_encoder
from tracerl.agents.policy import Policy

DT = 1e-4  # seconds per tick in the exported graph (snnTorch's importer assumes it)
FORMAT = 1  # the metadata's layout


def _lif(alpha: float, theta: float, size: int) -> nir.LIF:
    tau = np.full(size, DT / (1.0 - alpha))
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(size), v_threshold=np.full(size, theta),
                   v_reset=np.zeros(size))


def _dense_input(layer, k: int) -> np.ndarray:
    """Lifetime k's input weights as a (size, in_dim) matrix: a dense layer's own, or a convolution's
    Toeplitz matrix (its drive applied to every unit input)."""
    w = layer.w_in[k:k + 1]
    if not hasattr(layer, "in_shape"):
        return w[0].numpy().astype(np.float32)
    in_dim = int(np.prod(layer.in_shape))
    basis = torch.eye(in_dim).reshape(in_dim, *layer.in_shape)
    return layer.drive(basis, w.expand(in_dim, *w.shape[1:])).T.contiguous().numpy().astype(np.float32)


def to_nir(agent, lifetime: int = 0, env_id: str = "") -> tuple[nir.NIRGraph, list[str]]:
    """Lifetime ``lifetime`` of a :class:`~tracerl.agents.spiking.SpikingPolicy` as a NIR graph.

    Returns the graph and the approximations made (empty when it is exact). Raises ValueError, one
    line, for what NIR cannot express at all.
    """
    from tracerl.agents.spiking import SpikingPolicy  # here: spiking imports nothing of this module

    if not isinstance(agent, SpikingPolicy):
        raise ValueError(f"only a spiking policy has a NIR form; got agent {type(agent).__name__}")
    if not 0 <= lifetime < agent.n:
        raise ValueError(f"lifetime {lifetime} is not a lifetime of this agent; allowed: 0 to {agent.n - 1}")
    cfg, k = agent.config, lifetime
    if cfg["neuron"] != "lif":
        raise ValueError(f"neuron {cfg['neuron']!r} has an adaptive threshold that NIR's LIF cannot express; "
                         f"export needs neuron 'lif'")
    notes = []
    if cfg["reset"] != "zero":
        notes.append(f"reset {cfg['reset']!r} exported as reset to zero (NIR's LIF resets to v_reset): the graph's "
                     f"spikes differ from the checkpoint's; train with reset=zero for an exact export")
    nodes = {"input": nir.Input(input_type={"input": np.array([agent.encoder.out_dim])})}
    edges, last = [], "input"
    for i, layer in enumerate(agent.layers):
        affine, lif = f"layer{i}.affine", f"layer{i}.lif"
        nodes[affine] = nir.Affine(weight=_dense_input(layer, k), bias=layer.bias[k].numpy().astype(np.float32))
        nodes[lif] = _lif(layer.p.alpha, layer.p.theta, layer.size)
        edges += [(last, affine), (affine, lif)]
        if layer.recurrent:
            rec = f"layer{i}.rec"
            nodes[rec] = nir.Linear(weight=layer.w_rec[k].numpy().astype(np.float32))
            edges += [(lif, rec), (rec, lif)]
        last = lif
    a = agent.n_actions
    tau_out = np.full(a, DT / (1.0 - agent.kappa))
    h = agent.hidden_out
    nodes["readout.affine"] = nir.Affine(weight=agent.w_out[k, :, :h].numpy().astype(np.float32),
                                         bias=agent.b_out[k].numpy().astype(np.float32))
    nodes["readout.li"] = nir.LI(tau=tau_out, r=tau_out / DT, v_leak=np.zeros(a))
    nodes["output"] = nir.Output(output_type={"output": np.array([a])})
    edges += [(last, "readout.affine"), ("readout.affine", "readout.li"), ("readout.li", "output")]
    if agent.skip:  # readout_skip: the direct path from the encoded input, W_out's columns past h
        nodes["readout.skip"] = nir.Linear(weight=agent.w_out[k, :, h:].numpy().astype(np.float32))
        edges += [("input", "readout.skip"), ("readout.skip", "readout.li")]

    space = agent.observation_space
    meta = {
        "generator": "tracerl", "format": FORMAT, "dt": DT, "ticks_per_step": agent.ticks,
        "reset": cfg["reset"], "approximations": "; ".join(notes) or "none",
        "temperature": agent.temperature if agent.temp is None else float(agent.temp[k]),  # the lifetime's own T
        "action": "pi = softmax(output / temperature) after the last of ticks_per_step ticks on one encoded "
                  "observation; the state carries over between env steps and is zeroed at an episode's end",
        "env": env_id, "lifetime": k, "seed": agent.seeds[k], "n_actions": a,
        "observation.shape": np.array(space.shape, np.int64), "observation.dtype": str(np.dtype(space.dtype)),
        "observation.low": np.asarray(space.low), "observation.high": np.asarray(space.high),
        "encoder": agent.encoder.name, "encoder.kwargs": json.dumps(agent.encoder_kwargs),
        "encoder.note": "preprocessing, not in the graph: the encoder named, with these settings and this state, "
                        "turns an observation into the graph's input (tracerl.agents.encoders)",
    }
    for name, t in agent.encoder.state_dict().items():
        v = t[k].numpy()
        meta[f"encoder.state.{name}"] = v if v.ndim else v.item()  # NIR's writer compresses arrays: none of 0-d
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta), notes


def schedule(graph: nir.NIRGraph) -> tuple[list[str], set[tuple[str, str]]]:
    """The order to evaluate the nodes in each tick, and the edges that close a cycle (a recurrent
    synapse: its source's value of the last tick is read). Depth-first from the inputs."""
    succ: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for a, b in graph.edges:
        succ[a].append(b)
    state, post, back = {}, [], set()

    def visit(u: str) -> None:
        state[u] = "open"
        for v in succ[u]:
            if state.get(v) == "open":
                back.add((u, v))
            elif v not in state:
                visit(v)
        state[u] = "done"
        post.append(u)

    for name, node in graph.nodes.items():
        if isinstance(node, nir.Input) and name not in state:
            visit(name)
    return post[::-1], back


class NIRPolicy(Policy):
    """Plays a NIR graph written by :func:`to_nir` (tracerl's own importer; no learning).

    Each tick evaluates the nodes in :func:`schedule`'s order; a node's input is the sum of its
    sources' values (this tick's, or the last tick's across a cycle). Supported nodes: Input,
    Affine, Linear, LIF, LI, Output, stepped as NIR's importers do (forward Euler at the metadata's
    dt). The encoder is rebuilt from the metadata. ``act`` / ``pi`` / ``action`` as every policy,
    sampling with the lifetime's own seed; ``spikes`` holds the last hidden layer's spikes of the
    last step, ``x`` the encoded observation (the live window shows both), ``layer_spikes`` every
    LIF node's spikes of the last step by name, (K, N, size).
    """

    SUPPORTED = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.LIF, nir.LI)

    def __init__(self, graph: nir.NIRGraph, n: int = 1, seed: int | None = None):
        meta = graph.metadata
        if meta.get("generator") != "tracerl":
            raise ValueError("not a graph tracerl exported (its metadata names no generator 'tracerl'); "
                             "tracerl plays only its own exports")
        for name, node in graph.nodes.items():
            if not isinstance(node, self.SUPPORTED):
                raise ValueError(f"node {name!r} is a {type(node).__name__}; supported: "
                                 f"{', '.join(t.__name__ for t in self.SUPPORTED)}")
        shape = tuple(int(s) for s in meta["observation.shape"])
        dtype = np.dtype(str(meta["observation.dtype"]))
        space = spaces.Box(np.asarray(meta["observation.low"], dtype).reshape(shape),
                           np.asarray(meta["observation.high"], dtype).reshape(shape), shape, dtype)
        super().__init__(space, spaces.Discrete(int(meta["n_actions"])), n,
                         int(meta["seed"]) if seed is None else seed, float(meta["temperature"]))
        self.graph, self.ticks, self.env_id = graph, int(meta["ticks_per_step"]), str(meta["env"])
        self.encoder = make_encoder(str(meta["encoder"]), n, space, **json.loads(str(meta["encoder.kwargs"])))
        prefix = "encoder.state."
        self.encoder.load_state_dict({key[len(prefix):]: torch.as_tensor(np.asarray(v))[None].repeat(
            n, *([1] * np.ndim(v))) for key, v in meta.items() if key.startswith(prefix)})
        self.order, self.back = schedule(graph)
        self.sources = {name: [(a, (a, name) in self.back) for a, b in graph.edges if b == name]
                        for name in self.order}
        for name in self.order:  # this tick's sources first, then the last tick's, as tracerl sums them
            self.sources[name].sort(key=lambda s: s[1])
        dt = float(meta["dt"])
        self.params, sizes = {}, {}
        for name in self.order:
            node = graph.nodes[name]
            f32 = lambda v: torch.as_tensor(np.asarray(v, np.float64), dtype=torch.float32)  # noqa: E731
            if isinstance(node, (nir.Affine, nir.Linear)):
                bias = node.bias if isinstance(node, nir.Affine) else np.zeros(node.weight.shape[0])
                self.params[name] = (f32(node.weight), f32(bias))
                sizes[name] = node.weight.shape[0]
            elif isinstance(node, (nir.LIF, nir.LI)):
                tau = np.asarray(node.tau, np.float64)
                reset = f32(node.v_reset) if isinstance(node, nir.LIF) else None
                threshold = f32(node.v_threshold) if isinstance(node, nir.LIF) else None
                self.params[name] = (f32(1.0 - dt / tau), f32(np.asarray(node.r) * dt / tau),
                                     f32(dt / tau * np.asarray(node.v_leak)), threshold, reset)
                sizes[name] = tau.shape[0]
        self.lifs = [name for name in self.order if isinstance(graph.nodes[name], nir.LIF)]
        for name in self.lifs + [m for m in self.order if isinstance(graph.nodes[m], nir.LI)]:
            self.register_buffer(f"v_{name.replace('.', '_')}", torch.zeros(n, sizes[name]))
        self.last = {a: torch.zeros(n, sizes[a]) for a, _ in self.back}  # values read one tick late
        self.register_buffer("x", torch.zeros(n, self.encoder.out_dim))
        self.layer_spikes = {name: torch.zeros(self.ticks, n, sizes[name]) for name in self.lifs}
        h = sizes[self.lifs[-1]] if self.lifs else 0
        self.register_buffer("spikes", torch.zeros(self.ticks, n, h), persistent=False)
        self.freeze()

    def _v(self, name: str) -> torch.Tensor:
        return getattr(self, f"v_{name.replace('.', '_')}")

    def run_encoded(self, x: torch.Tensor) -> torch.Tensor:
        """K ticks on one encoded observation x (N, in_dim); returns the output (N, A) after the last."""
        y = None
        for tick in range(self.ticks):
            values = {}
            for name in self.order:
                node = self.graph.nodes[name]
                inputs = [(self.last[a] if late else values[a]) for a, late in self.sources[name]]
                u = x if isinstance(node, nir.Input) else sum(inputs[1:], inputs[0])
                if isinstance(node, (nir.Affine, nir.Linear)):
                    w, b = self.params[name]
                    u = (w * u[:, None, :]).sum(-1) + b
                elif isinstance(node, (nir.LIF, nir.LI)):
                    beta, gain, leak, threshold, reset = self.params[name]
                    v = self._v(name)
                    if isinstance(node, nir.LIF):  # the last tick's spikes reset to v_reset now
                        v.copy_(torch.where(v > threshold, reset, v))
                    v.copy_(beta * v + gain * u + leak)
                    u = (v > threshold).to(v.dtype) if isinstance(node, nir.LIF) else v.clone()
                values[name] = u
                if isinstance(node, nir.Output):
                    y = u
            for a in self.last:
                self.last[a] = values[a]
            for name in self.lifs:
                self.layer_spikes[name][tick] = values[name]
            if self.lifs:
                self.spikes[tick] = values[self.lifs[-1]]
        return y

    def _forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.encoder(obs).flatten(1)
        self.x.copy_(x)
        return self.run_encoded(x)

    def _reset_lifetimes(self, mask: torch.Tensor) -> None:
        for name, t in self.named_buffers():
            if name.startswith("v_"):
                t.masked_fill_(mask[:, None], 0.0)
        for a in self.last:
            self.last[a] = self.last[a].masked_fill(mask[:, None], 0.0)
        self.encoder.reset_lifetimes(mask)
