"""The local traces against autograd through the whole history (issue 3's exactness bars).

A reference LIF network is written here from the equations, tick by tick, with autograd: the spike
is a Heaviside step whose backward is the pseudo-derivative psi, and the reset term is detached.
The agent's folded, per-step traces must give the same gradients.
"""

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from tracerl.agents.spiking import SpikingPolicy
from tracerl.learners.eprop import EProp

T_STEPS, TICKS = 25, 4


class SpikeFn(torch.autograd.Function):
    """z = H(v - theta); backward: psi = gamma/theta * max(0, 1 - |v - theta| / theta)."""

    @staticmethod
    def forward(ctx, v, theta, gamma):
        ctx.save_for_backward(v)
        ctx.theta, ctx.gamma = theta, gamma
        return (v > theta).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        psi = ctx.gamma / ctx.theta * torch.clamp(1 - torch.abs(v - ctx.theta) / ctx.theta, min=0)
        return grad * psi, None, None


def reference_logps(w_in, w_out, b_out, xs, actions, alpha, kappa, theta, gamma_pd, temperature):
    """log pi_t(a_t) for t = 1..T, tick by tick, differentiable in the weights."""
    n, h = w_in.shape[0], w_in.shape[1]
    v = torch.zeros(n, h)
    z = torch.zeros(n, h)
    y = torch.zeros(n, w_out.shape[1])
    w_skip, w_out = w_out[:, :, h:], w_out[:, :, :h]  # columns past h: the readout's direct path from x
    out = []
    for x, a in zip(xs, actions):
        current = (w_in * x[:, None, :]).sum(-1)  # bias is 0: homeostasis off
        direct = (w_skip * x[:, None, :]).sum(-1) if w_skip.shape[2] else 0.0
        for _ in range(TICKS):
            v = alpha * v + current - theta * z.detach()
            z = SpikeFn.apply(v, theta, gamma_pd)
            y = kappa * y + (w_out * z[:, None, :]).sum(-1) + direct + b_out
        out.append(torch.log_softmax(y / temperature, -1).gather(1, a[:, None])[:, 0])
    return out


def rollout(signal="greedy", trace_lambda=0.0, n=2, seed=3, readout_skip=False):
    """Run the agent (and a learner with lr=0, so weights stay fixed) on random observations."""
    obs_space = spaces.Box(-1, 1, (5,), np.float32)
    agent = SpikingPolicy(obs_space, spaces.Discrete(3), hidden=16, n=n, seed=seed, ticks=TICKS,
                          homeostasis=0.0, input_scale=3.0, out_scale=1.0, temperature=0.7,
                          readout_skip=readout_skip)
    if readout_skip:  # W_skip starts at zero: give the direct path a say in the policy
        agent.w_out[:, :, 16:] = torch.randn(n, 3, 5, generator=torch.Generator().manual_seed(seed))
    learner = EProp(agent, signal=signal, lr=0.0, trace_lambda=trace_lambda, entropy=0.0)
    rng = np.random.default_rng(seed)
    xs, actions = [], []
    obs = rng.uniform(-1, 1, (n, 5)).astype(np.float32)
    for t in range(T_STEPS):
        agent.act(obs)
        xs.append(agent.x.clone())
        actions.append(agent.action.clone())
        grads = agent.local_grads(agent.logp_cotangent())
        obs = rng.uniform(-1, 1, (n, 5)).astype(np.float32)
        learner.step(np.zeros(n), np.zeros(n, bool), obs)
    return agent, learner, grads, xs, actions


def reference_grads(agent, xs, actions, weights_of_steps):
    p = agent.layers[0].p
    w_in = agent.layers[0].w_in.clone().requires_grad_(True)
    w_out = agent.w_out.clone().requires_grad_(True)
    b_out = agent.b_out.clone().requires_grad_(True)
    logps = reference_logps(w_in, w_out, b_out, xs, actions, p.alpha, agent.kappa, p.theta, p.gamma_pd,
                            agent.temperature)
    total = sum(w * lp.sum() for w, lp in zip(weights_of_steps, logps))
    return dict(zip(("w_in", "w_out", "b_out"), torch.autograd.grad(total, (w_in, w_out, b_out))))


def test_network_fires_in_the_tested_regime():
    agent, *_ = rollout()
    assert 0.02 < agent.layers[0].rate.mean() < 0.9  # the comparison below is not trivially zero


