"""The bundled games: Gymnasium compliance, determinism, physics, events, batching, rendering, errors."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from tracerl import envs
from tracerl.envs import flappy as F
from tracerl.envs import pong as P
from tracerl.envs.scripted import SCRIPTED

PONG, FLAPPY = "tracerl/Pong-v0", "tracerl/FlappyBird-v0"
MODES = [
    (PONG, {}), (PONG, {"obs_type": "pixels"}), (PONG, {"opponent": "wall"}),
    (PONG, {"reward": "points", "episodic": True}), (PONG, {"render_mode": "rgb_array"}),
    (FLAPPY, {}), (FLAPPY, {"obs_type": "pixels"}), (FLAPPY, {"episodic": True}), (FLAPPY, {"obs_type": "gap"}),
    (FLAPPY, {"render_mode": "rgb_array"}), (FLAPPY, {"alive_reward": 0.1, "gap": 140, "spacing": 200}),
]


def rollout(env, steps, seed, policy_seed=0):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(policy_seed)
    out = [obs]
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        out.append((obs, r, term, info["event"]))
        if term:
            obs, _ = env.reset()
    return out


@pytest.mark.parametrize("env_id,kwargs", MODES)
def test_check_env_passes_without_warnings(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)


def test_short_names_resolve_and_unknown_names_are_refused():
    assert envs.resolve_id("pong") == PONG and envs.resolve_id("flappy") == FLAPPY
    assert envs.resolve_id("CartPole-v1") == "CartPole-v1"
    with pytest.raises(ValueError, match="'nope-v0'.*pong, flappy"):
        envs.resolve_id("nope-v0")


@pytest.mark.parametrize("env_id,kwargs", [(PONG, {}), (FLAPPY, {}), (PONG, {"obs_type": "pixels"})])
def test_same_seed_same_trajectory(env_id, kwargs):
    a = rollout(gym.make(env_id, **kwargs), 2000, seed=7)
    b = rollout(gym.make(env_id, **kwargs), 2000, seed=7)
    c = rollout(gym.make(env_id, **kwargs), 2000, seed=8)
    same = lambda x, y: all(np.array_equal(p[0], q[0]) and p[1:] == q[1:] for p, q in zip(x[1:], y[1:]))  # noqa
    assert same(a, b)
    assert not same(a, c)


def test_pong_ball_stays_in_court_and_obs_in_space():
    env = P.PongEnv()
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20_000):
        obs, *_ = env.step(int(rng.integers(3)))
        assert P.BALL_R - 1e-9 <= env.by <= P.HEIGHT - P.BALL_R + 1e-9
        assert 0 <= env.bx <= P.WIDTH
        assert P.PADDLE_H / 2 <= env.py <= P.HEIGHT - P.PADDLE_H / 2
        assert abs(env.vx) > 0 and np.hypot(env.vx, env.vy) <= P.MAX_SPEED + 1e-9
        assert env.observation_space.contains(obs)


def test_pong_return_angle_follows_contact_point_and_ball_speeds_up():
    env = P.PongEnv()
    env.reset(seed=0)
    angles = []
    for offset in (-20.0, 0.0, 20.0):  # ball meets the paddle above, at, below its centre
        env.py, env.by, env.bx, env.vx, env.vy, env.speed = 150.0, 150.0 + offset, P.RIGHT_FACE - 6, 5.0, 0.0, 5.0
        _, reward, _, _, info = env.step(0)
        assert info["event"] == "hit" and reward == 1.0
        assert env.vx < 0 and env.speed == pytest.approx(5.0 * P.ACCEL)
        angles.append(env.vy)
    assert angles[0] < 0 == angles[1] < angles[2]


def test_pong_events_and_rewards_agree():
    for reward_mode in ("hits", "points"):
        env = P.PongEnv(reward=reward_mode)
        env.reset(seed=1)
        rng = np.random.default_rng(1)
        seen = set()
        for _ in range(30_000):
            _, r, term, _, info = env.step(int(rng.integers(3)))
            assert not term  # one never-ending life
            seen.add(info["event"])
            expected = {"hit": 1.0 if reward_mode == "hits" else 0.0, "miss": -1.0,
                        "point_won": 1.0 if reward_mode == "points" else 0.0, None: 0.0}[info["event"]]
            assert r == expected
        assert seen == {None, "hit", "miss", "point_won"}
        assert info["score"][1] == info["misses"]


def test_pong_episode_ends_at_21_points():
    env = P.PongEnv(episodic=True, opponent="wall")
    env.reset(seed=0)
    for t in range(100_000):
        _, _, term, _, info = env.step(0)
        if term:
            break
    assert term and max(info["score"]) == 21 and info["score"][1] == 21


def test_pong_cpu_opponent_is_beatable_but_not_idle():
    """A tracking paddle never misses; the CPU returns most balls but loses some points."""
    vec = P.PongVecEnv(num_envs=8)
    obs, _ = vec.reset(seed=0)
    for _ in range(20_000):
        obs, _, _, _, info = vec.step(SCRIPTED[PONG](obs))
    assert info["misses"].sum() == 0
    rng = np.random.default_rng(0)
    hits0, points0 = info["hits"].copy(), info["score"][:, 0].copy()
    for _ in range(20_000):  # random play lets the CPU rally but it still loses points
        obs, _, _, _, info = vec.step(rng.integers(0, 3, 8))
    hits, points = (info["hits"] - hits0).sum(), (info["score"][:, 0] - points0).sum()
    # every ball the agent hits goes to the CPU, which returns most (an idle CPU: 1,276 points from 381 hits)
    assert 0 < points < 0.5 * hits


def test_flappy_bird_stays_in_world_and_events_agree():
    env = F.FlappyBirdEnv(alive_reward=0.05)
    obs, _ = env.reset(seed=3)
    policy = SCRIPTED[FLAPPY]
    rng = np.random.default_rng(0)
    seen, pipes_in_life = set(), 0
    for t in range(20_000):
        a = int(policy(obs[None])[0]) if t % 1000 < 900 else int(rng.integers(2))
        obs, r, term, _, info = env.step(a)
        assert not term
        assert 0 <= env.y and env.y + F.BIRD_H <= F.BASE_Y  # after a crash the bird has respawned
        assert env.observation_space.contains(obs)
        ev = info["event"]
        seen.add(ev)
        if ev == "crash":
            assert r == -1.0 and info["pipes"] == pipes_in_life
            pipes_in_life = 0
        elif ev == "pipe":
            assert r == pytest.approx(1.0 + 0.05)
            pipes_in_life += 1
            assert info["pipes"] == pipes_in_life
        else:
            assert r == pytest.approx(0.05)
    assert seen == {None, "pipe", "crash"}


def test_flappy_episode_ends_at_crash():
    env = F.FlappyBirdEnv(episodic=True)
    env.reset(seed=0)
    for _ in range(1000):
        _, r, term, _, info = env.step(0)  # never flap: falls to the ground
        if term:
            break
    assert term and r == -1.0 and info["event"] == "crash"


def test_scripted_beats_random():
    def play(env_id, policy, steps=20_000):
        vec = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point")
        obs, _ = vec.reset(seed=0)
        rng, events = np.random.default_rng(0), []
        for _ in range(steps // 4):
            a = SCRIPTED[env_id](obs) if policy == "scripted" else rng.integers(0, vec.single_action_space.n, 4)
            obs, _, _, _, info = vec.step(a)
            events.extend(e for e in info["event"] if e)
        return {e: events.count(e) for e in set(events)}

    s, r = play(PONG, "scripted"), play(PONG, "random")
    assert s.get("miss", 0) == 0 and r["hit"] / (r["hit"] + r["miss"]) < 0.4
    s, r = play(FLAPPY, "scripted"), play(FLAPPY, "random")
    assert s["pipe"] / max(s.get("crash", 0), 1) > 20 and r.get("pipe", 0) / r["crash"] < 0.1


def test_flappy_gap_observation_places_the_bird_within_each_gap():
    """obs_type="gap": the 8 features unchanged, then the bird's place in the next gap and the one
    after, -1 with its top at the gap's top, +1 with its bottom at the gap's bottom."""
    env = F.FlappyBirdEnv(obs_type="gap")
    plain = F.FlappyBirdEnv()
    obs, _ = env.reset(seed=3)
    plain.reset(seed=3)
    assert obs.shape == (10,) and env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs[:8], plain._obs())
    env.px = [100.0, 244.0, 388.0]  # the next pipe is the first, not yet passed
    env.top = [150.0, 200.0, 100.0]
    for y, want in [(150.0, [-1.0, -1.0]), (150.0 + 100 - 24, [1.0, 2 * 26 / 76 - 1]), (188.0, [0.0, -1.0]),
                    (200 + 38.0, [1.0, 0.0])]:
        env.y = y
        np.testing.assert_allclose(env._obs()[8:], want, atol=1e-6)


def test_raster_rects_lights_cells_by_centre_brighter_on_top_one_image_as_a_batch_row():
    """A cell is lit when its centre is inside the rectangle; where two overlap the brighter shows
    whichever comes first; an empty rectangle draws nothing; one image (numbers) is the batch's row."""
    from tracerl.envs.draw import raster_rects

    # cells of 2 px: centres 1, 3, 5, 7. x in [3, 7) holds centres 3, 5; y in [1, 3) holds 1 only.
    want = np.zeros((4, 4), np.uint8)
    want[0, 1:3] = 200
    np.testing.assert_array_equal(raster_rects([(3.0, 1.0, 7.0, 3.0)], [200], 4, 4, 2.0), want)
    np.testing.assert_array_equal(raster_rects([(np.full(2, 3.0), 1.0, 7.0, 3.0)], [200], 4, 4, 2.0), [want, want])
    big, small, empty = (0.0, 0.0, 8.0, 8.0), (2.0, 2.0, 6.0, 6.0), (5.0, 0.0, 5.0, 8.0)
    for rects, shade in [([big, small, empty], [90, 255, 150]), ([small, big, empty], [255, 90, 150])]:
        img = raster_rects(rects, shade, 4, 4, 2.0)
        assert img[0, 0] == 90 and (img[1:3, 1:3] == 255).all() and not (img == 150).any()
    rng = np.random.default_rng(0)
    xy = rng.uniform(-5, 45, (6, 3, 2))
    wh = rng.uniform(-3, 15, (6, 3, 2))
    rects = [(xy[:, r, 0], xy[:, r, 1], xy[:, r, 0] + wh[:, r, 0], xy[:, r, 1] + wh[:, r, 1]) for r in range(3)]
    batch = raster_rects(rects, [120, 255, 200], 10, 8, 5.0)
    assert batch.shape == (6, 10, 8) and batch.any()
    for i in range(6):
        np.testing.assert_array_equal(raster_rects([tuple(float(c[i]) for c in r) for r in rects],
                                                   [120, 255, 200], 10, 8, 5.0), batch[i])


