"""scripts/sweep.py: sweeps on a local Ray instance, a failing trial, an interrupted and resumed sweep.

One Ray instance (2 CPUs) serves the module: sweep.main runs in-process on it, and the
interrupted sweep runs as a subprocess that joins it with --address. Every trial is tiny: a
16-neuron network, eager, a few hundred steps.
"""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT, script
from tracerl.learners.run import sweep as lib
from tracerl.learners.run.checkpoint import load_checkpoint
from tracerl.learners.run.stats import bootstrap_ci

sweep = script("sweep")

SMALL = ["--no-compile", "--set", "hidden=16", "--set", "hist_every=0", "--set", "checkpoint_every=0",
         "--log-every", "100"]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def results(path: Path) -> dict[str, dict]:
    with open(path / "results.csv") as f:
        return {row["trial"]: row for row in csv.DictReader(f)}


def snapshot(run_dir: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in run_dir.iterdir()}


@pytest.fixture(scope="module")
def ray_address():
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    lib.start_ray(None, 2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


# -- without Ray, and bad values -------------------------------------------------------------------
def test_without_ray_it_says_how_to_install_it_and_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert sweep.main(["--grid", "lr=0.01,0.02", "--logdir", str(tmp_path)]) == 2
    assert one_error_line(capsys) == 'sweep.py: error: Ray Tune is not installed; pip install -e ".[sweep]"'
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args, expected", [
    (["--grid", "lr"], "invalid --grid entry 'lr'"),
    (["--grid", "lr="], "invalid --grid entry 'lr='"),
    (["--grid", "tau_foo=1,2"], "unknown setting 'tau_foo'"),
    (["--grid", "neuron=lif,izhikevich"], "izhikevich"),
    (["--env", "Pong-v9"], "'Pong-v9'"),
    (["--grid", "seed=1,2"], "--grid cannot sweep 'seed'"),
    (["--grid", "lr=loguniform:1e-4:1e-2"], "it needs --random N"),
    (["--grid", "lr=loguniform:0:1e-2", "--random", "3"], "both > 0"),
    (["--grid", "lr=0.1,0.2", "--set", "lr=0.3"], "lr is both in --grid and --set"),
    (["--seeds", "0"], "--seeds 0 is out of range; allowed: seeds >= 1"),
    (["--tail", "1.5"], "--tail 1.5 is out of range; allowed: 0 < tail <= 1"),
    (["--grid", "lr=0.01,-1"], "--lr -1 is out of range; allowed: lr >= 0 (in --grid setting lr=-1)"),
    (["--grid", "gamma=0.9,1.5"], "--gamma 1.5 is out of range"),
    (["--set", "trace_lambda=1.5"], "--trace-lambda 1.5 is out of range"),
    (["--resume", "nowhere"], "'nowhere' is not a sweep directory"),
    (["--resume", "x", "--steps", "5"], "drop --steps"),
])
def test_bad_values_get_one_line_and_exit_code_2(tmp_path, capsys, args, expected):
    extra = [] if "--resume" in args else ["--logdir", str(tmp_path), "--no-compile"]
    assert sweep.main([*args, *extra]) == 2
    err = one_error_line(capsys)
    assert err.startswith("sweep.py: error: ") and expected in err, err


def test_grid_and_random_search_spaces():
    space = lib.parse_grid("lambda=0.9,0.95 hidden=[64,32],[128] lr=loguniform:1e-4:1e-2 ticks=randint:2:6 "
                             "signal=choice:td,greedy", True)
    assert space["trace_lambda"] == {"values": [0.9, 0.95]}
    assert space["hidden"] == {"values": [[64, 32], [128]]}
    assert space["lr"] == {"dist": "loguniform", "low": 1e-4, "high": 1e-2}
    assert space["ticks"] == {"dist": "randint", "low": 2, "high": 6}
    assert space["signal"] == {"dist": "choice", "values": ["td", "greedy"]}
    grid = lib.parse_grid("lr=1e-3,3e-3 trace_lambda=0.9,0.95", False)
    assert lib.corners(grid) == [{"lr": a, "trace_lambda": b} for a in (1e-3, 3e-3) for b in (0.9, 0.95)]
    assert {c["ticks"] for c in lib.corners(space)} == {2, 5}  # randint excludes HIGH

    from ray import tune

    tuned = lib.tune_space(space)
    rng = np.random.default_rng(0)
    lrs = [tuned["lr"].sample(random_state=rng) for _ in range(200)]
    assert 1e-4 <= min(lrs) and max(lrs) <= 1e-2 and np.median(lrs) < 2e-3  # log-uniform: median 1e-3
    assert set(tuned["ticks"].sample(size=200, random_state=rng)) == {2, 3, 4, 5}
    assert isinstance(tuned["signal"], tune.search.sample.Categorical)
    assert tuned["trace_lambda"] == {"grid_search": [0.9, 0.95]}  # listed values stay a grid


