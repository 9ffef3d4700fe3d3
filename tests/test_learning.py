"""Agents and learners: batching, state round trips, NaN guard, variants, errors, a small learning check."""

import gc
import math
import os

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from tracerl import envs  # noqa: F401
from tracerl.agents import MLPPolicy, SpikingPolicy, make_agent
from tracerl.agents.policy import check_spaces
from tracerl.learners import make_learner
from tracerl.learners.common import ProgressSchedule
from tracerl.learners.eprop import EProp
from tracerl.learners.run import Measures, make_env, run
from tracerl.learners.run.loop import loop as run_loop

BOX = spaces.Box(-1, 1, (6,), np.float32)


def pong_lifetimes(n, seed, steps, signal="td", agent_kwargs=None, learner_kwargs=None):
    env = make_env("pong", n)
    obs, _ = env.reset(seed=seed)
    agent = SpikingPolicy(env.single_observation_space, env.single_action_space, n=n, seed=seed,
                          **{"hidden": 32, **(agent_kwargs or {})})
    learner = EProp(agent, signal=signal, **{"lr": 0.05, **(learner_kwargs or {})})
    actions, _ = play(env, obs, agent, learner, steps)
    return actions, agent, learner


def play(env, obs, agent, learner, steps):
    """The loop, recording actions: returns (N, steps) actions and the last observation."""
    actions = []
    for _ in range(steps):
        a = agent.act(obs)
        actions.append(a.copy())
        obs, r, term, trunc, _ = env.step(a)
        learner.step(r, term, obs, trunc)
    return np.stack(actions, 1), obs


@pytest.mark.parametrize("signal", ["td", "greedy"])
def test_each_lifetime_in_a_batch_follows_its_trajectory_alone(signal):
    batch, agent, _ = pong_lifetimes(3, seed=10, steps=400, signal=signal)
    for i in range(3):
        alone, agent_i, _ = pong_lifetimes(1, seed=10 + i, steps=400, signal=signal)
        np.testing.assert_array_equal(batch[i], alone[0])
        torch.testing.assert_close(agent.w_out[i], agent_i.w_out[0])
    assert not np.array_equal(batch[0], batch[1])  # the lifetimes differ from each other


def test_weights_move_and_no_graph_is_kept():
    _, agent, learner = pong_lifetimes(2, seed=0, steps=300)
    fresh = SpikingPolicy(BOX, spaces.Discrete(3), hidden=32, n=2, seed=0)
    assert not torch.allclose(agent.w_out, fresh.w_out)
    assert not torch.allclose(agent.layers[0].w_in, fresh.layers[0].w_in)
    for t in list(agent.state_dict().values()) + list(learner.state_dict().values()):
        assert t.grad_fn is None and not t.requires_grad


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_memory_stays_constant_over_200k_learning_steps():
    torch.set_num_threads(1)
    env = make_env("pong", 1)
    obs, _ = env.reset(seed=0)
    agent = SpikingPolicy(env.single_observation_space, env.single_action_space, hidden=128, n=1, seed=0).compile()
    learner = EProp(agent, signal="td").compile()
    measures, obs = run(agent, learner, env, obs, 10_000)  # compile, warm up allocator
    assert learner._compiled_step.direct  # the measured path calls the compiled graph without Dynamo
    gc.collect()
    before = _rss_mb()
    measures, obs = run(agent, learner, env, obs, 190_000, measures=measures)
    gc.collect()
    grown = _rss_mb() - before
    assert grown < 10.0, f"RSS grew by {grown:.1f} MB over 190k steps"
    assert all(t.grad_fn is None for t in list(agent.state_dict().values()) + list(learner.state_dict().values()))
    assert int(learner.steps) == 200_000


@pytest.mark.slow
@pytest.mark.parametrize("signal", ["td", "greedy"])
def test_compiled_step_follows_the_eager_lifetime(signal):
    """compile() (Dynamo once, then the compiled graph called directly) computes what eager does."""
    runs = []
    for compiled in (False, True):
        env = make_env("pong", 2)
        obs, _ = env.reset(seed=3)
        agent = SpikingPolicy(env.single_observation_space, env.single_action_space, hidden=32, n=2, seed=3)
        learner = EProp(agent, signal=signal, lr=0.05)
        if compiled:
            learner.compile()  # and the agent's forward, once: in the learner's step (td) or the agent's
        actions, _ = play(env, obs, agent, learner, 300)
        out = learner.step(0.0, False, obs, False)  # the figures for logging come back as in eager
        runs.append((actions, agent, learner, out))
    (a_eager, agent_e, _, out_e), (a_comp, agent_c, learner_c, out_c) = runs
    assert learner_c._compiled_step.direct
    if signal == "greedy":  # the learner does not run the forward: the agent's own is compiled
        assert agent_c._compiled_step.direct
    else:  # td runs the forward inside its compiled step; the agent's is not compiled a second time
        assert "_compiled_step" not in agent_c.__dict__
    assert (a_eager == a_comp).mean() > 0.99  # float rounding may flip a rare near-tie sample
    for k, w in agent_e.weights().items():
        torch.testing.assert_close(agent_c.weights()[k], w, rtol=1e-3, atol=1e-4, msg=k)
    assert out_c.keys() == out_e.keys()


def test_state_dict_round_trip_resumes_the_same_lifetime():
    def build(seed):
        env = make_env("pong", 4)
        obs, _ = env.reset(seed=seed)
        agent = SpikingPolicy(env.single_observation_space, env.single_action_space, hidden=32, n=4, seed=seed)
        return env, obs, agent, EProp(agent, signal="td", lr=0.05)

    env, obs, agent, learner = build(4)
    _, obs = play(env, obs, agent, learner, 200)
    clone = lambda sd: {k: v.clone() for k, v in sd.items()}  # noqa: E731  (state_dict shares storage)
    saved = clone(agent.state_dict()), clone(learner.state_dict()), env.state_dict(), obs.copy()
    first, _ = play(env, obs, agent, learner, 150)

    env2, _, agent2, learner2 = build(123)
    agent2.load_state_dict(saved[0])
    learner2.load_state_dict(saved[1])
    env2.load_state_dict(saved[2])
    second, _ = play(env2, saved[3], agent2, learner2, 150)
    np.testing.assert_array_equal(first, second)
    torch.testing.assert_close(agent.w_out, agent2.w_out)


