"""scripts/compare.py, scripts/bench_vs_baselines.py and scripts/bench_bptt_memory.py on tiny runs.

The runs come from train.py in-process (16 neurons, eager, a few hundred steps); the two benchmarks
run their children as subprocesses, at sizes that take seconds.
"""

import csv
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import script
from tracerl import envs  # noqa: F401  (registers the bundled games)
from tracerl.learners.run import compare as lib
from tracerl.learners.run import stats

bench_bptt_memory = script("bench_bptt_memory")
compare = script("compare")
train = script("train")

SMALL = ["--hidden", "16", "--no-compile", "--log-every", "100", "--hist-every", "0", "--checkpoint-every", "0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two settings x two seeds of CartPole (plus train.py's __mean aggregates)."""
    logdir = tmp_path_factory.mktemp("runs")
    for learner in ("eprop", "reflect"):
        assert train.main(["--env", "CartPole-v1", "--learner", learner, "--lifetimes", "2", "--steps", "400",
                           *SMALL, "--logdir", str(logdir)]) == 0
    return logdir


def last_value(run_dir: Path, tag: str) -> float:
    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    ea.Reload()
    return ea.Scalars(tag)[-1].value


def read_table(png: Path) -> list[dict]:
    with open(png.with_suffix(".csv")) as f:
        return list(csv.DictReader(f))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_figure_and_table_group_seeds_and_skip_the_aggregates(runs, tmp_path):
    png = tmp_path / "cmp.png"
    assert compare.main([str(runs), "--out", str(png)]) == 0
    image = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    assert png.stat().st_size > 20_000 and image.shape[0] > 300 and image.shape[1] > 600
    assert image.std() > 10  # lines and bands, not a blank canvas
    rows = read_table(png)
    assert sorted(r["group"] for r in rows) == ["CartPole-v1__eprop", "CartPole-v1__reflect"]
    for r in rows:
        assert r["seeds"] == "2" and r["measure"] == "rollout/ep_rew_mean" and r["env"] == "CartPole-v1"
        low, iqm, high = float(r["ci_low"]), float(r["iqm"]), float(r["ci_high"])
        assert float(r["min"]) <= iqm <= float(r["max"]) and low <= iqm <= high
        learner = r["group"].split("__")[1]
        seeds = sorted(runs.glob(f"CartPole-v1__{learner}__[01]__*[0-9]"))
        assert len(seeds) == 2
        expected = [last_value(d, "rollout/ep_rew_mean") for d in seeds]  # the final figure: the last value
        assert sorted(float(v) for v in r["per_seed"].split()) == pytest.approx(sorted(expected), rel=1e-3)


def test_labels_group_by_and_final_steps(runs, tmp_path):
    png = tmp_path / "a.png"
    assert compare.main([str(runs / "CartPole-v1__*"), "--label", "all=*CartPole*", "--out", str(png), "--x", "steps"]) == 0
    (row,) = read_table(png)
    assert row["group"] == "all" and row["seeds"] == "4"
    assert compare.main([str(runs), "--group-by", "run", "--out", str(png), "--x", "time",
                         "--tag", "charts/reward_rate", "--final-steps", "200"]) == 0
    rows = read_table(png)
    assert len(rows) == 4 and all(r["seeds"] == "1" for r in rows)
    for r in rows:  # the mean of the values logged in the last 200 steps: at 300 and 400
        run = lib.load_run(str(runs / r["group"]))
        steps, _, values = run.series("charts/reward_rate")
        assert float(r["iqm"]) == pytest.approx(values[steps > 200].mean())
        assert list(steps[steps > 200]) == [300, 400]
    assert compare.build_parser().parse_args(["x", "--final-window", "200"]).final_steps == 200  # the old name


@pytest.mark.parametrize("name, group", [
    ("CartPole-v1__eprop__3__1712345678", "CartPole-v1__eprop"),  # tracerl, bench_vs_baselines
    ("BreakoutNoFrameskip-v4__ppo_atari__1__1700000000", "BreakoutNoFrameskip-v4__ppo_atari"),  # CleanRL
    ("pong_test__2", "pong_test"),  # train.py --run-name pong_test --lifetimes N
    ("PPO_3", "PPO"),  # SB3's tensorboard_log
    ("plain", "plain"),
])
def test_default_grouping_strips_seed_and_time(name, group):
    run = lib.Run(path=f"/x/{name}", name=name, env="", start=0.0, tags=[])
    assert lib.group_of(run, lib.DEFAULT_GROUP, []) == group


def test_iqm_and_its_interval():
    assert stats.iqm(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == pytest.approx(3.0)  # the outlier is cut
    assert stats.iqm(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(2.5)
    assert stats.iqm_ci([5.0, 5.0, 5.0]) == (5.0, 5.0, 5.0)
    center, low, high = stats.iqm_ci([0.2, 0.5, 0.9, 0.4, 0.7])
    assert 0.2 <= low <= center <= high <= 0.9


def test_a_missing_tag_names_the_tags_there(runs, tmp_path, capsys):
    assert compare.main([str(runs), "--tag", "pong/hit_rate", "--out", str(tmp_path / "x.png")]) == 2
    err = one_error_line(capsys)
    assert "'pong/hit_rate' not found" in err and "charts/reward_rate" in err and "rollout/ep_len_mean" in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("what", ["missing", "empty", "only_mean"])
def test_a_path_without_runs_exits_2(runs, tmp_path, capsys, what):
    path = {"missing": tmp_path / "nowhere", "empty": tmp_path, "only_mean": next(runs.glob("*__mean"))}[what]
    assert compare.main([str(path), "--out", str(tmp_path / "x.png")]) == 2
    assert str(path) in one_error_line(capsys)


@pytest.mark.slow
def test_bench_vs_baselines_side_by_side(tmp_path, capfd):
    pytest.importorskip("stable_baselines3")
    bench_vs_baselines = script("bench_vs_baselines")

    logdir = tmp_path / "b"
    assert bench_vs_baselines.main(["--envs", "cartpole", "--steps", "1000", "--seeds", "2", "--logdir", str(logdir),
                                    "--log-every", "200", "--train-args", "--no-compile --hidden 16"]) == 0
    (md,) = logdir.glob("bench_vs_baselines_*.md")
    text = md.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| CartPole-v1 |")]
    assert len(rows) == 2 and "tracerl eprop" in rows[0] and "SB3 PPO" in rows[1]
    assert "> 1,000 (0/2 reached" in rows[0]  # 1k steps: nobody balances yet
    assert md.with_suffix(".png").stat().st_size > 20_000
    table = read_table(md.with_suffix(".png"))
    assert sorted(r["group"] for r in table) == ["CartPole-v1__eprop", "CartPole-v1__ppo"]
    ppo = sorted(logdir.glob("CartPole-v1__ppo__*"))
    assert len(ppo) == 2
    run = lib.load_run(str(ppo[0]))
    for tag in ("rollout/ep_len_mean", "rollout/ep_rew_mean", "charts/reward_rate", "charts/SPS", "train/loss"):
        assert tag in run.tags
    steps, seconds, _ = run.series("rollout/ep_len_mean")
    assert list(steps) == [200, 400, 600, 800, 1000]  # the budget exactly, though a rollout holds 8 x 32 steps
    assert np.all(np.diff(seconds) >= 0) and seconds[0] >= 0


@pytest.mark.slow
def test_bench_vs_baselines_ppo_in_parallel_logs_the_games_own_reward(tmp_path):
    """Acrobot's zoo settings scale rewards (VecNormalize): the logged return must be the game's own."""
    pytest.importorskip("stable_baselines3")
    bench_vs_baselines = script("bench_vs_baselines")

    logdir = tmp_path / "b"
    assert bench_vs_baselines.main(["--envs", "acrobot", "--steps", "8000", "--seeds", "2", "--only", "ppo",
                                    "--ppo-parallel", "2", "--logdir", str(logdir), "--log-every", "8000"]) == 0
    (md,) = logdir.glob("bench_vs_baselines_*.md")
    (row,) = [line for line in md.read_text().splitlines() if line.startswith("| Acrobot-v1 |")]
    assert "2 processes, 2 at a time" in row
    for path in sorted(logdir.glob("Acrobot-v1__ppo__*")):
        _, _, values = lib.load_run(str(path)).series("rollout/ep_rew_mean")
        assert -500 <= values[-1] <= -100  # -1 per step of 500-step episodes (scaled, it would be near 0)
        config = (path / "config.yaml").read_text()
        assert "normalize: true" in config and "Acrobot-v1" in config


def test_ppo_plays_the_game_tracerls_preset_builds(tmp_path):
    """Flappy Bird's preset gives the agent the bird's place in the gaps (obs_type "gap"): PPO's
    game gets the same keywords, so both sides see the same 10 inputs."""
    pytest.importorskip("stable_baselines3")
    import yaml

    bench_vs_baselines = script("bench_vs_baselines")
    assert bench_vs_baselines.ppo_child(str(tmp_path), "tracerl/FlappyBird-v0", 0, 256, 1, 256) == 0
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["env_kwargs"] == {"obs_type": "gap"}
    assert gym.make("tracerl/FlappyBird-v0", **config["env_kwargs"]).observation_space.shape == (10,)


def test_bench_vs_baselines_ppo_settings():
    bench_vs_baselines = script("bench_vs_baselines")

    cfg, source = bench_vs_baselines.ppo_settings("CartPole-v1", None)
    assert cfg["n_envs"] == 8 and cfg["n_epochs"] == 20 and "RL-Zoo" in source
    cfg, source = bench_vs_baselines.ppo_settings("tracerl/Pong-v0", None, "atari")  # no zoo entry: borrowed
    assert cfg["n_steps"] == 128 and cfg["ent_coef"] == 0.01 and "no entry for tracerl/Pong-v0" in source
    cfg, source = bench_vs_baselines.ppo_settings("tracerl/Pong-v0", 4, "defaults")
    assert cfg == {"n_envs": 4} and source == "SB3 PPO defaults, n_envs 4"


def test_bench_vs_baselines_steps_to_bar():
    bench_vs_baselines = script("bench_vs_baselines")

    s = {"bar": 475.0, "reached": [3000, None, 5000], "steps": 10_000, "seeds": 3}
    assert bench_vs_baselines.steps_to_bar(s) == "5,000 (2/3 reached; 3k - 5k)"
    s["reached"] = [3000, None, None]
    assert bench_vs_baselines.steps_to_bar(s).startswith("> 10,000 (1/3 reached")


def test_bptt_memory_bench_table(tmp_path, capsys):
    out = tmp_path / "bptt.md"
    assert bench_bptt_memory.main(["--truncations", "10", "20", "--steps", "40", "--warmup", "5", "--hidden", "16",
                                   "--no-compile", "--out", str(out)]) == 0
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| eprop")
            or line.startswith("| bptt")]
    assert [r[1].strip() for r in rows] == ["online", "10", "20"]
    for r in rows:
        ms, slowest, start, end, peak = (float(x) for x in (r[3], r[4], r[5], r[6], r[7].rstrip("* ")))
        assert 0 < ms <= slowest and start > 0 and end > 0 and peak >= start - 1


def test_bench_frozen_plays_each_variant_of_a_checkpoint(tmp_path, capsys):
    bench_frozen = script("bench_frozen")
    assert train.main(["--env", "pong", "--lifetimes", "2", "--steps", "300", "--logdir", str(tmp_path),
                       "--no-compile", "--hidden", "16", "--log-every", "100"]) == 0
    (ckpt,) = tmp_path.glob("*__mean/checkpoint.pt")
    assert bench_frozen.main([str(ckpt), "--steps", "400", "--no-compile"]) == 0
    table = capsys.readouterr().out.split("| variant |")[1]
    rows = {line.split("|")[1].strip(): line.split("|")[3].split() for line in table.splitlines()[2:] if line}
    assert sorted(rows) == sorted(bench_frozen.VARIANTS)
    for values in rows.values():  # Pong: hits over arrivals, each lifetime's own
        assert len(values) == 2 and all(0.0 <= float(v) <= 1.0 for v in values)
    diffs = {line.split("|")[1].strip(): line.split("|")[4].split()[0] for line in table.splitlines()[2:] if line}
    first = next(iter(bench_frozen.VARIANTS))
    assert diffs[first] == "-"
    for name, values in rows.items():  # each row minus the first, lifetime by lifetime
        if name != first:
            expected = np.mean([float(a) - float(b) for a, b in zip(values, rows[first])])
            assert abs(float(diffs[name]) - expected) <= 0.016  # each figure printed to 0.01
    assert bench_frozen.main([str(ckpt), "--lifetimes", "2"]) == 2
    assert "--lifetimes 2 is not a lifetime of this checkpoint; allowed: 0 to 1" in capsys.readouterr().err
