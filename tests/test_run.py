"""tracerl.learners.run piece by piece: settings, the loop and its callbacks, checkpoints, the run
log, the games' measures, the shared statistics. (test_train.py runs them together through train.py.)"""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from tracerl.agents import MLPPolicy, SpikingPolicy
from tracerl.learners import make_learner
from tracerl.learners.run import GAMES, Measures, make_env, measure_of
from tracerl.learners.run.build import build_agent, build_env, build_learner
from tracerl.learners.run.checkpoint import load_checkpoint, save_checkpoint, to_numpy, to_torch
from tracerl.learners.run.games import AUTO_TAGS, EPISODIC, final_steps
from tracerl.learners.run.loop import Callback, loop
from tracerl.learners.run.runlog import StepStats, run_names
from tracerl.learners.run.settings import UsageError, applicable, resolve
from tracerl.learners.run.stats import bootstrap_ci, iqm, trailing_mean

BOX = spaces.Box(-1, 1, (6,), np.float32)


# -- settings ----------------------------------------------------------------------------------
def test_presets_then_config_file_then_flags_then_set(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("env: flappy\ntemperature: 0.5\nlr: 0.002\nentropy: 0.01\n")
    assert resolve({"env": "flappy"})[0]["agent_kwargs"]["temperature"] == 0.05  # Flappy Bird's preset
    config, _ = resolve({"config": str(cfg)})
    assert config["agent_kwargs"]["temperature"] == 0.5 and config["learner_kwargs"]["lr"] == 0.002
    config, _ = resolve({"config": str(cfg), "temperature": 0.7, "set": ["temperature=0.9", "learner.lr=0.004"]})
    assert config["agent_kwargs"]["temperature"] == 0.9  # --set beats the flag, which beats the file
    assert config["learner_kwargs"]["lr"] == 0.004 and config["learner_kwargs"]["entropy"] == 0.01


def test_a_preset_sets_the_games_keywords_and_env_set_overrides_them():
    """Flappy Bird's preset reads the bird's place in the gaps (obs_type "gap"): the game train.py
    builds has those 10 inputs; --set env.KEY wins over the preset, --preset default drops it, and a
    game without such a preset gets none."""
    config, _ = resolve({"env": "flappy"})
    assert config["env_kwargs"] == {"obs_type": "gap"}
    env = build_env(config, 1, singles=False, render=False)
    assert env.single_observation_space.shape == (10,)
    env.close()
    assert resolve({"env": "flappy", "set": ["env.obs_type=features"]})[0]["env_kwargs"] == {"obs_type": "features"}
    assert resolve({"env": "flappy", "preset": "default"})[0]["env_kwargs"] == {}
    assert resolve({"env": "pong"})[0]["env_kwargs"] == {}
    assert resolve({"env": "flappy", "signal": "greedy"})[0]["env_kwargs"] == {"obs_type": "gap"}


def test_a_presets_falling_temperature_plays_at_its_start_under_bptt():
    """bptt keeps T fixed (it refuses temperature_start): Flappy Bird's td preset, T from 0.1 to
    0.05 under eprop, runs under bptt at 0.1 instead of failing."""
    agent = resolve({"env": "flappy"})[0]["agent_kwargs"]
    assert (agent["temperature_start"], agent["temperature"]) == (0.1, 0.05)
    config, _ = resolve({"env": "flappy", "learner": "bptt", "hidden": 8})
    assert "temperature_start" not in config["agent_kwargs"] and config["agent_kwargs"]["temperature"] == 0.1
    env = build_env(config, 1, singles=False, render=False)
    agent = build_agent(config, env)
    assert agent.temp is None and agent.softmax_t == 0.1
    build_learner(config, agent)
    env.close()


def test_bptts_old_window_keyword_is_read_as_truncation():
    """"window" names the live window alone now; bptt's T steps are "truncation". Old commands,
    config files and checkpoints (their config) with window=... still resolve."""
    config, _ = resolve({"learner": "bptt", "set": ["window=30"]})
    assert config["learner_kwargs"]["truncation"] == 30 and "window" not in config["learner_kwargs"]
    old = {**config, "learner_kwargs": {"lr": 0.001, "window": 50}}
    assert resolve({}, base=old)[0]["learner_kwargs"] == {"lr": 0.001, "truncation": 50}


def test_misspelt_keywords_are_refused_not_swallowed():
    with pytest.raises(TypeError, match="unexpected keyword argument 'tiks'"):
        MLPPolicy(BOX, spaces.Discrete(3), tiks=4)
    agent = SpikingPolicy(BOX, spaces.Discrete(3), hidden=8)
    for learner, typo in (("reflect", "lamda"), ("bptt", "truncaton")):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{typo}'"):
            make_learner(learner, agent, **{typo: 1})
    with pytest.raises(UsageError, match="unknown setting 'tiks'"):
        resolve({"set": ["tiks=4"]})
    # a preset, written for the spiking agent, applies to the MLP where it can
    assert applicable(MLPPolicy, {"hidden": 64, "ticks": 4, "temperature": 0.5}) == {"hidden": 64, "temperature": 0.5}


# -- the loop -------------------------------------------------------------------------------------
class Record(Callback):
    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_start(self, state):
        self.calls.append(("start", state.t))

    def on_step(self, state):
        self.calls.append(("step", state.t))
        return state.t != self.stop_at

    def on_end(self, state, finished):
        self.calls.append(("end", state.t, finished))


def small_run():
    env = make_env("pong", 2)
    obs, _ = env.reset(seed=0)
    agent = SpikingPolicy(env.single_observation_space, env.single_action_space, n=2, hidden=8)
    learner = make_learner("eprop", agent)
    return agent, learner, env, obs


def test_the_loop_calls_back_in_order_and_stops_when_asked():
    agent, learner, env, obs = small_run()
    a, b = Record(), Record(stop_at=3)
    state = loop(agent, learner, env, obs, 10, t=1, callbacks=[a, b])
    assert state.t == 3 and state.start == 1 and state.measures.steps == 2
    assert a.calls == [("start", 1), ("step", 2), ("step", 3), ("end", 3, True)]  # every callback sees each step
    assert set(state.out) >= {"advantage", "update_norm", "value"} and state.reward.shape == (2,)


def test_an_exception_ends_the_loop_unfinished_and_reaches_the_caller():
    agent, learner, env, obs = small_run()

    class Boom(Callback):
        def on_step(self, state):
            if state.t == 2:
                raise FloatingPointError("non-finite advantage")

    rec = Record()
    with pytest.raises(FloatingPointError):
        loop(agent, learner, env, obs, 10, callbacks=[rec, Boom()])
    assert rec.calls[-1] == ("end", 2, False)


def test_without_a_learner_the_loop_plays_and_resets_finished_episodes():
    env = make_env("CartPole-v1", 2)
    obs, _ = env.reset(seed=0)
    agent = SpikingPolicy(env.single_observation_space, env.single_action_space, n=2, hidden=8)
    w = agent.w_out.clone()
    state = loop(agent, None, env, obs, 300)
    assert torch.equal(agent.w_out, w) and state.measures.n_episodes.sum() > 2


# -- checkpoints, the run log --------------------------------------------------------------------
def test_checkpoint_round_trip_and_foreign_files(tmp_path):
    games = to_torch({"y": np.arange(3.0), "k": [np.int64(4)]})
    state = {"format": "tracerl-train-checkpoint", "version": 1, "games": games}
    save_checkpoint(str(tmp_path / "c.pt"), state)
    back = load_checkpoint(str(tmp_path / "c.pt"))
    games = to_numpy(back["games"])
    assert np.array_equal(games["y"], np.arange(3.0)) and games["k"] == [4]
    assert not (tmp_path / "c.pt.tmp").exists()
    torch.save({"format": "other"}, tmp_path / "o.pt")
    with pytest.raises(UsageError, match="is not a tracerl train.py checkpoint"):
        load_checkpoint(str(tmp_path / "o.pt"))
    torch.save({"format": "tracerl-train-checkpoint", "version": 99}, tmp_path / "v.pt")
    with pytest.raises(UsageError, match="has format version 99; this train.py reads 1"):
        load_checkpoint(str(tmp_path / "v.pt"))


def test_step_stats_mean_each_output_and_survive_a_checkpoint():
    stats = StepStats()
    for v in (1.0, 2.0, 3.0):
        stats.add({"a": torch.tensor([v, 10 * v])})
    saved = StepStats()
    saved.load_state_dict(stats.state_dict())
    for s in (stats, saved):
        assert np.allclose(s.means()["a"], [2.0, 20.0])
    assert stats.means() == {}  # counting starts afresh


def test_run_names_one_per_lifetime_never_an_existing_one(tmp_path):
    config = {"lifetimes": 2, "seed": 5, "env": "tracerl/Pong-v0", "learner": "eprop"}
    names, mean = run_names(config, str(tmp_path), None)
    assert names[0].startswith("Pong-v0__eprop__5__") and names[1].startswith("Pong-v0__eprop__6__")
    assert mean == names[0] + "__mean"
    (tmp_path / names[0]).mkdir()
    assert run_names(config, str(tmp_path), None)[0] != names
    assert run_names(config, str(tmp_path), "x") == (["x__5", "x__6"], "x__mean")
    (tmp_path / "x__mean").mkdir()
    with pytest.raises(UsageError, match="run 'x' already exists"):
        run_names(config, str(tmp_path), "x")


# -- the games' measures, statistics -----------------------------------------------------------------
def test_one_registry_of_the_games_measures():
    m = Measures(1)
    m.update(np.zeros(1), np.zeros(1, bool), {"event": np.array(["hit"], dtype=object)})
    m.update(np.zeros(1), np.zeros(1, bool), {"event": np.array(["crash"], dtype=object)})
    assert set(m.game()) == {g.key for g in GAMES.values()}  # every game's key is what Measures computes
    assert measure_of("tracerl/Pong-v0").tag == "pong/hit_rate" and measure_of("CartPole-v1") == EPISODIC
    assert final_steps("pong/hit_rate") == 20_000 and final_steps("rollout/ep_rew_mean") == 0
    assert AUTO_TAGS[:2] == ("pong/hit_rate", "flappy/pipes_per_life")


def test_a_foreign_game_that_says_hit_is_not_judged_as_pong():
    import gymnasium as gym

    class Hits(gym.Env):  # someone else's game, with an event named as Pong's
        observation_space, action_space = spaces.Box(-1.0, 1.0, (2,), np.float32), spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.zeros(2, np.float32), {}

        def step(self, action):
            return np.zeros(2, np.float32), 1.0, False, False, {"event": "hit"}

    if "test/Hits-v0" not in gym.registry:
        gym.register("test/Hits-v0", entry_point=Hits, max_episode_steps=10)
    env = make_env("test/Hits-v0", 2)
    obs, _ = env.reset(seed=0)
    agent = MLPPolicy(env.single_observation_space, env.single_action_space, hidden=4, n=2)
    state = loop(agent, None, env, obs, 30)
    assert state.measures.game() == {} and state.measures.n_episodes.tolist() == [3, 3]
    pong = make_env("pong", 2)
    obs, _ = pong.reset(seed=0)
    agent = MLPPolicy(pong.single_observation_space, pong.single_action_space, hidden=4, n=2)
    assert "hit_rate" in loop(agent, None, pong, obs, 300).measures.game()  # a bundled game's events count


def test_statistics_over_seeds():
    mean, low, high = bootstrap_ci([1.0, 2.0, 3.0, np.nan])
    assert mean == 2.0 and 1.0 <= low < 2.0 < high <= 3.0
    assert bootstrap_ci([]) == pytest.approx((math.nan,) * 3, nan_ok=True)
    assert iqm(np.array([0.0, 1.0, 2.0, 3.0, 1000.0])) == pytest.approx(2.0)
    history = [np.array([1.0, np.nan]), np.array([3.0, np.nan]), np.array([5.0, 2.0])]
    assert np.allclose(trailing_mean(history, 2), [4.0, 2.0])
    assert np.isnan(trailing_mean(history[:2], 2)[1])


def test_a_frozen_agent_keeps_its_own_plasticity_still():
    """freeze(): no learner, and neither homeostasis nor the encoder's running statistics move."""
    env = make_env("pong", 2)
    obs, _ = env.reset(seed=0)
    agent = SpikingPolicy(env.single_observation_space, env.single_action_space, n=2, hidden=8).freeze()
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    loop(agent, None, env, obs, 50)
    after = agent.state_dict()
    for key in ("layers.0.bias", "encoder.mean", "encoder.m2", "encoder.count", "w_out"):
        assert torch.equal(after[key], before[key]), key
    assert not torch.equal(after["layers.0.v"], before["layers.0.v"])  # it plays: activity goes on


def test_a_small_float_rgb_game_is_drawn_scaled_up_in_uint8():
    """MinAtar renders 10 x 10 float frames in [0, 1]: the live window shows them 30 times larger."""
    pygame = pytest.importorskip("pygame")
    from tracerl.learners.run.live import GameView

    class Tiny:
        unwrapped = None

        def render(self):
            frame = np.zeros((10, 10, 3))
            frame[9, 3] = (0.2, 0.4, 0.6)  # the paddle's cell
            return frame

    view = GameView(Tiny())
    assert view.size == (300, 300)
    surface = pygame.Surface(view.size)
    view.draw(surface)
    pixels = pygame.surfarray.array3d(surface)  # (width, height, 3)
    assert tuple(pixels[3 * 30 + 15, 9 * 30 + 15]) == (51, 102, 153) and pixels[0, 0].sum() == 0


# -- evaluation ----------------------------------------------------------------------------------
class RightPays(gym.Env):
    """Action 1 pays 1, action 0 nothing; 10 steps to an episode."""

    observation_space, action_space = spaces.Box(-1.0, 1.0, (2,), np.float32), spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), float(action), False, self.t >= 10, {}