def test_nan_stops_learning_with_clear_error_and_keeps_last_good_weights():
    _, agent, learner = pong_lifetimes(2, seed=0, steps=20)
    obs = np.zeros((2, 6), np.float32)
    agent.act(obs)
    good = {k: v.clone() for k, v in agent.weights().items()}
    with pytest.raises(FloatingPointError, match=r"non-finite advantage at step \d+ in lifetime\(s\) \[1\]"):
        learner.step(np.array([0.0, np.nan]), np.zeros(2, bool), obs)
    for k, w in agent.weights().items():
        torch.testing.assert_close(w[1], good[k][1])  # the broken lifetime was not updated
        assert torch.isfinite(w).all()


def test_episodic_games_batched_natively_teach_what_single_games_teach():
    """Episodes end and restart in the same step in both kinds of batch, so a learner sees the same
    transitions (none from a finished episode's last observation) and learns the same weights.
    (Before, the native batch reset a game on the step after its end, and the learner trained on a
    transition from the terminal observation to that reset.)"""
    weights = []
    for singles in (False, True):
        env = make_env("flappy", 4, singles=singles, episodic=True)
        obs, _ = env.reset(seed=3)
        agent = make_agent("spiking", env.single_observation_space, env.single_action_space, n=4, seed=3, hidden=16)
        learner = make_learner("eprop", agent, signal="td")
        measures, _ = run(agent, learner, env, obs, 400)
        assert measures.n_episodes.sum() >= 4  # episodes ended in both batches
        weights.append({k: w.clone() for k, w in agent.weights().items()})
    for k in weights[0]:
        torch.testing.assert_close(weights[0][k], weights[1][k], rtol=0, atol=0)


@pytest.mark.parametrize("kwargs", [
    {"neuron": "alif"}, {"recurrent": True}, {"hidden": [16, 12]}, {"encoder": "population"},
    {"feedback": "random"}, {"neuron": "alif", "recurrent": True, "ticks": 2},
])
def test_variants_run_learn_and_stay_finite(kwargs):
    _, agent, learner = pong_lifetimes(2, seed=1, steps=150, agent_kwargs=kwargs)
    fresh = SpikingPolicy(BOX, spaces.Discrete(3), n=2, seed=1, **{"hidden": 32, **kwargs})
    assert not torch.allclose(agent.layers[0].w_in, fresh.layers[0].w_in)
    assert all(torch.isfinite(w).all() for w in agent.weights().values())
    assert agent.layers[-1].rate.mean() > 0


def test_pixel_observations_use_the_pixel_encoder():
    env = make_env("pong", 2, obs_type="pixels")
    obs, _ = env.reset(seed=0)
    agent = make_agent("spiking", env.single_observation_space, env.single_action_space, hidden=16, n=2)
    assert agent.config["encoder"] == "pixels"
    learner = make_learner("eprop", agent, signal="greedy")
    run(agent, learner, env, obs, 50)
    assert agent.x.abs().sum() > 0


def one_learning_step(**learner_kwargs):
    """A fresh spiking agent's weight change from one step with reward 1 (the greedy advantage: 1)."""
    agent = SpikingPolicy(BOX, spaces.Discrete(3), n=1, seed=0, hidden=16, input_scale=3.0)
    learner = EProp(agent, **{"signal": "greedy", "lr": 1e-3, "entropy": 0.0, "reward_scale": False, **learner_kwargs})
    obs = np.random.default_rng(0).uniform(-1, 1, (22, 1, 6)).astype(np.float32)
    for t in range(20):  # activity first, with nothing to learn (the encoder normalises what it saw)
        agent.act(obs[t])
        learner.step(np.zeros(1), np.zeros(1, bool), obs[t + 1])
    agent.act(obs[20])
    before = {k: w.clone() for k, w in agent.weights().items()}
    learner.step(np.ones(1), np.zeros(1, bool), obs[21])
    return {k: (w - before[k]).abs() for k, w in agent.weights().items()}


def test_rms_moves_every_weight_by_the_same_step_at_first():
    """optimizer="rms" (RMSprop): from fresh moments the first update of each weight with a gradient
    is lr / sqrt(1 - rms_beta), whatever the gradient's size; sgd's steps follow the gradient."""
    rms = one_learning_step(optimizer="rms", rms_beta=0.99, bound_kappa=0.0)["w_out"]
    moved = rms[rms > 0]
    assert moved.numel() >= 10
    torch.testing.assert_close(moved, torch.full_like(moved, 1e-3 / math.sqrt(1 - 0.99)), rtol=1e-3, atol=0)
    sgd = one_learning_step(optimizer="sgd", bound_kappa=0.0)["w_out"]
    assert sgd[sgd > 0].std() > 0.1 * sgd[sgd > 0].mean()


def test_reward_scaling_makes_learning_blind_to_the_reward_scale():
    """reward_scale=True divides rewards by a running std of the return: rewards x100 teach the same
    weights; without it they teach other ones."""
    rng = np.random.default_rng(1)
    obs = rng.uniform(-1, 1, (200, 2, 6)).astype(np.float32)
    rewards = rng.choice([0.0, 0.0, 1.0, -1.0], (200, 2))
    rewards[0] = 0.0  # the scaler's first step passes the reward as it is

    def learn(scale: float, reward_scale: bool) -> dict:
        agent = SpikingPolicy(BOX, spaces.Discrete(3), n=2, seed=4, hidden=16)
        learner = EProp(agent, signal="td", lr=0.01, reward_scale=reward_scale)
        for t in range(200):
            agent.act(obs[t])
            learner.step(scale * rewards[t], np.zeros(2, bool), obs[(t + 1) % 200])
        return {k: w.clone() for k, w in agent.weights().items()}

    a, b = learn(1.0, True), learn(100.0, True)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-5)
    a, b = learn(1.0, False), learn(100.0, False)
    assert not torch.allclose(a["w_out"], b["w_out"], rtol=1e-2, atol=1e-4)