def test_readout_eligibility_equals_autograd_through_leaky_readout():
    agent, _, grads, xs, actions = rollout()
    ref = reference_grads(agent, xs, actions, [0.0] * (T_STEPS - 1) + [1.0])
    torch.testing.assert_close(grads["w_out"], ref["w_out"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads["b_out"], ref["b_out"], rtol=1e-4, atol=1e-5)
    assert ref["w_out"].abs().max() > 1e-2


def test_eprop_hidden_gradient_equals_autograd_with_detached_reset():
    agent, _, grads, xs, actions = rollout()
    ref = reference_grads(agent, xs, actions, [0.0] * (T_STEPS - 1) + [1.0])
    assert ref["w_in"].abs().max() > 1e-3  # surrogate gradients actually flow
    torch.testing.assert_close(grads["layers.0.w_in"], ref["w_in"], rtol=1e-3, atol=1e-5)


def test_readout_skip_eligibility_equals_autograd():
    """With the direct path x -> readout, W_skip's gradient and the hidden layer's (whose signal reads
    W_out alone) are autograd's through the whole history."""
    agent, _, grads, xs, actions = rollout(readout_skip=True)
    assert agent.w_out.shape[2] == 16 + 5
    ref = reference_grads(agent, xs, actions, [0.0] * (T_STEPS - 1) + [1.0])
    assert ref["w_out"][:, :, 16:].abs().max() > 1e-2
    torch.testing.assert_close(grads["w_out"], ref["w_out"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads["layers.0.w_in"], ref["w_in"], rtol=1e-3, atol=1e-5)


def test_readout_skip_starts_as_the_network_without_it():
    plain, skip = (SpikingPolicy(spaces.Box(0, 255, (12, 16), np.uint8), spaces.Discrete(3), hidden=8, n=2, seed=1,
                                 readout_skip=flag) for flag in (False, True))
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs = rng.integers(0, 256, (2, 12, 16)).astype(np.uint8)
        plain.act(obs), skip.act(obs)
        torch.testing.assert_close(skip.pi, plain.pi)
    torch.testing.assert_close(skip.features(), plain.features())


@pytest.mark.parametrize("lam", [0.5, 0.9])
def test_lambda_trace_equals_discounted_sum_of_autograd_gradients(lam):
    agent, learner, _, xs, actions = rollout(trace_lambda=lam)
    weights = [lam ** (T_STEPS - 1 - t) for t in range(T_STEPS)]  # sum_k lambda^k grad log pi_{T-k}
    ref = reference_grads(agent, xs, actions, weights)
    torch.testing.assert_close(learner.trace__w_out, ref["w_out"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(learner.trace__b_out, ref["b_out"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(learner.trace__layers_0_w_in, ref["w_in"], rtol=1e-3, atol=1e-5)


def test_mlp_local_gradients_equal_autograd():
    from tracerl.agents.mlp import MLPPolicy

    agent = MLPPolicy(spaces.Box(-1, 1, (4,), np.float32), spaces.Discrete(3), hidden=8, n=2, seed=0)
    obs = np.random.default_rng(0).uniform(-1, 1, (2, 4)).astype(np.float32)
    agent.act(obs)
    grads = agent.local_grads(agent.logp_cotangent())
    w = {k: v.clone().requires_grad_(True) for k, v in agent.weights().items()}
    h = torch.tanh((w["w1"] * agent.x[:, None, :]).sum(-1) + w["b1"])
    y = (w["w2"] * h[:, None, :]).sum(-1) + w["b2"]
    logp = torch.log_softmax(y / agent.temperature, -1).gather(1, agent.action[:, None]).sum()
    ref = torch.autograd.grad(logp, list(w.values()))
    for k, r in zip(w, ref):
        torch.testing.assert_close(grads[k], r, rtol=1e-5, atol=1e-6)


def test_entropy_cotangent_is_gradient_of_entropy():
    agent, *_ = rollout()
    y = (agent.y.clone()).requires_grad_(True)
    pi = torch.softmax(y / agent.temperature, -1)
    entropy = -(pi * torch.log(pi)).sum()
    (ref,) = torch.autograd.grad(entropy, y)
    torch.testing.assert_close(agent.entropy_cotangent(), ref, rtol=1e-4, atol=1e-6)
    assert math.isfinite(float(agent.entropy().sum()))


def conv_rollout(n=2, seed=5, trace_lambda=0.0, neuron="lif", **agent_kwargs):
    """A spiking convolution straight into the readout, on random 0/1 grids (weights fixed)."""
    space = spaces.Box(0, 1, (6, 7, 2), np.uint8)  # channel-last 0/1 grid: spikes encoder, ON/OFF events
    agent = SpikingPolicy(space, spaces.Discrete(3), hidden=[], n=n, seed=seed, ticks=TICKS, homeostasis=0.0,
                          input_scale=3.0, out_scale=1.0, temperature=0.7, conv_channels=3, conv_kernel=3,
                          conv_stride=2, neuron=neuron, **agent_kwargs)
    learner = EProp(agent, signal="greedy", lr=0.0, trace_lambda=trace_lambda, entropy=0.0)
    rng = np.random.default_rng(seed)
    xs, actions = [], []
    for t in range(T_STEPS):
        agent.act(rng.integers(0, 2, (n, 6, 7, 2)).astype(np.uint8))
        xs.append(agent.x.clone().view(n, *agent.encoder.out_shape))
        actions.append(agent.action.clone())
        grads = agent.local_grads(agent.logp_cotangent())
        learner.step(np.zeros(n), np.zeros(n, bool))
    return agent, learner, grads, xs, actions


def conv_reference_grads(agent, xs, actions, weights_of_steps):
    """Autograd through the whole history of the convolution, tick by tick, lifetime by lifetime."""
    layer = agent.layers[0]
    p, k, s = layer.p, layer.kernel, layer.stride
    w_in = layer.w_in.clone().requires_grad_(True)
    w_out = agent.w_out.clone().requires_grad_(True)
    b_out = agent.b_out.clone().requires_grad_(True)
    n, c_in = w_in.shape[0], layer.in_shape[0]
    v = torch.zeros(n, layer.size)
    z = torch.zeros(n, layer.size)
    y = torch.zeros(n, w_out.shape[1])
    total = 0.0
    for x, a, weight in zip(xs, actions, weights_of_steps):
        x = torch.nn.functional.pad(x, layer.pad)  # zeros after the last row / column, so every cell is seen
        current = torch.stack([torch.nn.functional.conv2d(x[i:i + 1], w_in[i].view(-1, c_in, k, k), stride=s).flatten()
                               for i in range(n)])
        for _ in range(TICKS):
            v = p.alpha * v + current - p.theta * z.detach()
            z = SpikeFn.apply(v, p.theta, p.gamma_pd)
            y = agent.kappa * y + (w_out * z[:, None, :]).sum(-1) + b_out
        total = total + weight * torch.log_softmax(y / agent.temperature, -1).gather(1, a[:, None]).sum()
    return dict(zip(("w_in", "w_out", "b_out"), torch.autograd.grad(total, (w_in, w_out, b_out))))


@pytest.mark.parametrize("agent_kwargs", [{}, {"conv_tau_mem": 3.0}])
def test_convolution_eligibility_equals_autograd_through_the_whole_history(agent_kwargs):
    agent, _, grads, xs, actions = conv_rollout(**agent_kwargs)
    assert 0.02 < agent.layers[0].rate.mean() < 0.9  # the network fires: the comparison is not trivially zero
    ref = conv_reference_grads(agent, xs, actions, [0.0] * (T_STEPS - 1) + [1.0])
    assert ref["w_in"].abs().max() > 1e-3
    torch.testing.assert_close(grads["layers.0.w_in"], ref["w_in"], rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(grads["w_out"], ref["w_out"], rtol=1e-4, atol=1e-5)


def test_convolution_lambda_trace_equals_discounted_sum_of_autograd_gradients():
    lam = 0.8
    agent, learner, _, xs, actions = conv_rollout(trace_lambda=lam)
    ref = conv_reference_grads(agent, xs, actions, [lam ** (T_STEPS - 1 - t) for t in range(T_STEPS)])
    torch.testing.assert_close(learner.trace__layers_0_w_in, ref["w_in"], rtol=1e-3, atol=1e-5)


def play_recording_the_first_layer(agent, draw):
    """Play T_STEPS steps on observations ``draw()``, keeping the first layer's spikes of every step;
    returns those spikes, the actions, and the local gradients of the last step's log pi."""
    below, actions = [], []
    first = agent.layers[0]
    original = first.forward

    def record(u, ticks, const):
        zs = original(u, ticks, const)
        below.append(zs.clone())
        return zs

    first.forward = record
    for t in range(T_STEPS):
        agent.act(draw())
        actions.append(agent.action.clone())
    return below, actions, agent.local_grads(agent.logp_cotangent())


def second_layer_reference(agent, below, actions, current) -> torch.Tensor:
    """Autograd's gradient of the last step's log pi in the second layer's input weights, tick by tick
    through the whole history, the spikes below held as given; ``current(w_in, z_below)`` its drive."""
    n, layer = below[0].shape[1], agent.layers[1]
    p = layer.p
    w_in = layer.w_in.clone().requires_grad_(True)
    v = torch.zeros(n, layer.size)
    z = torch.zeros(n, layer.size)
    y = torch.zeros(n, agent.n_actions)
    for zs in below:
        for k in range(TICKS):
            v = p.alpha * v + current(w_in, zs[k]) - p.theta * z.detach()
            z = SpikeFn.apply(v, p.theta, p.gamma_pd)
            y = agent.kappa * y + (agent.w_out * z[:, None, :]).sum(-1) + agent.b_out
    logp = torch.log_softmax(y / agent.temperature, -1).gather(1, actions[-1][:, None]).sum()
    (ref,) = torch.autograd.grad(logp, (w_in,))
    assert 0.02 < layer.rate.mean() < 0.9 and ref.abs().max() > 1e-3  # it fires: the comparison is not trivial
    return ref


def test_a_deeper_layers_eligibility_equals_autograd_given_the_spikes_below():
    """The layer above reads the spikes of the layer below, tick by tick (the folded sequence path):
    with symmetric feedback its input weights get the exact gradient, the spikes below held as given."""
    n = 2
    agent = SpikingPolicy(spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3), hidden=[12, 10], n=n, seed=4,
                          ticks=TICKS, homeostasis=0.0, input_scale=3.0, out_scale=1.0, temperature=0.7)
    rng = np.random.default_rng(4)
    below, actions, grads = play_recording_the_first_layer(agent, lambda: rng.uniform(-1, 1, (n, 5)).astype(np.float32))
    ref = second_layer_reference(agent, below, actions, lambda w, z: (w * z[:, None, :]).sum(-1))
    torch.testing.assert_close(grads["layers.1.w_in"], ref, rtol=1e-3, atol=1e-5)


def test_a_stacked_convolutions_eligibility_equals_autograd_given_the_spikes_below():
    """A second convolution reads the first's spikes as its grid, tick by tick: with symmetric feedback
    (it is the last hidden layer) its kernels get the exact gradient, the spikes below held as given."""
    n = 2
    agent = SpikingPolicy(spaces.Box(0, 1, (6, 7, 2), np.uint8), spaces.Discrete(3), hidden=[], n=n, seed=5,
                          ticks=TICKS, homeostasis=0.0, input_scale=3.0, out_scale=1.0, temperature=0.7,
                          conv_channels=[3, 4], conv_kernel=[3, 2], conv_stride=[2, 1])
    first, layer = agent.layers
    assert layer.in_shape == (3, *first.out_hw) and layer.positions > 1
    rng = np.random.default_rng(5)
    below, actions, grads = play_recording_the_first_layer(agent, lambda: rng.integers(0, 2, (n, 6, 7, 2)).astype(np.uint8))
    k, s = layer.kernel, layer.stride

    def conv(w, z):  # the first's spikes on its grid, zeros padded after it, one lifetime's kernels each
        grid = torch.nn.functional.pad(z.view(n, *layer.in_shape), layer.pad)
        return torch.stack([torch.nn.functional.conv2d(grid[i:i + 1], w[i].view(-1, 3, k, k), stride=s).flatten()
                            for i in range(n)])

    ref = second_layer_reference(agent, below, actions, conv)
    torch.testing.assert_close(grads["layers.1.w_in"], ref, rtol=1e-3, atol=1e-5)
    assert "layers.0.w_in" in grads and agent.shared_weights() == ("layers.0.w_in", "layers.1.w_in")


@pytest.mark.parametrize("kind", ["dense", "convolution", "padded-convolution"])
def test_feed_back_is_the_transpose_of_the_layers_drive(kind):
    """<feed_back(g), u> = <g, W u> for every input u and signal g: "chain" carries a signal through a
    layer's input weights exactly backwards (a convolution's: summed over the patches that see a cell)."""
    from tracerl.agents.conv import ConvLayer
    from tracerl.agents.layer import SpikingLayer

    common = dict(neuron="lif", kappa=0.8, tau_mem=10.0, tau_adapt=100.0, beta=0.2, gamma_pd=0.3, input_scale=1.0,
                  seeds=[0, 1], salt=0)
    if kind == "dense":
        layer, shape = SpikingLayer(2, 12, 7, recurrent=False, **common), (12,)
    else:
        side = (7, 9) if kind == "padded-convolution" else (8, 8)  # 7 x 9 with kernel 4, stride 2: zeros padded
        layer, shape = ConvLayer(2, (3, *side), 5, 4, 2, **common), (3, *side)
        assert any(layer.pad) == (kind == "padded-convolution")
    g = torch.randn(2, layer.size, generator=torch.Generator().manual_seed(1))
    u = torch.randn(2, *shape, generator=torch.Generator().manual_seed(2))
    back = layer.feed_back(g)
    assert back.shape == (2, int(np.prod(shape)))
    torch.testing.assert_close((back * u.flatten(1)).sum(1), (g * layer.drive(u)).sum(1), rtol=1e-5, atol=1e-5)


def test_chain_feedback_gives_the_layer_below_the_gradient_through_the_layer_above_in_one_tick():
    """With one tick, no history (the first step), and a pseudo-derivative in place of the spike's
    derivative, the chained signal is backpropagation's: the convolution's kernels get autograd's gradient
    through the dense layer above."""
    n = 2
    agent = SpikingPolicy(spaces.Box(0, 1, (6, 7, 2), np.uint8), spaces.Discrete(3), hidden=[8], n=n, seed=7,
                          ticks=1, homeostasis=0.0, input_scale=3.0, out_scale=1.0, temperature=0.7, conv_channels=3,
                          conv_kernel=3, conv_stride=2, feedback="chain")
    obs = np.random.default_rng(7).integers(0, 2, (n, 6, 7, 2)).astype(np.uint8)
    agent.act(obs)
    grads = agent.local_grads(agent.logp_cotangent())
    conv, dense = agent.layers
    p, k, s = conv.p, conv.kernel, conv.stride
    w_in = conv.w_in.clone().requires_grad_(True)
    x = torch.nn.functional.pad(agent.x.view(n, *agent.encoder.out_shape), conv.pad)
    current = torch.stack([torch.nn.functional.conv2d(x[i:i + 1], w_in[i].view(-1, conv.in_shape[0], k, k), stride=s).flatten()
                           for i in range(n)])
    z1 = SpikeFn.apply(current, p.theta, p.gamma_pd)  # v = I on the first tick from rest
    z2 = SpikeFn.apply((dense.w_in * z1[:, None, :]).sum(-1), dense.p.theta, dense.p.gamma_pd)
    y = (agent.w_out * z2[:, None, :]).sum(-1) + agent.b_out
    logp = torch.log_softmax(y / agent.temperature, -1).gather(1, agent.action[:, None]).sum()
    (ref,) = torch.autograd.grad(logp, (w_in,))
    assert ref.abs().max() > 1e-4 and (dense.psi_mean > 0).any()
    torch.testing.assert_close(grads["layers.0.w_in"], ref, rtol=1e-4, atol=1e-6)


# -- ALIF and recurrent layers: the exact gradient e-prop computes ---------------------------------
def alif_or_recurrent_rollout(neuron: str, recurrent: bool, n=2, seed=6):
    """As ``rollout`` (weights fixed, random observations) for an ALIF or a recurrent hidden layer."""
    obs_space = spaces.Box(-1, 1, (5,), np.float32)
    agent = SpikingPolicy(obs_space, spaces.Discrete(3), hidden=16, n=n, seed=seed, ticks=TICKS, neuron=neuron,
                          recurrent=recurrent, tau_adapt=20.0, beta=0.5, homeostasis=0.0, input_scale=3.0,
                          out_scale=1.0, temperature=0.7)
    rng = np.random.default_rng(seed)
    xs, actions = [], []
    for t in range(T_STEPS):
        agent.act(rng.uniform(-1, 1, (n, 5)).astype(np.float32))
        xs.append(agent.x.clone())
        actions.append(agent.action.clone())
    return agent, agent.local_grads(agent.logp_cotangent()), xs, actions


@pytest.mark.parametrize("neuron,recurrent", [("alif", False), ("lif", True)], ids=["alif", "recurrent"])
def test_alif_and_recurrent_eligibility_equal_autograd(neuron, recurrent):
    """ALIF: the gradient flows through the adaptive threshold too (the eps trace), the reset
    detached. Recurrent: e-prop's gradient is exact with the recurrent spikes held as given (their
    own dependence on the weights is what e-prop leaves out), so the reference detaches them."""
    agent, grads, xs, actions = alif_or_recurrent_rollout(neuron, recurrent)
    layer, p = agent.layers[0], agent.layers[0].p
    w_in = layer.w_in.clone().requires_grad_(True)
    w_rec = layer.w_rec.clone().requires_grad_(True) if recurrent else None
    n = w_in.shape[0]
    v, z, a = (torch.zeros(n, layer.size) for _ in range(3))
    y = torch.zeros(n, agent.w_out.shape[1])
    for x in xs:
        current = (w_in * x[:, None, :]).sum(-1)
        for _ in range(TICKS):
            i_t = current + ((w_rec * z.detach()[:, None, :]).sum(-1) if recurrent else 0.0)
            if neuron == "alif":
                v = p.alpha * v + i_t - ((p.theta + p.beta * a) * z).detach()
                a = p.rho * a + z
                z = SpikeFn.apply(v - p.beta * a, p.theta, p.gamma_pd)  # H(v - A), A = theta + beta a
            else:
                v = p.alpha * v + i_t - p.theta * z.detach()
                z = SpikeFn.apply(v, p.theta, p.gamma_pd)
            y = agent.kappa * y + (agent.w_out * z[:, None, :]).sum(-1) + agent.b_out
    logp = torch.log_softmax(y / agent.temperature, -1).gather(1, actions[-1][:, None]).sum()
    refs = torch.autograd.grad(logp, (w_in, w_rec) if recurrent else (w_in,))
    assert 0.02 < layer.rate.mean() < 0.9 and refs[0].abs().max() > 1e-3
    torch.testing.assert_close(grads["layers.0.w_in"], refs[0], rtol=1e-3, atol=1e-5)
    if recurrent:
        assert refs[1].abs().max() > 1e-3
        torch.testing.assert_close(grads["layers.0.w_rec"], refs[1], rtol=1e-3, atol=1e-5)


def reference_zbar(w_in, xs, alpha, kappa, theta, gamma_pd):
    """The readout-filtered spikes zbar after T steps, tick by tick, differentiable in w_in."""
    v = torch.zeros(w_in.shape[0], w_in.shape[1])
    z, zbar = torch.zeros_like(v), torch.zeros_like(v)
    for x in xs:
        current = (w_in * x[:, None, :]).sum(-1)
        for _ in range(TICKS):
            v = alpha * v + current - theta * z.detach()
            z = SpikeFn.apply(v, theta, gamma_pd)
            zbar = kappa * zbar + z
    return zbar


def test_feature_gradient_equals_autograd_through_the_whole_history():
    """A critic's cotangent on the features, sent into the hidden layer (``critic_torso``), is autograd's
    gradient of ``dphi . phi`` through the whole history; only the first block (the filtered spikes) counts."""
    agent, _, _, xs, _ = rollout()  # greedy: the agent's state is that of the last step in xs
    dphi = torch.randn(agent.n, agent.feature_dim, generator=torch.Generator().manual_seed(1))
    grads = agent.feature_grads(dphi)
    assert set(grads) == {"layers.0.w_in"}
    p = agent.layers[0].p
    w_in = agent.layers[0].w_in.clone().requires_grad_(True)
    zbar = reference_zbar(w_in, xs, p.alpha, agent.kappa, p.theta, p.gamma_pd)
    torch.testing.assert_close(zbar.detach() * (1 - agent.kappa), agent.features()[:, :16], rtol=1e-5, atol=1e-6)
    (ref,) = torch.autograd.grad((dphi[:, :16] * (1 - agent.kappa) * zbar).sum(), w_in)
    assert ref.abs().max() > 1e-3
    torch.testing.assert_close(grads["layers.0.w_in"], ref, rtol=1e-3, atol=1e-5)