@pytest.mark.parametrize("env_id,kwargs", [
    (PONG, {}), (PONG, {"opponent": "wall", "reward": "points"}), (PONG, {"obs_type": "pixels"}),
    (PONG, {"episodic": True, "opponent": "wall"}),
    (FLAPPY, {}), (FLAPPY, {"obs_type": "pixels"}), (FLAPPY, {"episodic": True}), (FLAPPY, {"obs_type": "gap"}),
])
def test_batched_equals_single_games(env_id, kwargs):
    """The native batch gives, step for step, what N single games behind same-step autoreset give:
    a game that ends is reset in that same step (the learners assume it: with next-step autoreset
    they trained on a transition from the terminal observation to a dummy step)."""
    from tracerl.learners.run import SameStepSyncVectorEnv

    n, steps = 4, 3000
    vec = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    singles = SameStepSyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(n)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs_v, _ = vec.reset(seed=100)
    obs_s, _ = singles.reset(seed=100)
    assert np.array_equal(obs_v, obs_s)
    rng = np.random.default_rng(0)
    ends = 0
    for t in range(steps):
        a = rng.integers(0, vec.single_action_space.n, n)
        obs_v, r_v, term_v, _, info_v = vec.step(a)
        obs_s, r_s, term_s, _, info_s = singles.step(a)
        assert np.array_equal(obs_v, obs_s) and np.array_equal(r_v, r_s) and np.array_equal(term_v, term_s), t
        events = info_s["event"]
        if term_s.any():  # the single games' events of a finishing step are in final_info
            events = np.where(info_s["_final_info"], info_s["final_info"]["event"], events)
            done = info_s["_final_obs"]
            assert np.array_equal(info_v["_final_obs"], done)
            assert np.array_equal(info_v["final_obs"][done], np.stack(info_s["final_obs"][done]))
            ends += int(term_s.sum())
        assert list(info_v["event"]) == list(events), t
    if kwargs.get("episodic"):
        assert ends > 0