def test_lambda_schedules_widen_the_trace_the_learner_uses():
    """"linear": the learner's lambda goes from trace_lambda to lambda_end over lambda_steps steps,
    its horizon 1 / (1 - lambda) geometrically; "plateau": the horizon grows by ``factor`` after
    ``patience`` steps without a better reward rate, and not while the rate keeps improving."""
    from tracerl.learners.common import LambdaSchedule

    agent = SpikingPolicy(BOX, spaces.Discrete(3), n=2, seed=0, hidden=16)
    learner = EProp(agent, signal="greedy", trace_lambda=0.5, lambda_schedule="linear", lambda_end=0.99,
                    lambda_steps=100)
    obs, lams = np.zeros((2, 6), np.float32), []
    for _ in range(150):
        agent.act(obs)
        lams.append(float(learner.step(np.zeros(2), np.zeros(2, bool), obs)["lambda"][0]))
    horizon = 1 / (1 - np.array(lams))
    assert lams[0] == 0.5 and np.all(np.diff(lams[:101]) > 0) and lams[100:] == pytest.approx([0.99] * 50)
    assert horizon[50] == pytest.approx(np.sqrt(2 * 100), rel=1e-4)  # halfway: the geometric mean of 2 and 100

    flat = LambdaSchedule(1, 0.5, "plateau", lam_end=0.95, patience=10, factor=1.5)
    for t in range(1, 12):
        flat.update(torch.zeros(1))
        assert float(flat.lam) == pytest.approx(0.5 if t <= 10 else 1 - 1 / 3), t  # horizon 2 -> 3 at t = 11
    rising = LambdaSchedule(1, 0.5, "plateau", lam_end=0.95, patience=10, tol=0.0)
    for t in range(1, 60):
        rising.update(torch.full((1,), float(t)))
    assert float(rising.lam) == 0.5


def test_unsupported_spaces_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unsupported action space Box"):
        check_spaces(BOX, spaces.Box(-1, 1, (2,)))
    with pytest.raises(ValueError, match="unsupported observation space"):
        check_spaces(spaces.Discrete(4), spaces.Discrete(2))
    with pytest.raises(ValueError, match="unknown neuron 'izh'.*'lif', 'alif'"):
        SpikingPolicy(BOX, spaces.Discrete(3), neuron="izh")
    with pytest.raises(ValueError, match="unknown encoder 'fourier'"):
        SpikingPolicy(BOX, spaces.Discrete(3), encoder="fourier")
    with pytest.raises(ValueError, match="unknown signal 'sarsa'.*'greedy', 'td'"):
        EProp(SpikingPolicy(BOX, spaces.Discrete(3)), signal="sarsa")
    with pytest.raises(ValueError, match="unknown agent 'cnn'"):
        make_agent("cnn", BOX, spaces.Discrete(3))
    with pytest.raises(ValueError, match="unknown learner 'ppo'"):
        make_learner("ppo", MLPPolicy(BOX, spaces.Discrete(3)))


@pytest.mark.slow
@pytest.mark.parametrize("agent_name", ["spiking", "mlp"])
def test_td_learns_cartpole_on_a_small_budget(agent_name):
    """Fixed seeds, 8k steps: mean episode length at least doubles from the first episodes."""
    torch.set_num_threads(1)
    env = make_env("CartPole-v1", 4)
    obs, _ = env.reset(seed=0)
    agent = make_agent(agent_name, env.single_observation_space, env.single_action_space, n=4, seed=0,
                       hidden=64)
    learner = make_learner("eprop", agent, signal="td", lr=0.01)
    measures, _ = run(agent, learner, env, obs, 8_000, reward="failure")
    first = np.mean(measures.opening(10)[0])
    last = np.mean(measures.trailing(5)[0])
    assert last > 2 * first, (first, last)


def test_measures_count_game_events():
    m = Measures(2)
    m.update(np.array([1.0, -1.0]), np.zeros(2, bool), {"event": np.array(["hit", "miss"], dtype=object)})
    m.update(np.array([1.0, 0.0]), np.zeros(2, bool), {"event": np.array(["hit", None], dtype=object)})
    w = m.since_last()
    np.testing.assert_allclose(w["hit_rate"], [1.0, 0.0])
    np.testing.assert_allclose(w["reward_rate"], [1.0, -0.5])


def _events(*names):
    return {"event": np.array(names, dtype=object)}


def test_flappy_pipes_per_life_counts_a_life_that_never_ends():
    """150 pipes without a crash read 150 (the old figure over the steps between two log points read ~28)."""
    m = Measures(2)
    for t in range(1, 151):
        m.update(np.zeros(2), np.zeros(2, bool), _events("pipe", None))
        if t % 28 == 0:  # ~28 pipes between two log points
            assert m.since_last()["pipes_per_life"][0] == t
    assert m.since_last()["pipes_per_life"][0] >= 100
    assert m.since_last()["pipes_per_life"][1] == 0


def test_flappy_pipes_per_life_is_the_mean_of_the_last_lives():
    m = Measures(2)
    for life in range(30):  # lifetime 0: lives of 10 pipes; lifetime 1: of 0, 1, 2, ... 29 pipes
        for p in range(max(10, life)):
            m.update(np.zeros(2), np.zeros(2, bool), _events("pipe" if p < 10 else None, "pipe" if p < life else None))
        m.update(np.zeros(2), np.zeros(2, bool), _events("crash", "crash"))
    np.testing.assert_allclose(m.game()["pipes_per_life"], [10.0, np.mean(np.arange(10, 30))])
    for _ in range(5):  # a life going on below the mean does not count yet
        m.update(np.zeros(2), np.zeros(2, bool), _events("pipe", None))
    assert m.game()["pipes_per_life"][0] == 10.0
    for _ in range(30):  # once above, it does: (20 lives of 10 + 35) / 21
        m.update(np.zeros(2), np.zeros(2, bool), _events("pipe", None))
    np.testing.assert_allclose(m.game()["pipes_per_life"][0], (200 + 35) / 21)
    assert m.lives.shape == (2, 20)  # a ring: memory constant over the lifetime


def test_pong_hit_rate_over_the_last_100_arrivals_is_steady():
    """9 hits in 10 arrivals, ~11 arrivals per 1,000 steps: every log point reads 0.9 once 100
    arrivals are in, where the rate per 1,000 steps jumped between 0.6 and 1.0 with the misses' timing."""
    m, arrivals, reads = Measures(1), 0, []
    for t in range(1, 30_001):
        if t % 90 == 0:
            arrivals += 1
            m.update(np.zeros(1), np.zeros(1, bool), _events("miss" if arrivals % 10 == 0 else "hit"))
        else:
            m.update(np.zeros(1), np.zeros(1, bool), _events(None))
        if t % 1000 == 0:
            reads.append(m.since_last()["hit_rate"][0])
    assert arrivals > 300 and m.arrivals.shape == (1, 100)
    late = np.array(reads[10:])  # after the first 100 arrivals
    assert np.all(np.abs(late - 0.9) <= 0.01), late


