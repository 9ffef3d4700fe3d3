"""Encoders chosen by what the observation is (issue 19), and the spiking convolution that reads them."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from tracerl.agents.conv import ConvLayer
from tracerl.agents.encoders import FrameEncoder, NormalizeEncoder, make_encoder, observation_kind
from tracerl.agents.spiking import SpikingPolicy
from tracerl.learners.eprop import EProp
from tracerl.learners.common import trace_size

MINATAR = spaces.Box(0.0, 1.0, (10, 10, 4), bool)  # MinAtar's observation space


def encode(encoder, obs):
    return encoder(torch.as_tensor(np.asarray(obs)))


@pytest.mark.parametrize("space, kind", [
    (MINATAR, "spikes"),
    (spaces.Box(0, 1, (10, 10, 10), np.uint8), "spikes"),  # a 0/1 grid of any channel count (Seaquest: 10)
    (spaces.Box(0, 1, (6, 6), np.int64), "spikes"),
    (spaces.Box(0, 255, (60, 80), np.uint8), "pixels"),
    (spaces.Box(0, 255, (64, 64, 3), np.uint8), "pixels"),
    (spaces.Box(0, 255, (4, 84, 84), np.uint8), "pixels"),  # channel-first frame stack
    (spaces.Box(-1, 1, (3, 5), np.float32), "features"),  # 2-D but not an image
    (spaces.Box(0, 255, (5, 6, 7), np.uint8), "features"),  # no channel axis of at most 4
    (spaces.Box(-1, 1, (6,), np.float32), "features"),
    (spaces.Box(0, 1, (2, 3, 4, 5), bool), "features"),  # 4-D: flattened
])
def test_the_observation_decides_its_kind(space, kind):
    assert observation_kind(space) == kind


def test_a_boolean_grid_goes_in_as_spikes_one_input_per_cell_and_channel():
    enc = make_encoder("auto", 1, MINATAR)
    assert isinstance(enc, FrameEncoder) and enc.name == "spikes"
    grid = np.zeros((1, 10, 10, 4), bool)
    grid[0, 9, 3, 0] = True  # paddle
    grid[0, 5, 7, 1] = True  # ball
    out = encode(enc, grid)
    assert out.shape == (1, 12, 10, 10)  # frame (4 channels), ON (4), OFF (4): nothing pooled, nothing cropped
    frame = out[0, :4]
    assert frame[0, 9, 3] == 1.0 and frame[1, 5, 7] == 1.0  # a spike of 1, not 1/255, each in its own channel
    assert frame.sum() == 2.0


def test_a_zero_one_integer_grid_is_read_as_spikes_too():
    enc = make_encoder("auto", 1, spaces.Box(0, 1, (5, 5), np.uint8))
    assert enc.name == "spikes" and enc.out_shape == (3, 5, 5)
    obs = np.eye(5, dtype=np.uint8)[None]
    assert torch.equal(encode(enc, obs)[0, 0], torch.eye(5))


def test_images_are_scaled_from_their_box_range():
    enc = make_encoder("auto", 1, spaces.Box(0, 100, (8, 8), np.uint8), events=False)
    obs = np.full((1, 8, 8), 50, np.uint8)
    torch.testing.assert_close(encode(enc, obs), torch.full((1, 1, 8, 8), 0.5))
    enc = make_encoder("auto", 1, spaces.Box(10, 20, (8, 8), np.int32), events=False)
    torch.testing.assert_close(encode(enc, np.full((1, 8, 8), 15, np.int32)), torch.full((1, 1, 8, 8), 0.5))


def test_channel_first_and_channel_last_images_encode_alike():
    rng = np.random.default_rng(0)
    last = rng.integers(0, 256, (2, 12, 16, 3), dtype=np.uint8)
    first = np.ascontiguousarray(last.transpose(0, 3, 1, 2))
    enc_last = make_encoder("pixels", 2, spaces.Box(0, 255, (12, 16, 3), np.uint8))
    enc_first = make_encoder("pixels", 2, spaces.Box(0, 255, (3, 12, 16), np.uint8))
    a, b = encode(enc_last, last), encode(enc_first, first)
    assert a.shape == (2, 9, 12, 16)  # RGB kept apart, then ON and OFF per channel
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[:, :3], torch.as_tensor(first, dtype=torch.float32) / 255.0)


def test_large_images_are_max_pooled_so_a_small_bright_object_survives():
    enc = make_encoder("pixels", 1, spaces.Box(0, 255, (60, 80), np.uint8), events=False)
    assert enc.pool == 4 and enc.out_shape == (1, 15, 20)
    img = np.zeros((1, 60, 80), np.uint8)
    img[0, 33, 50] = 255  # a one-pixel ball
    out = encode(enc, img)[0, 0]
    assert out[33 // 4, 50 // 4] == 1.0 and out.sum() == 1.0


def test_frame_differences_give_on_and_off_events_as_an_event_camera():
    space = spaces.Box(0, 255, (4, 4), np.uint8)
    enc = make_encoder("events", 2, space)
    assert enc.out_shape == (2, 4, 4)  # ON and OFF alone
    a = np.zeros((2, 4, 4), np.uint8)
    a[:, 1, 1] = 200
    first = encode(enc, a)
    assert first.sum() == 0  # no last frame yet: no events
    b = np.zeros((2, 4, 4), np.uint8)
    b[:, 1, 2] = 200  # the object moved one cell right
    ev = encode(enc, b)
    on, off = ev[:, 0], ev[:, 1]
    assert on[:, 1, 2].tolist() == [1.0, 1.0] and off[:, 1, 1].tolist() == [1.0, 1.0]
    assert on.sum() == 2 and off.sum() == 2
    b2 = b.copy()
    b2[:, 1, 2] = 210  # a change below the threshold (0.1 of the range) is no event
    assert encode(enc, b2).sum() == 0
    enc.reset_lifetimes(torch.tensor([True, False]))  # lifetime 0 starts a new episode
    ev = encode(enc, a)
    assert ev[0].sum() == 0 and ev[1].sum() == 2


def test_arrays_that_are_not_images_are_flattened_to_features():
    enc = make_encoder("auto", 2, spaces.Box(-1, 1, (3, 5), np.float32))
    assert isinstance(enc, NormalizeEncoder) and enc.out_dim == 15
    out = encode(enc, np.random.default_rng(0).uniform(-1, 1, (2, 3, 5)).astype(np.float32))
    assert out.shape == (2, 15) and torch.isfinite(out).all()


@pytest.mark.parametrize("space, name", [
    (spaces.Box(-np.inf, np.inf, (8, 8), np.float32), "events"),
    (spaces.Box(0, 1, (0, 4), np.float32), "auto"),
    (spaces.Box(-1, 1, (6,), np.float32), "pixels"),
    (spaces.Box(-1, 1, (3, 5), np.float32), "spikes"),
])
def test_what_cannot_be_encoded_is_one_line_naming_shape_and_dtype(space, name):
    with pytest.raises(ValueError) as e:
        make_encoder(name, 1, space)
    msg = str(e.value)
    assert "\n" not in msg and str(tuple(space.shape)) in msg and str(np.dtype(space.dtype)) in msg


def test_grids_get_a_convolutional_front_end_and_images_and_features_a_dense_one():
    agent = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2)
    assert agent.config["encoder"] == "spikes" and agent.config["frontend"] == "conv"
    conv = agent.layers[0]
    assert conv.out_hw == (4, 4) and conv.size == 16 * 16  # kernels of 4 x 4 cells, moved by 2: rows 0-9 all seen
    assert agent.weights()["layers.0.w_in"].shape == (2, 16, 12 * 4 * 4)  # shared: channels x (C k k)
    dense = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, frontend="dense")
    assert dense.layers[0].w_in.shape == (2, 128, 1200)
    flat = SpikingPolicy(spaces.Box(-1, 1, (6,), np.float32), spaces.Discrete(3))
    assert flat.config["frontend"] == "dense"
    image = spaces.Box(0, 255, (60, 80, 3), np.uint8)  # an integer image: the dense layer unless asked
    assert SpikingPolicy(image, spaces.Discrete(3)).config["frontend"] == "dense"
    assert SpikingPolicy(image, spaces.Discrete(3)).layers[0].w_in.shape == (1, 128, 3 * 3 * 15 * 20)  # pooled, + events
    assert SpikingPolicy(image, spaces.Discrete(3), frontend="conv").config["frontend"] == "conv"
    with pytest.raises(ValueError, match="frontend 'conv' needs an encoder that keeps a picture"):
        SpikingPolicy(spaces.Box(-1, 1, (6,), np.float32), spaces.Discrete(3), frontend="conv")


def test_a_picture_gets_a_fast_readout_and_features_the_slow_one():
    import math

    grid = SpikingPolicy(MINATAR, spaces.Discrete(3))
    flat = SpikingPolicy(spaces.Box(-1, 1, (6,), np.float32), spaces.Discrete(3))
    assert grid.config["tau_out"] == 1.5 and grid.kappa == pytest.approx(math.exp(-1 / 1.5))
    assert flat.config["tau_out"] == 5.0 and flat.kappa == pytest.approx(math.exp(-1 / 5))
    assert SpikingPolicy(MINATAR, spaces.Discrete(3), frontend="dense").config["tau_out"] == 1.5  # a picture still
    assert SpikingPolicy(MINATAR, spaces.Discrete(3), tau_out=5.0).kappa == flat.kappa  # asked for: kept


def test_the_convolution_can_forget_faster_than_the_layers_behind_it():
    import math

    agent = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, hidden=16, conv_tau_mem=3.0)
    assert agent.layers[0].p.alpha == pytest.approx(math.exp(-1 / 3))
    assert agent.layers[1].p.alpha == pytest.approx(math.exp(-1 / 10))  # the dense layer keeps tau_mem
    same = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, hidden=16)
    assert same.layers[0].p.alpha == same.layers[1].p.alpha == agent.layers[1].p.alpha
    with pytest.raises(ValueError, match="conv_tau_mem -1.0 is out of range"):
        SpikingPolicy(MINATAR, spaces.Discrete(3), conv_tau_mem=-1.0)


def test_a_critic_can_read_the_convolutions_spikes():
    from tracerl.learners import make_learner

    last = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, hidden=16)
    every = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, hidden=16, critic_reads="all")
    assert every.feature_dim == last.feature_dim + every.layers[0].size == 16 + 256 + 1200 + 1
    learner = make_learner("eprop", every, signal="td")
    rng = np.random.default_rng(0)
    obs = rng.random((2, 10, 10, 4)) < 0.2
    for _ in range(5):
        every.act(obs)
        obs = rng.random((2, 10, 10, 4)) < 0.2
        learner.step(np.ones(2), np.zeros(2, bool), obs)
    phi = every.features()
    assert phi.shape == (2, every.feature_dim)
    torch.testing.assert_close(phi[:, 16:16 + 256], every.layers[0].rate)  # what the convolution fired this step
    assert every.layers[0].rate.sum() > 0 and learner.critic.w[:, 16:16 + 256].abs().sum() > 0  # and the critic learns on it
    with pytest.raises(ValueError, match="unknown critic_reads 'some'; allowed: 'last', 'all'"):
        SpikingPolicy(MINATAR, spaces.Discrete(3), critic_reads="some")


class WhereIsTheDot:
    """A contextual bandit on a 0/1 grid: one lit cell; the action that names its half (0 left, 1
    right) is rewarded +1, the other -1. N games as arrays."""

    def __init__(self, n, side=8, seed=0):
        self.n, self.side, self.rng = n, side, np.random.default_rng(seed)
        self.space = spaces.Box(0, 1, (side, side), np.uint8)

    def observe(self):
        self.col = self.rng.integers(0, self.side, self.n)
        row = self.rng.integers(0, self.side, self.n)
        grid = np.zeros((self.n, self.side, self.side), np.uint8)
        grid[np.arange(self.n), row, self.col] = 1
        return grid

    def reward(self, action):
        return np.where(action == (self.col >= self.side // 2), 1.0, -1.0)


def play(frontend_learn: bool, steps: int = 2500, n: int = 2):
    game = WhereIsTheDot(n)
    agent = SpikingPolicy(game.space, spaces.Discrete(2), n=n, hidden=[], frontend_learn=frontend_learn,
                          conv_channels=8, conv_kernel=4, conv_stride=4,  # the readout sees the kernels alone
                          input_scale=6.0)  # one lit cell of 48 per patch: a larger drive makes it felt
    learner = EProp(agent, signal="greedy", lr=0.01, trace_lambda=0.0, entropy=0.01, reward_scale=False)
    w0 = agent.layers[0].w_in.clone()
    obs, rewards = game.observe(), []
    for _ in range(steps):
        action = agent.act(obs)
        r = game.reward(action)
        rewards.append(r)
        obs = game.observe()
        learner.step(r, np.zeros(n, bool), obs)
    late = np.mean(rewards[-500:])
    return late, (agent.layers[0].w_in - w0).abs().max().item()


@pytest.mark.slow
def test_the_convolution_learns_where_things_are_and_a_frozen_one_stays_as_drawn():
    late, moved = play(frontend_learn=True)
    assert moved > 1e-3  # the shared kernels learned
    assert late > 0.3  # 65% right (chance: 0; 0.5 here after 3,000 steps)
    _, moved_frozen = play(frontend_learn=False)
    assert moved_frozen == 0.0


def test_convolutions_stack_each_reading_the_grid_of_the_one_below():
    agent = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, hidden=16, conv_channels=[16, 32], conv_kernel=[4, 3],
                          conv_stride=[2, 1])
    first, second, dense = agent.layers
    assert first.out_hw == (4, 4) and second.in_shape == (16, 4, 4)  # the first's channels on its grid
    assert second.out_hw == (2, 2) and second.size == 32 * 4 and dense.w_in.shape == (2, 16, 128)
    assert agent.shared_weights() == ("layers.0.w_in", "layers.1.w_in")
    assert SpikingPolicy(MINATAR, spaces.Discrete(3), conv_kernel=[4, 2]).layers[1].in_shape == (16, 4, 4)  # ints repeat
    with pytest.raises(ValueError, match=r"conv_channels \[16, 32\], conv_kernel \[4, 3, 2\] and conv_stride 2 name "
                                         r"different numbers of convolutions"):
        SpikingPolicy(MINATAR, spaces.Discrete(3), conv_channels=[16, 32], conv_kernel=[4, 3, 2])
    with pytest.raises(ValueError, match="conv_channels 0 is out of range"):
        SpikingPolicy(MINATAR, spaces.Discrete(3), conv_channels=[16, 0])
    with pytest.raises(ValueError, match=r"conv_tau_mem \[3.0\] is not a number"):  # one time constant for all
        SpikingPolicy(MINATAR, spaces.Discrete(3), conv_tau_mem=[3.0])


@pytest.mark.parametrize("convs", [{}, dict(conv_channels=[8, 8], conv_kernel=[4, 3], conv_stride=[2, 1])],
                         ids=["one-convolution", "two-convolutions"])
@pytest.mark.parametrize("learner_name, kwargs", [("eprop", {"signal": "td"}), ("eprop", {"signal": "greedy"}),
                                                  ("reflect", {}), ("bptt", {"truncation": 5})])
def test_every_learner_trains_the_convolution(learner_name, kwargs, convs):
    from tracerl.learners import make_learner

    n = 2
    agent = SpikingPolicy(MINATAR, spaces.Discrete(3), n=n, hidden=16, **convs)
    learner = make_learner(learner_name, agent, **kwargs)
    rng = np.random.default_rng(0)
    kernels = [layer for layer in agent.layers if isinstance(layer, ConvLayer)]
    w0 = [layer.w_in.clone() for layer in kernels]
    obs = rng.random((n, 10, 10, 4)) < 0.1
    for t in range(30):
        agent.act(obs)
        obs = rng.random((n, 10, 10, 4)) < 0.1
        learner.step(rng.choice([-1.0, 0.0, 1.0], n), np.zeros(n, bool), obs)
    for layer, w in zip(kernels, w0):  # every convolution of the stack learns
        assert (layer.w_in - w).abs().max() > 0
        assert torch.isfinite(layer.w_in).all()


@pytest.mark.parametrize("learner_name, kwargs", [("eprop", {"signal": "td"}), ("eprop", {"signal": "greedy"}),
                                                  ("reflect", {}), ("bptt", {"truncation": 5})])
def test_every_learner_trains_an_images_dense_layer_and_its_direct_path(learner_name, kwargs):
    """An integer image on the dense front end, with readout_skip: the dense layer and W_skip (which
    starts at zero) both move, for each learner (bptt once crashed on the image encoder's buffers)."""
    from tracerl.learners import make_learner

    n = 2
    agent = SpikingPolicy(spaces.Box(0, 255, (12, 16), np.uint8), spaces.Discrete(3), n=n, hidden=8, readout_skip=True)
    learner = make_learner(learner_name, agent, **kwargs)
    rng = np.random.default_rng(0)
    w0 = agent.layers[0].w_in.detach().clone()
    obs = rng.integers(0, 256, (n, 12, 16)).astype(np.uint8)
    for t in range(30):
        agent.act(obs)
        obs = rng.integers(0, 256, (n, 12, 16)).astype(np.uint8)
        learner.step(rng.choice([-1.0, 0.0, 1.0], n), np.zeros(n, bool), obs)
    assert (agent.layers[0].w_in.detach() - w0).abs().max() > 0
    skip = agent.w_out.detach()[:, :, agent.hidden_out:]
    assert skip.abs().max() > 0 and torch.isfinite(skip).all()


def readout_change(frontend_learn: bool, bound_groups: str = "shared", bound_norm: str = "l1") -> torch.Tensor:
    """The readout's change in the first learning step of a conv agent (the same forward either way)."""
    n = 2
    agent = SpikingPolicy(MINATAR, spaces.Discrete(3), n=n, hidden=16, frontend_learn=frontend_learn)
    learner = EProp(agent, signal="greedy", lr=0.5, entropy=0.0, reward_scale=False, bound_groups=bound_groups,
                    bound_norm=bound_norm)
    rng = np.random.default_rng(1)
    for _ in range(5):  # activity first
        agent.act(rng.random((n, 10, 10, 4)) < 0.2)
        learner.step(np.zeros(n), np.zeros(n, bool))
    w0 = agent.w_out.clone()
    agent.act(rng.random((n, 10, 10, 4)) < 0.2)
    learner.step(np.ones(n), np.zeros(n, bool))
    return agent.w_out - w0


def test_the_kernels_trace_does_not_shrink_the_other_weights_steps():
    """A kernel's trace sums its positions' eligibilities: bounded on its own, it leaves the readout's
    step as it would be without it (the bound is active here: lr 0.5)."""
    learned, frozen = readout_change(True), readout_change(False)
    assert frozen.abs().max() > 0
    torch.testing.assert_close(learned, frozen)
    alone = readout_change(True, bound_groups="weight")  # each tensor on its own: the dense layer's trace left out too
    assert alone.abs().max() > frozen.abs().max()


def test_the_bound_can_read_the_traces_squared_l2_norm():
    """bound_norm="l2sq": the same as L1 on 0/1 entries, smaller on small ones, larger on large ones.
    In the learner only the step's size changes, not its direction (the bound is active here: lr 0.5)."""
    ones = (torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    assert (ones.flatten(1).sum(1) > 0).all()
    torch.testing.assert_close(trace_size(ones, "l2sq"), trace_size(ones, "l1"))
    assert (trace_size(0.1 * ones, "l2sq") < trace_size(0.1 * ones, "l1")).all()
    assert (trace_size(3 * ones, "l2sq") > trace_size(3 * ones, "l1")).all()
    l1, l2sq = readout_change(True, "weight"), readout_change(True, "weight", "l2sq")
    a, b = l1.flatten(1), l2sq.flatten(1)
    ratio = (a * b).sum(1) / (a * a).sum(1)  # each lifetime's step has its own bound
    torch.testing.assert_close(b, ratio[:, None] * a)
    assert a.abs().max() > 0 and ((ratio - 1).abs() > 0.05).all()
    with pytest.raises(ValueError, match="unknown bound_norm 'l3'; allowed: 'auto', 'l1', 'l2sq'"):
        EProp(SpikingPolicy(MINATAR, spaces.Discrete(3), n=1, hidden=8), bound_norm="l3")


@pytest.mark.parametrize("frontend_learn, obs_space, groups, norm, greedy_entropy, td_entropy", [
    (True, MINATAR, "weight", "l2sq", 0.01, 0.01),  # a learning convolution: every tensor on its own, by L2^2
    (False, MINATAR, "shared", "l1", 0.003, 0.01),  # frozen kernels: no shared weights, one L1 bound as before
    (True, spaces.Box(-1.0, 1.0, (6,)), "shared", "l1", 0.003, 0.01),  # features
    (True, spaces.Box(0, 255, (60, 80), np.uint8), "shared", "l1", 0.003, 0.003),  # an image on the dense layer
])
def test_the_step_bound_is_per_tensor_where_a_convolution_learns(frontend_learn, obs_space, groups, norm,
                                                                 greedy_entropy, td_entropy):
    """bound_groups and bound_norm "auto" and entropy None (the defaults) resolve by the agent and the
    run's config records the choice, so a resumed run keeps it; an explicit choice is kept."""
    from tracerl.learners.bptt import BPTT
    from tracerl.learners.reflect import Reflect
    agent = SpikingPolicy(obs_space, spaces.Discrete(3), n=2, hidden=16, frontend_learn=frontend_learn)
    learner = EProp(agent)
    assert learner.config["bound_groups"] == groups and learner.config["bound_norm"] == norm
    assert learner.bound_norm == norm
    assert learner.own_bound == (set(learner.names) if groups == "weight" else set(agent.shared_weights()))
    assert learner.entropy == learner.config["entropy"] == td_entropy  # td: 0.01 but from an image's dense layer
    assert BPTT(agent, entropy=None, signal="td").entropy == td_entropy
    # greedy: 0.003 unless a convolution learns
    assert EProp(agent, signal="greedy").entropy == Reflect(agent, entropy=None).entropy == greedy_entropy
    assert BPTT(agent, entropy=None).entropy == greedy_entropy  # bptt's own default signal is greedy
    explicit = EProp(agent, bound_groups="shared", bound_norm="l1", entropy=0.02)
    assert explicit.config["bound_groups"] == "shared" and explicit.bound_norm == "l1"
    assert explicit.entropy == explicit.config["entropy"] == 0.02


def test_a_pictures_dense_layer_can_start_from_smooth_random_fields():
    from tracerl.agents.spiking import smooth_fields

    image = spaces.Box(0, 255, (60, 80), np.uint8)  # 15 x 20 cells after pooling, 3 channels with the events
    plain = SpikingPolicy(image, spaces.Discrete(3), n=2, hidden=32, input_smooth=0.0)
    smooth = SpikingPolicy(image, spaces.Discrete(3), n=2, hidden=32, input_smooth=2.0)
    default = SpikingPolicy(image, spaces.Discrete(3), n=2, hidden=32)  # a picture's dense layer: smooth by default
    assert default.config["input_smooth"] == 2.0 and torch.equal(default.layers[0].w_in, smooth.layers[0].w_in)
    w0, w1 = plain.layers[0].w_in, smooth.layers[0].w_in
    torch.testing.assert_close(w1.norm(dim=2), w0.norm(dim=2))  # each neuron's norm kept: the same drive

    def neighbours(w):  # correlation of a weight with the one a cell to its right, same channel
        f = w.reshape(-1, 3, 15, 20)
        return float(torch.corrcoef(torch.stack([f[..., :-1].flatten(), f[..., 1:].flatten()]))[0, 1])

    assert abs(neighbours(w0)) < 0.05 and neighbours(w1) > 0.8
    one = torch.zeros(1, 1, 3 * 15 * 20)
    one[0, 0, 15 * 20 + 7 * 20 + 9] = 1.0  # a single cell of the second channel spreads over its neighbours only
    f = smooth_fields(one, (3, 15, 20), 1.0).reshape(3, 15, 20)
    assert f[0].abs().sum() == 0 and f[2].abs().sum() == 0 and f[1, 7, 9] == f[1].max() and f[1, 7, 10] > 0
    assert f[1, 7, 9 + 4] == 0  # beyond 3 sigma the kernel is cut
    grid = SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, hidden=16, input_smooth=2.0)  # a convolution: no change
    torch.testing.assert_close(grid.layers[0].w_in, SpikingPolicy(MINATAR, spaces.Discrete(3), n=2, hidden=16).layers[0].w_in)
    features = SpikingPolicy(spaces.Box(-1, 1, (6,), np.float32), spaces.Discrete(3), n=2, hidden=16)
    assert features.config["input_smooth"] == 0.0 and grid.config["input_smooth"] == 2.0  # as asked, though unused
    with pytest.raises(ValueError, match="input_smooth -1.0 is out of range"):
        SpikingPolicy(image, spaces.Discrete(3), input_smooth=-1.0)