def test_checkpoint_state_round_trip_continues_exactly():
    for cls in (P.PongEnv, F.FlappyBirdEnv):
        env = cls()
        env.reset(seed=5)
        for _ in range(500):
            env.step(1)
        state = env.state_dict()
        later = [env.step(t % 2)[0] for t in range(3000)]
        env2 = cls()
        env2.reset(seed=999)
        env2.load_state_dict(state)
        assert all(np.array_equal(a, env2.step(t % 2)[0]) for t, a in enumerate(later))
    for cls in (P.PongVecEnv, F.FlappyBirdVecEnv):
        vec = cls(num_envs=3)
        vec.reset(seed=5)
        for _ in range(500):
            vec.step(np.ones(3, int))
        state = vec.state_dict()
        later = [vec.step(np.full(3, t % 2))[0] for t in range(3000)]
        vec2 = cls(num_envs=3)
        vec2.reset(seed=1)
        vec2.load_state_dict(state)
        assert all(np.array_equal(a, vec2.step(np.full(3, t % 2))[0]) for t, a in enumerate(later))


@pytest.mark.parametrize("env_id,shape", [(PONG, (300, 400, 3)), (FLAPPY, (512, 288, 3))])
def test_rgb_array_frames_change_as_play_moves(env_id, shape):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.shape == shape and first.dtype == np.uint8
    for _ in range(10):
        env.step(1)
    assert not np.array_equal(first, env.render())