@pytest.mark.parametrize("agent_name", ["spiking", "mlp"])
@pytest.mark.parametrize("learner_name,kwargs", [("reflect", {}), ("bptt", {"truncation": 20}),
                                                 ("bptt", {"truncation": 20, "signal": "td"})])
def test_reflect_and_bptt_learn_without_keeping_graphs(agent_name, learner_name, kwargs):
    env = make_env("pong", 2)
    obs, _ = env.reset(seed=0)
    agent = make_agent(agent_name, env.single_observation_space, env.single_action_space, n=2, seed=0, hidden=16)
    before = {k: w.detach().clone() for k, w in agent.weights().items()}
    learner = make_learner(learner_name, agent, **kwargs)
    run(agent, learner, env, obs, 400)
    changed = [k for k, w in agent.weights().items() if not torch.allclose(w, before[k])]
    assert changed, "no weight moved"
    assert all(torch.isfinite(w).all() for w in agent.weights().values())
    for name, buf in agent.named_buffers():  # after T steps / an event the graph is gone
        assert buf.grad_fn is None or learner_name == "bptt" and len(learner._r) > 0, name


def test_bptt_holds_its_graph_for_truncation_steps_then_drops_it():
    env = make_env("CartPole-v1", 2)
    obs, _ = env.reset(seed=0)
    agent = make_agent("spiking", env.single_observation_space, env.single_action_space, n=2, hidden=16)
    learner = make_learner("bptt", agent, truncation=30)
    run(agent, learner, env, obs, 29, reward="failure")
    assert len(learner._logp) == 29 and learner._logp[-1].grad_fn is not None
    w = agent.w_out.detach().clone()
    run(agent, learner, env, obs, 1, reward="failure")
    assert len(learner._logp) == 0 and not torch.allclose(agent.w_out, w)
    assert all(b.grad_fn is None for b in agent.buffers())


def test_nan_to_num_matches_torch_eager_and_compiled():
    from tracerl.learners.common import nan_to_num

    x = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5, -2.0, 3e38, 0.0] * 3)
    torch.testing.assert_close(nan_to_num(x), torch.nan_to_num(x), rtol=0, atol=0)
    torch.testing.assert_close(torch.compile(nan_to_num)(x), torch.nan_to_num(x), rtol=0, atol=0)


def test_episodes_are_kept_in_fixed_arrays_with_first_final_and_best_100():
    """The summary bench_learning prints, from a checkpoint's old per-episode lists replayed into
    the fixed arrays; then many more episodes leave every array its size."""
    rising = [(1, float(r)) for r in range(300)]  # returns 0..299
    bump = [(1, 0.0)] * 100 + [(1, 5.0)] * 100 + [(1, 1.0)] * 100
    m = Measures(4)
    m.load_state({"episodes": [rising, bump, [(1, 2.0)] * 10, []]})
    s = m.episodic_summary()
    np.testing.assert_allclose(s["first100_return"][:3], [49.5, 0.0, 2.0])
    np.testing.assert_allclose(s["final100_return"][:3], [249.5, 1.0, 2.0])
    np.testing.assert_allclose(s["best100"][:3], [249.5, 5.0, 2.0])
    assert all(np.isnan(s[k][3]) for k in s)
    np.testing.assert_allclose(m.trailing(5)[1][:3], [297.0, 1.0, 2.0])
    np.testing.assert_allclose(m.opening(10)[1][:3], [4.5, 0.0, 2.0])
    sizes = {k: v.shape for k, v in vars(m).items() if isinstance(v, np.ndarray)}
    for t in range(3000):  # every lifetime ends an episode of 3 steps, return 3, every third step
        m.update(np.ones(4), np.full(4, t % 3 == 2), {})
    assert {k: v.shape for k, v in vars(m).items() if isinstance(v, np.ndarray)} == sizes
    np.testing.assert_allclose(m.trailing()[0], [3.0] * 4)
    np.testing.assert_allclose(m.n_episodes, [1300, 1300, 1010, 1000])


def test_critic_settles_at_the_td_fixed_point_under_skewed_td_errors():
    """+1 per step, each step ends the episode with probability 0.05: V = 1 / (1 - 0.99 * 0.95) = 16.8.

    TD errors are small and positive on most steps and large and negative at the rare ends. A step
    bound that grows with |delta| (ObGD's max(|delta|, 1)) weighs the ends too little and settled
    near 80 here; the bound on the trace alone is a shrunken gradient step and finds 16.8."""
    from tracerl.learners.common import LinearCritic
    gen = torch.Generator().manual_seed(0)
    n, gamma = 64, 0.99
    critic = LinearCritic(n, 1, lr=0.05, gamma=gamma, lam=0.0, kappa=2.0)
    phi = torch.ones(n, 1)
    values = []
    for t in range(6000):
        end = torch.rand(n, generator=gen) < 0.05
        v = critic.value(phi)
        delta = 1.0 + gamma * torch.where(end, torch.zeros(n), critic.value(phi)) - v
        critic.update(phi, delta)
        critic.reset_traces(end)
        if t >= 3000:
            values.append(v.mean().item())
    assert abs(np.mean(values) - 1 / (1 - gamma * 0.95)) < 1.0, np.mean(values)


def test_mlp_critic_traces_are_the_discounted_sum_of_autograd_gradients():
    """MLPCritic's written-out gradients, accumulated as its traces, against autograd over a short
    window (with the weights held: a zero TD error), and its value against the same network's."""
    from tracerl.learners.common import MLPCritic
    gen = torch.Generator().manual_seed(0)
    n, dim, gamma, lam = 3, 6, 0.9, 0.7
    critic = MLPCritic(n, dim, lr=0.1, gamma=gamma, lam=lam, hidden=5, seeds=[0, 1, 2])
    critic.u.copy_(torch.randn(n, dim, generator=gen))
    critic.v.copy_(torch.randn(n, 5, generator=gen))
    params = {k: getattr(critic, k).clone().requires_grad_(True) for k in ("u", "v", "W")}
    want = {k: torch.zeros_like(p) for k, p in params.items()}
    for _ in range(4):
        phi = torch.randn(n, dim, generator=gen)
        hidden = torch.relu(torch.einsum("nhf,nf->nh", params["W"], phi))
        value = (params["u"] * phi).sum(-1) + (params["v"] * hidden).sum(-1)
        torch.testing.assert_close(critic.value(phi), value.detach())
        grads = torch.autograd.grad(value.sum(), list(params.values()))
        for (k, w), g in zip(want.items(), grads):
            want[k] = gamma * lam * w + g
        critic.update(phi, torch.zeros(n))
    for k, w in want.items():
        torch.testing.assert_close(getattr(critic, "e_" + k), w)
    assert (critic.W != 0).all() and not torch.equal(critic.W[0], critic.W[1])  # random, per lifetime