def test_evaluation_plays_frozen_copies_by_the_most_probable_action_and_by_sampling():
    from tracerl.learners.run.evaluate import evaluate

    if "test/RightPays-v0" not in gym.registry:
        gym.register("test/RightPays-v0", entry_point=RightPays)
    config, _ = resolve({"env": "test/RightPays-v0", "agent": "mlp", "hidden": 4, "lifetimes": 3})
    env = make_env(config["env"], 3)
    agent = MLPPolicy(env.single_observation_space, env.single_action_space, hidden=4, n=3)
    agent.b2[:, 1] = math.log(0.7 / 0.3)  # pi(right) = 0.7 whatever the input (w2 x h is 0 at x = 0)
    agent.w2.zero_()
    before = {k: t.clone() for k, t in agent.state_dict().items()}
    figures = evaluate(agent, config, episodes=4)
    assert all(torch.equal(before[k], t) for k, t in agent.state_dict().items())  # the lifetime is untouched
    assert figures["eval/mean_reward"].tolist() == [10.0] * 3 and figures["eval/mean_ep_length"].tolist() == [10.0] * 3
    assert (figures["eval/mean_reward_sampled"] < 10.0).all() and (figures["eval/mean_reward_sampled"] > 3.0).all()
    pong, _ = resolve({"env": "pong", "hidden": 8, "lifetimes": 2})
    env = make_env("pong", 2)
    spiking = SpikingPolicy(env.single_observation_space, env.single_action_space, hidden=8, n=2)
    figures = evaluate(spiking, pong, steps=300)
    assert {"eval/hit_rate", "eval/reward_rate", "eval/hit_rate_sampled"} <= set(figures)