@pytest.mark.parametrize("env_id", [PONG, FLAPPY])
def test_pixel_observations_show_the_game(env_id):
    env = gym.make(env_id, obs_type="pixels")
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.max() == 255  # the ball / bird is drawn brightest
    nxt, *_ = env.step(1)
    assert not np.array_equal(obs, nxt)


@pytest.mark.parametrize("env_id", [PONG, FLAPPY])
def test_human_render_headless(env_id):
    env = gym.make(env_id, render_mode="human")
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)
    import pygame

    assert pygame.display.get_surface() is not None
    expected = (P.WIDTH, P.HEIGHT) if env_id == PONG else (F.WIDTH, F.HEIGHT)
    assert pygame.display.get_surface().get_size() == expected
    env.close()


@pytest.mark.parametrize("make,match", [
    (lambda: P.PongEnv(opponent="robot"), r"opponent 'robot'.*'cpu', 'wall'"),
    (lambda: P.PongEnv(reward="score"), r"reward 'score'.*'hits', 'points'"),
    (lambda: P.PongEnv(obs_type="rgb"), r"obs_type 'rgb'.*'features', 'pixels'"),
    (lambda: P.PongVecEnv(2, opponent="robot"), r"opponent 'robot'"),
    (lambda: F.FlappyBirdEnv(gap=300), r"gap 300 does not fit"),
    (lambda: F.FlappyBirdEnv(gap=10), r"gap 10 does not fit"),
    (lambda: F.FlappyBirdEnv(spacing=50), r"spacing 50 does not fit"),
    (lambda: F.FlappyBirdEnv(obs_type="rgb"), r"obs_type 'rgb'"),
    (lambda: F.FlappyBirdVecEnv(2, gap=300), r"gap 300"),
    (lambda: P.PongEnv(render_mode="window"), r"render_mode 'window'"),
])
def test_bad_arguments_raise_value_error_naming_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("n", [1, 2])
def test_same_step_sync_vector_env_equals_gymnasiums(n):
    from tracerl.learners.run import SameStepSyncVectorEnv, make_env

    ref = gym.make_vec("tracerl/Pong-v0", num_envs=n, vectorization_mode="sync", episodic=True,
                       vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    lean = make_env("pong", n, episodic=True)
    assert isinstance(lean, SameStepSyncVectorEnv)
    for a, b in zip(ref.reset(seed=5), lean.reset(seed=5)):
        assert a.keys() == b.keys() if isinstance(a, dict) else np.array_equal(a, b)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(6000):  # a few episodes of 21 points end on the way: same-step resets are compared too
        act = rng.integers(0, 3, n)
        ra, rb = ref.step(act), lean.step(act)
        for x, y in zip(ra[:4], rb[:4]):
            assert x.dtype == y.dtype and np.array_equal(x, y)
        assert list(ra[4]) == list(rb[4])
        for k in ra[4]:
            if k == "final_obs":
                assert all(np.array_equal(p, q) for p, q in zip(ra[4][k], rb[4][k]))
            elif k != "final_info":
                assert np.array_equal(ra[4][k], rb[4][k]) and ra[4][k].dtype == rb[4][k].dtype
        ends += int(ra[2].sum())
    assert ends > 0