def test_critics_gradient_in_their_features_is_autograds():
    """``grad_phi`` (what ``critic_torso`` sends into the network) against autograd, both critics."""
    from tracerl.learners.common import LinearCritic, MLPCritic
    gen = torch.Generator().manual_seed(0)
    n, dim = 3, 6
    for critic in (LinearCritic(n, dim), MLPCritic(n, dim, hidden=5, seeds=[0, 1, 2])):
        for buf in critic.buffers():
            if not buf.abs().sum():  # the zero-initialised weights (and traces): give them values
                buf.copy_(torch.randn(buf.shape, generator=gen))
        phi = torch.randn(n, dim, generator=gen).requires_grad_(True)
        (want,) = torch.autograd.grad(critic.value(phi).sum(), phi)
        torch.testing.assert_close(critic.grad_phi(phi.detach()), want)


def test_mlp_critic_fits_a_value_a_linear_critic_cannot():
    """Each step a state (x1, x2) in {0, 1}^2 whose value is x1 XOR x2 (one-step episodes). The best
    linear fit on (x1, x2, 1) leaves a squared error of 0.25; the hidden layer fits it."""
    from tracerl.learners.common import LinearCritic, MLPCritic
    gen = torch.Generator().manual_seed(0)
    n = 8
    critics = {"linear": LinearCritic(n, 3, lr=0.05, gamma=0.9, lam=0.0),
               "mlp": MLPCritic(n, 3, lr=0.05, gamma=0.9, lam=0.0, hidden=16, seeds=list(range(n)))}
    errors = {k: [] for k in critics}
    for t in range(6000):
        x = torch.randint(0, 2, (n, 2), generator=gen).float()
        phi = torch.cat([x, torch.ones(n, 1)], 1)
        target = (x[:, 0] != x[:, 1]).float()
        for k, c in critics.items():
            delta = target - c.value(phi)
            c.update(phi, delta)
            c.reset_traces(torch.ones(n, dtype=torch.bool))
            if t >= 5000:
                errors[k].append(delta.pow(2).mean().item())
    linear, mlp = np.mean(errors["linear"]), np.mean(errors["mlp"])
    assert linear > 0.2 and mlp < 0.05, (linear, mlp)


def test_an_entropy_target_holds_a_policy_that_would_collapse():
    """A bandit that pays one of three actions: with a fixed small entropy coefficient the policy
    turns near-deterministic; with ``entropy_target=0.5`` the coefficient rises from its floor (the
    fixed value, kept while the policy is less sure than the target) until the entropy sits near half
    of log 3."""
    torch.set_num_threads(1)
    obs = np.tile(np.array([0.5, -0.5, 0.2, 0.9], np.float32), (2, 1))

    def life(**kwargs):
        agent = make_agent("spiking", spaces.Box(-1, 1, (4,), np.float32), spaces.Discrete(3), n=2, seed=0,
                           hidden=32)
        learner = EProp(agent, signal="greedy", lr=0.01, entropy=0.003, **kwargs)
        entropy, coef = [], []
        for _ in range(3000):
            a = agent.act(obs)
            out = learner.step((a == 0).astype(np.float32), np.zeros(2, bool), obs, np.zeros(2, bool))
            entropy.append(out["entropy"])
            coef.append(out.get("entropy_coef", torch.full((2,), 0.003)))
        return torch.stack(entropy[-500:]).mean(0) / math.log(3), torch.stack(coef)

    fixed, _ = life()
    held, coef = life(entropy_target=0.5, entropy_rate=0.01)
    assert (fixed < 0.2).all() and (held > 0.3).all() and (held < 0.7).all(), (fixed, held)
    assert (coef[0] == 0.003).all() and (coef >= 0.003).all() and (coef[-1] > 0.005).all()


@pytest.mark.slow
def test_default_settings_keep_exploring_and_learn_cartpole_from_its_own_reward():
    """No preset, CartPole's own +1 per step (a dense, same-signed reward that used to drive every
    lifetime to one action within a few hundred steps): 3 lifetimes, 20k steps."""
    from tracerl.learners.presets import DEFAULT
    torch.set_num_threads(1)
    env = make_env("CartPole-v1", 3)
    obs, _ = env.reset(seed=0)
    agent = make_agent("spiking", env.single_observation_space, env.single_action_space, n=3, seed=0,
                       **DEFAULT["agent"])
    learner = make_learner("eprop", agent, **DEFAULT["learner"])
    entropy = []
    for t in range(20_000):
        a = agent.act(obs)
        obs, r, term, trunc, info = env.step(a)
        entropy.append(learner.step(r, term, obs, trunc)["entropy"])
        if t == 0:
            measures = Measures(3)
        measures.update(r, term | trunc, info)
    assert (torch.stack(entropy[-2000:]).mean(0) > 0.1).all()  # a collapsed policy sits near 0
    first = measures.opening(10)[0]
    last = measures.trailing(20)[0]
    assert (last > 3 * first).all() and (last > 60).all(), (first, last)