def test_bootstrap_interval_and_ranking():
    mean, low, high = bootstrap_ci([0.5, 0.7, 0.9, np.nan])
    assert mean == pytest.approx(0.7) and 0.5 <= low < mean < high <= 0.9
    assert bootstrap_ci([0.5])[0] == 0.5 and np.isnan(bootstrap_ci([0.5])[1])

    class R:
        def __init__(self, i, metrics, error=None):
            self.metrics, self.error, self.config = {**metrics, "trial_id": f"ab_{i:05d}"}, error, {"lr": i}
            self.path = f"/x/tune_ab_{i:05d}"

    base = {"env_id": "tracerl/Pong-v0", "env_short": "Pong-v0", "learner": "eprop", "keys": ["lr"], "steps": 100}
    rows = lib.table_rows([
        R(0, {"done": True, "step": 100, "per_seed": [0.2, 0.3]}),
        R(1, {}, error=RuntimeError("non-finite advantage at step 3")),
        R(2, {"done": True, "step": 40, "per_seed": [0.9, 0.8]}),
        R(3, {"done": True, "step": 100, "per_seed": [0.6, 0.4]}),
        R(4, {"done": False, "step": 50, "per_seed": [0.99, 0.99]}),
    ], base)
    # finished trials first, by their mean; one ASHA stopped early (a figure over 40 of 100 steps) after
    # them however high its figure; then unfinished, then failed
    assert [(r["trial"], r["status"]) for r in rows] == [
        ("t03", "done"), ("t00", "done"), ("t02", "stopped early"), ("t04", "unfinished"), ("t01", "failed")]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[-1]["error"] == "non-finite advantage at step 3"
    assert rows[0]["run"] == "Pong-v0__eprop__t03,lr=3" and rows[0]["per_seed"] == "0.6 0.4"


# -- sweeps on Ray -------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_other_finishes(tmp_path, capsys, ray_address):
    # a grid of two critic step sizes (1e39 fails at once), a learning rate drawn for each, ASHA on
    code = sweep.main(["--env", "pong", "--grid", "critic_lr=0.05,1e39 lr=loguniform:0.005:0.02", "--random", "1",
                       "--seeds", "2", "--steps", "300", *SMALL, "--asha", "--grace-period", "100",
                       "--reduction-factor", "2", "--logdir", str(tmp_path), "--name", "s"])
    out = capsys.readouterr().out
    assert code == 0
    path = tmp_path / "s"
    rows = results(path)
    assert rows["t00"]["status"] == "done" and rows["t00"]["steps"] == "300" and rows["t00"]["measure"] == "hit_rate"
    assert len(rows["t00"]["per_seed"].split()) == 2 and rows["t00"]["error"] == ""
    assert rows["t01"]["status"] == "failed" and rows["t01"]["critic_lr"] == "1e+39"
    assert "non-finite advantage" in rows["t01"]["error"]
    assert rows["t00"]["rank"] == "1" and "non-finite advantage" in out and "2 trials (1 done, 1 failed)" in out

    lr = float(rows["t00"]["lr"])
    assert 0.005 <= lr <= 0.02 and lr != float(rows["t01"]["lr"])

    # train.py's runs: one per lifetime and the aggregate, config.yaml, checkpoint, the same tags
    run = rows["t00"]["run"]
    assert run == f"Pong-v0__eprop__t00,critic_lr=0.05,lr={lr:.4g}"
    assert {p.name for p in path.iterdir() if p.name.startswith(run)} == {f"{run}__0", f"{run}__1", f"{run}__mean"}
    config = yaml.safe_load((path / f"{run}__0" / "config.yaml").read_text())
    assert config["learner_kwargs"]["critic_lr"] == 0.05 and config["lifetimes"] == 2 and config["steps"] == 300
    assert config["learner_kwargs"]["lr"] == pytest.approx(lr)
    assert load_checkpoint(str(path / f"{run}__mean" / "checkpoint.pt"))["step"] == 300
    ea = EventAccumulator(str(path / f"{run}__1"), size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    assert {"charts/reward_rate", "pong/hit_rate", "learner/advantage", "agent/weight_norm/w_out"} <= tags
    assert [e.step for e in ea.Scalars("charts/reward_rate")] == [100, 200, 300]
    text = ea.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "|lifetime_seed|1|" in text and "--set critic_lr=0.05" in text
    # Tune's own records sit beside the runs, without TensorBoard files of their own
    assert (path / "sweep.json").exists() and list(path.glob("tune_*/result.json"))
    assert not list(path.glob("tune_*/events.out.tfevents*"))


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_without_redoing_finished_trials(tmp_path, ray_address):
    path = tmp_path / "r"
    cmd = [sys.executable, str(ROOT / "scripts" / "sweep.py"), "--address", ray_address]
    args = ["--env", "pong", "--grid", "lr=0.01,0.02", "--seeds", "2", "--steps", "1000", *SMALL,
            "--max-concurrent", "1", "--logdir", str(tmp_path), "--name", "r"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    first, second = "Pong-v0__eprop__t00,lr=0.01", "Pong-v0__eprop__t01,lr=0.02"
    proc = subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 300  # a guard against a hang, loose enough for a machine busy with other runs
    while not (path / f"{second}__mean").exists():  # trials run one at a time: the first has finished
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"continue with: python scripts/sweep.py --resume {path}" in err
    rows = results(path)
    assert rows["t00"]["status"] == "done" and rows["t01"]["status"] == "unfinished"
    assert not (path / f"{second}__mean" / "checkpoint.pt").exists()
    kept = {run: snapshot(path / run) for run in (f"{first}__0", f"{first}__1", f"{first}__mean")}

    proc = subprocess.run([*cmd, "--resume", str(path)], capture_output=True, text=True, env=env, timeout=150)
    assert proc.returncode == 0, proc.stderr
    assert "2 trials (2 done)" in proc.stdout
    assert {run: snapshot(path / run) for run in kept} == kept  # the finished trial was not run again
    rows = results(path)
    assert rows["t00"]["status"] == rows["t01"]["status"] == "done" and rows["t01"]["steps"] == "1000"
    assert load_checkpoint(str(path / f"{second}__mean" / "checkpoint.pt"))["step"] == 1000
    # the unfinished trial started over: one events file per run, one curve without repeats
    events = list((path / f"{second}__0").glob("events.out.tfevents*"))
    assert len(events) == 1
    ea = EventAccumulator(str(path / f"{second}__0"), size_guidance={"scalars": 0})
    ea.Reload()
    assert [e.step for e in ea.Scalars("charts/reward_rate")] == list(range(100, 1001, 100))