def test_presets_per_game_and_signal_and_the_defaults_everywhere_else():
    from tracerl.learners.presets import DEFAULT, DEFAULT_GREEDY, DEFAULT_GREEDY_AGENT, preset
    assert preset("tracerl/Pong-v0")["learner"] == DEFAULT["learner"]  # td on Pong: the defaults
    greedy = preset("tracerl/Pong-v0", signal="greedy")
    assert greedy["learner"]["signal"] == "greedy" and greedy["learner"]["trace_lambda"] == 0.98
    assert greedy["learner"]["baseline_beta"] == 0.999 and greedy["agent"]["homeostasis"] == 1e-4
    assert preset("tracerl/Pong-v0", "reflect")["learner"]["trace_lambda"] == 0.98  # reflect is greedy
    assert preset("CartPole-v1")["reward"] == "failure"
    assert preset("CartPole-v1", tuned=False) == DEFAULT
    assert preset("Acrobot-v1") == DEFAULT
    cartpole_greedy = preset("CartPole-v1", signal="greedy")  # no greedy preset there: the greedy defaults
    assert cartpole_greedy["learner"] == {**DEFAULT["learner"], **DEFAULT_GREEDY, "signal": "greedy"}
    assert cartpole_greedy["reward"] == "env"
    assert cartpole_greedy["agent"] == {**DEFAULT["agent"], **DEFAULT_GREEDY_AGENT} and DEFAULT_GREEDY_AGENT["neuron"] == "alif"
    assert "neuron" not in DEFAULT["agent"] and "neuron" not in greedy["agent"]  # td and Pong's greedy preset: LIF
    assert "neuron" not in preset("CartPole-v1", "reflect")["agent"]  # measured with eprop alone
    from tracerl.learners.run.settings import resolve
    assert resolve({"env": "cartpole", "signal": "greedy"})[0]["agent_kwargs"]["neuron"] == "alif"  # as train.py runs it
    assert resolve({"env": "pong", "signal": "greedy"})[0]["agent_kwargs"]["homeostasis"] == 1e-4
    assert "homeostasis" not in resolve({"env": "pong", "signal": "greedy", "agent": "mlp"})[0]["agent_kwargs"]
    assert "neuron" not in resolve({"env": "cartpole", "signal": "greedy", "agent": "mlp"})[0]["agent_kwargs"]
    assert resolve({"env": "cartpole", "signal": "greedy", "neuron": "lif"})[0]["agent_kwargs"]["neuron"] == "lif"
    assert resolve({"env": "cartpole", "signal": "greedy"})[0]["agent_kwargs"]["temperature"] == 0.7
    assert resolve({"env": "cartpole", "signal": "greedy", "temperature": 1.0})[0]["agent_kwargs"]["temperature"] == 1.0
    assert resolve({"env": "cartpole"})[0]["agent_kwargs"].get("temperature", 1.0) == 1.0  # td keeps T = 1
    assert preset("Acrobot-v1", signal="greedy")["learner"]["trace_lambda"] == DEFAULT_GREEDY["trace_lambda"]


def test_a_preset_tuned_for_one_observation_gives_way_when_the_run_asks_for_another():
    from tracerl.learners.presets import DEFAULT_GREEDY, preset
    from tracerl.learners.run.settings import resolve
    flappy = preset("tracerl/FlappyBird-v0")
    assert flappy["env"]["obs_type"] == "gap" and preset("tracerl/FlappyBird-v0", obs_type="gap") == flappy
    pixels = preset("tracerl/FlappyBird-v0", obs_type="pixels")  # the game's own picture preset
    assert pixels["env"]["obs_type"] == "pixels" and pixels["agent"]["conv_stride"] == 4
    assert pixels["agent"]["temperature"] == 1.0 and pixels["learner"]["entropy"] is None
    # Pong's greedy preset is for its features; its picture has no preset: the greedy defaults
    assert preset("tracerl/Pong-v0", signal="greedy", obs_type="features")["learner"]["trace_lambda"] == 0.98
    assert preset("tracerl/Pong-v0", signal="greedy", obs_type="pixels")["learner"]["lambda_end"] == \
        DEFAULT_GREEDY["lambda_end"]
    config, _ = resolve({"env": "flappy", "set": ["env.obs_type=pixels"]})  # as train.py passes it
    assert config["agent_kwargs"]["conv_stride"] == 4 and config["env_kwargs"] == {"obs_type": "pixels"}
    config, _ = resolve({"env": "flappy"})
    assert config["agent_kwargs"]["temperature"] == 0.05 and config["env_kwargs"] == {"obs_type": "gap"}


def test_greedy_sees_the_future_an_episode_loses_when_it_terminates():
    """Greedy on a game paying +1 per step alive: once the baseline is 1, a step alive carries no
    signal and a termination carries A = r - b - b lam / (1 - lam), the rewards it will not get."""
    agent = SpikingPolicy(BOX, spaces.Discrete(2), hidden=8, n=2, seed=0)
    learner = EProp(agent, signal="greedy", trace_lambda=0.9, sparse_baseline=False, reward_scale=False)
    learner.baseline.b.fill_(1.0)
    obs = np.zeros((2, 6), np.float32)
    agent.act(obs)
    out = learner.step(np.ones(2), np.array([False, True]), obs, np.array([False, False]))
    torch.testing.assert_close(out["advantage"], torch.tensor([0.0, -9.0]))
    agent.act(obs)  # truncation is not the agent's doing: no missing future
    out = learner.step(np.ones(2), np.array([False, False]), obs, np.array([True, False]))
    torch.testing.assert_close(out["advantage"], torch.tensor([0.0, 0.0]))


def test_signal_bound_keeps_a_large_greedy_signal_to_a_bounded_step():
    """With signal_bound the ObGD bound also sees |A|: a 1000x larger signal moves the weights by
    the same bounded amount, where without it the step grows with the signal."""
    def moved(scale, bound):
        agent = SpikingPolicy(BOX, spaces.Discrete(2), hidden=8, n=1, seed=0)
        learner = EProp(agent, signal="greedy", lr=0.1, sparse_baseline=False, reward_scale=False,
                        entropy=0.0, signal_bound=bound)
        before = agent.w_out.clone()
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs = rng.uniform(-1, 1, (1, 6)).astype(np.float32)
            agent.act(obs)
            learner.step(np.zeros(1), np.zeros(1, bool), obs, np.zeros(1, bool))
        agent.act(obs)
        learner.step(np.full(1, -scale), np.zeros(1, bool), obs, np.zeros(1, bool))
        return (agent.w_out - before).abs().sum().item()

    assert moved(1000.0, bound=False) > 100 * moved(1.0, bound=False)
    assert moved(1000.0, bound=True) < 2 * moved(10.0, bound=True)


def test_temperature_falls_as_the_reward_rate_rises_and_stays_where_it_does_not():
    """ProgressSchedule: a lifetime whose reward rate climbs is lowered to T_end (not below);
    one whose rate stays flat (noisy) or at zero keeps exploring near where it started."""
    n, steps = 3, 40_000
    schedule = ProgressSchedule(n, 0.1, patience=1000)
    temp = torch.full((n, 1), 0.3)
    g = torch.Generator().manual_seed(0)
    for t in range(steps):
        p = torch.tensor([0.5 * t / steps, 0.2, 0.0])
        schedule((torch.rand(n, generator=g) < p).float(), temp)
    torch.testing.assert_close(temp[0], torch.tensor([0.1]))
    assert temp[1].item() >= 0.3 * 0.9 ** 2 - 1e-6 and temp[2].item() == pytest.approx(0.3)


@pytest.mark.parametrize("learner_name", ["eprop", "reflect"])
def test_learner_lowers_the_agents_own_temperature_which_its_softmax_and_gradients_use(learner_name):
    """temperature_start: T per lifetime in the agent's state (a checkpoint keeps it), used by pi
    and by d log pi / dy; the learner lowers it for the lifetime whose reward rate rises (bptt,
    whose graph holds T over its window, refuses it in one line)."""
    agent = SpikingPolicy(BOX, spaces.Discrete(3), hidden=8, n=2, seed=0, temperature=0.05, temperature_start=0.5)
    with pytest.raises(ValueError, match="bptt keeps the softmax's temperature fixed; temperature_start=0.5"):
        make_learner("bptt", agent)
    kwargs = {"signal": "greedy", "reward_scale": False} if learner_name == "eprop" else {}
    learner = make_learner(learner_name, agent, **kwargs)
    learner.temperature.patience = 50
    obs = np.random.default_rng(0).uniform(-1, 1, (2, 6)).astype(np.float32)
    for t in range(1500):
        agent.act(obs)
        out = learner.step(np.array([float(t % 100 < t / 15), 0.0]), np.zeros(2, bool), obs, np.zeros(2, bool))
    assert agent.temp[0].item() < 0.5 * 0.9 ** 5 and agent.temp[1].item() == pytest.approx(0.5)
    torch.testing.assert_close(out["temperature"], agent.temp[:, 0])  # logged as learner/temperature
    assert "temp" in agent.state_dict()
    agent.temp.copy_(torch.tensor([[0.05], [0.5]]))
    y = agent.w_out.new_tensor(np.random.default_rng(1).normal(size=(2, 3)))
    agent.pi.copy_(torch.softmax(y / agent.temp, -1))
    agent.action.zero_()
    want = (torch.nn.functional.one_hot(agent.action, 3) - agent.pi) / torch.tensor([[0.05], [0.5]])
    torch.testing.assert_close(agent.logp_cotangent(), want)
    agent.act(obs)  # the forward samples from softmax(y / T) with the lifetime's own T
    assert agent.entropy()[0] < agent.entropy()[1]


def test_lr_end_shrinks_the_step_of_the_lifetime_that_improves_and_only_its():
    """lr_end: the actor's step is lr_scale times the bounded one; lr_scale falls by lr_factor at
    each new best reward rate, to lr_end / lr and not below, in the lifetime that improves; the
    flat one keeps lr. The weights move by that much less: two learners that differ only in the
    scale, fed the same steps, move their weights by the ratio of their scales."""
    def build(lr_end):
        agent = SpikingPolicy(BOX, spaces.Discrete(3), hidden=8, n=2, seed=0)
        learner = make_learner("eprop", agent, signal="greedy", reward_scale=False, lr=0.03, lr_end=lr_end,
                               lr_factor=0.5)
        return agent, learner

    with pytest.raises(ValueError, match="lr_factor"):
        make_learner("eprop", SpikingPolicy(BOX, spaces.Discrete(3), hidden=8, n=2, seed=0), lr_factor=1.0)
    agent, learner = build(0.003)
    learner.lr_schedule.patience = 50
    obs = np.random.default_rng(0).uniform(-1, 1, (2, 6)).astype(np.float32)
    for t in range(1500):
        agent.act(obs)
        out = learner.step(np.array([float(t % 100 < t / 15), 0.0]), np.zeros(2, bool), obs, np.zeros(2, bool))
    torch.testing.assert_close(learner.lr_scale, torch.tensor([0.1, 1.0]))
    torch.testing.assert_close(out["lr"], torch.tensor([0.003, 0.03]))
    assert "lr_scale" in learner.state_dict()

    moved = []
    for scale in (1.0, 0.25):
        agent, learner = build(0.001)
        learner.lr_scale.fill_(scale)
        learner.lr_schedule.patience = 10**9  # held: only the scale differs
        before = {k: w.clone() for k, w in agent.weights().items()}
        for t in range(30):  # no reward, no signal: the same weights and traces until the last step pays
            agent.act(obs)
            learner.step(np.array([1.0, -1.0]) * (t == 29), np.zeros(2, bool), obs, np.zeros(2, bool))
        moved.append(sum((w - before[k]).abs().sum().item() for k, w in agent.weights().items()))
    assert moved[1] == pytest.approx(0.25 * moved[0], rel=1e-4) and moved[0] > 0


# -- a time limit is not a failure (Gymnasium's final_obs) ----------------------------------------
class FirstThenRewarded(gym.Env):
    """State A at a reset (leaving it pays 0), then state B for ever (each step pays 1), cut by a
    time limit. With no end, V(B) = 1 / (1 - gamma) and V(A) = gamma V(B)."""

    observation_space, action_space = spaces.Box(0.0, 1.0, (2,), np.float32), spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([1.0, 0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([0.0, 1.0], np.float32), float(self.t > 1), False, False, {}


@pytest.mark.parametrize("learner_name", ["eprop", "bptt"])
def test_a_time_limit_is_no_failure_the_critic_settles_at_the_discounted_sum(learner_name):
    if "test/FirstThenRewarded-v0" not in gym.registry:
        gym.register("test/FirstThenRewarded-v0", entry_point=FirstThenRewarded, max_episode_steps=5)
    env = make_env("test/FirstThenRewarded-v0", 2)
    obs, _ = env.reset(seed=0)
    agent = MLPPolicy(env.single_observation_space, env.single_action_space, hidden=4, n=2, encoder="normalize")
    kwargs = {"reward_scale": False} if learner_name == "eprop" else {}
    learner = make_learner(learner_name, agent, signal="td", gamma=0.9, **kwargs)
    run_loop(agent, learner, env, obs, 600)
    for o, v_true in (([1.0, 0.0], 9.0), ([0.0, 1.0], 10.0)):
        agent.reset_state()
        agent.advance(torch.tensor([o, o]))
        # bootstrapping from the next episode's first observation settles near 7.3 and 7.9 instead
        assert torch.allclose(learner.critic.value(agent.features()).detach(), torch.full((2,), v_true), atol=0.1)


def test_peeking_at_a_last_observation_leaves_the_spiking_network_as_it_was():
    from tracerl.learners.common import LinearCritic, peek_value

    env = make_env("pong", 2)
    obs, _ = env.reset(seed=0)
    agent = make_agent("spiking", env.single_observation_space, env.single_action_space, n=2, hidden=16)
    for _ in range(20):
        obs, *_ = env.step(agent.act(obs))
    before = {k: t.clone() for k, t in agent.state_dict().items()}
    critic = LinearCritic(2, agent.feature_dim)
    critic.w.normal_()
    v = peek_value(agent, critic, torch.as_tensor(obs) + 1.0)
    assert all(torch.equal(before[k], t) for k, t in agent.state_dict().items())
    agent.advance(torch.as_tensor(obs) + 1.0)
    assert torch.allclose(v, critic.value(agent.features()))  # what the peek saw is the step it undid


# -- every learner raises the return on an easy game -------------------------------------------------
def one_step_bandit(learner_name: str, kwargs: dict, steps: int = 1500, n: int = 2, sign: float = 1.0):
    """A contextual bandit of one-step episodes: the observation is (s, -s), s = +-1 at random; the
    action that names s's sign pays +1, the other -1 (times ``sign``). Returns the mean reward of
    the first and of the last 300 steps."""
    rng = np.random.default_rng(0)
    agent = make_agent("spiking", spaces.Box(-1.0, 1.0, (2,), np.float32), spaces.Discrete(2), n=n, seed=0, hidden=16)
    learner = make_learner(learner_name, agent, **kwargs)
    s = rng.choice([-1.0, 1.0], n)
    rewards = []
    for _ in range(steps):
        right = np.where(agent.act(np.stack([s, -s], 1).astype(np.float32)) == (s > 0), 1.0, -1.0)
        rewards.append(right)
        s = rng.choice([-1.0, 1.0], n)
        learner.step(sign * right, np.ones(n, bool), np.stack([s, -s], 1).astype(np.float32))
    return float(np.mean(rewards[:300])), float(np.mean(rewards[-300:]))


@pytest.mark.slow
@pytest.mark.parametrize("learner_name,kwargs", [
    ("eprop", {"signal": "td"}), ("eprop", {"signal": "greedy", "trace_lambda": 0.0}), ("reflect", {}),
    ("bptt", {"truncation": 5})], ids=["eprop-td", "eprop-greedy-lambda0", "reflect", "bptt"])
def test_every_learner_raises_the_return_on_a_one_step_bandit(learner_name, kwargs):
    first, last = one_step_bandit(learner_name, kwargs)
    assert last > 0.9, (first, last)  # right at least 95% of the time by the end (chance: 0)
    _, wrong_sign = one_step_bandit(learner_name, kwargs, steps=600, sign=-1.0)
    assert wrong_sign < 0.0  # rewarding the wrong action teaches the wrong action: the signal's sign matters


def test_eprop_takes_the_mlp_critic_by_name():
    """``critic="mlp"`` builds the MLP critic on the agent's features; its state is in the learner's
    state_dict (so a checkpoint keeps it); a bad name is one line naming the allowed ones."""
    from gymnasium import spaces
    from tracerl.agents.spiking import SpikingPolicy
    from tracerl.learners.common import MLPCritic
    from tracerl.learners.eprop import EProp
    agent = SpikingPolicy(spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2), n=2, hidden=8)
    learner = EProp(agent, critic="mlp", critic_hidden=5)
    assert isinstance(learner.critic, MLPCritic) and learner.critic.W.shape == (2, 5, agent.feature_dim)
    assert {"critic.W", "critic.e_W", "critic.v"} <= set(learner.state_dict())
    obs = np.zeros((2, 3), np.float32)
    for t in range(20):
        agent.act(obs + t / 20)
        learner.step(np.ones(2), np.zeros(2, bool), obs + (t + 1) / 20)
    assert learner.critic.v.abs().sum() > 0  # the hidden layer's read has learned
    with pytest.raises(ValueError, match="unknown critic 'deep'; allowed: 'linear', 'mlp'"):
        EProp(agent, critic="deep")


@pytest.mark.parametrize("kind", ["spiking", "mlp"])
def test_critic_torso_fits_a_value_through_the_hidden_layer_alone(kind):
    """``critic_torso``: the critic's TD error trains the layer it reads. With the critic's own weights
    held (critic_lr 0) and the actor's too (lr 0), one-step episodes in one of two states, paying 1 in
    the first and 0 in the second, leave V's error where it starts without the torso step; with it,
    the error of the last 100 steps is a quarter of that or less."""
    space = spaces.Box(0.0, 1.0, (6,), np.float32)
    states = np.stack([np.linspace(0.0, 1.0, 6), np.linspace(1.0, 0.0, 6)]).astype(np.float32)
    n = 4
    errors = {}
    for torso in (0.0, 0.3):
        agent = (SpikingPolicy(space, spaces.Discrete(2), hidden=16, n=n, seed=0, homeostasis=0.0, ticks=8) if kind == "spiking"
                 else MLPPolicy(space, spaces.Discrete(2), hidden=16, n=n, seed=0))
        learner = EProp(agent, signal="td", lr=0.0, entropy=0.0, critic_lr=0.0, reward_scale=False, critic_torso=torso)
        w = torch.randn(learner.critic.w.shape, generator=torch.Generator().manual_seed(1)).abs()
        learner.critic.w.copy_(w * (torch.arange(w.shape[1]) < 16))  # V reads the hidden layer alone, V >= 0
        rng = np.random.default_rng(0)
        which = rng.integers(0, 2, n)
        err = []
        for _ in range(400):
            agent.act(states[which])
            target = torch.as_tensor(1.0 - which, dtype=torch.float32)
            err.append((target - learner.critic.value(agent.features())).abs())
            which_next = rng.integers(0, 2, n)
            learner.step(target.numpy(), np.ones(n, bool), states[which_next])
            which = which_next
        errors[torso] = (torch.stack(err[:100]).mean(0), torch.stack(err[-100:]).mean(0))
    start, still = errors[0.0]
    assert (still > 0.5 * start).all(), (start, still)  # nothing else moves V
    _, fitted = errors[0.3]
    assert (fitted < 0.25 * still).all(), (fitted, still)
