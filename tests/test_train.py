"""scripts/train.py, scripts/watch.py and the live window: options, errors, TensorBoard, checkpoints.

Every run is tiny (a 16-neuron network, eager, a few hundred steps) and headless (conftest.py sets
SDL_VIDEODRIVER=dummy). train.main(argv) runs in-process; subprocesses only check real exit codes
and Ctrl-C.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT, script
from tracerl import envs
from tracerl.learners.run import callbacks, live
from tracerl.learners.run import loop as run_loop
from tracerl.learners.run.cli import watch as watch_cli
from tracerl.learners.run.loop import Callback
from tracerl.learners.run.build import build_agent, build_env, build_learner
from tracerl.learners.run.checkpoint import load_checkpoint, one_lifetime
from tracerl.agents import AGENTS
from tracerl.learners import LEARNERS
from tracerl.learners.run.settings import class_default, class_params, resolve

train = script("train")
watch = script("watch")

SMALL = ["--hidden", "16", "--no-compile", "--log-every", "100", "--hist-every", "0"]


def run(tmp_path: Path, *args: str, name: str = "run") -> int:
    return train.main([*SMALL, *args, "--logdir", str(tmp_path), "--run-name", name])


def events(run_dir: Path) -> EventAccumulator:
    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0, "histograms": 0})
    ea.Reload()
    return ea


def curve(ea: EventAccumulator, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in ea.Scalars(tag)}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


# -- options and errors ------------------------------------------------------------------------
def test_help_lists_every_option_with_its_default(capsys):
    """Every option's help ends in "(default: X)", and X is the default a run really gets: the
    settings a command without flags resolves to (Pong's, the env's default), the session's own, or
    the agent's and learner's class defaults."""
    with pytest.raises(SystemExit) as exit_:
        train.main(["--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    config, session = resolve({})
    classes = [AGENTS[config["agent"]], LEARNERS[config["learner"]]]
    own = {name: class_default(cls, name) for cls in classes for name in class_params(cls)}
    actual = {**config, **session, **own, **config["agent_kwargs"], **config["learner_kwargs"]}
    said = {"none": None, "off": False, "compile": True, "the env's preset": config["reward"],
            "5; pictures 1.5": None,  # tau_out: chosen by what the encoder keeps (test_encoders.py)
            "preset: 0.01; greedy from features 0.003": None}  # entropy: chosen by the agent (the same)
    checked = 0
    for action in train.build_parser()._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.option_strings[0] in out
        default = re.fullmatch(r"(?s).*\(default: (.*)\)", action.help).group(1)
        assert " ".join(action.help.split()) in out, action.option_strings  # printed whole, default included
        if action.dest in ("run_name", "set"):  # a pattern; a list of items
            continue
        value = actual[action.dest]
        if default in said:
            assert said[default] == value, (action.dest, default, value)
        else:
            text = default.removeprefix("preset: ").split(" ")[0]
            if action.dest == "env":  # the short name
                text = envs.resolve_id(text)
            if action.dest == "gamma":  # "0.98-0.99": the presets' range
                low, high = map(float, text.split("-"))
                assert low <= value <= high
            else:
                assert text == str(value[0] if isinstance(value, list) else value), (action.dest, default, value)
        checked += 1
    assert checked >= 30


def _foreign(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"w": torch.zeros(3)}, path)
    return ["--resume", str(path)], re.escape(f"'{path}' is not a tracerl train.py checkpoint")


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(b"not a checkpoint at all")
    start = re.escape(f"cannot read checkpoint '{path}': corrupt or not a tracerl checkpoint (")
    return ["--resume", str(path)], start + ".+\\)"


SPIKING = ("hidden, neuron, recurrent, ticks, tau_mem, tau_out, tau_adapt, beta, gamma_pd, encoder, feedback, "
           "input_scale, out_scale, target_rate, homeostasis, temperature, encoder_kwargs, frontend, conv_channels, "
           "conv_kernel, conv_stride, frontend_learn, reset, temperature_start, conv_tau_mem, critic_reads, readout_skip, input_smooth")
EPROP = ("signal, lr, hidden_lr, trace_lambda, lambda_schedule, lambda_end, lambda_steps, gamma, critic_lr, "
         "critic_lambda, entropy, baseline_beta, sparse_baseline, bound_kappa, optimizer, rms_beta, reward_scale, "
         "signal_bound, bound_groups, bound_norm, critic, critic_hidden, entropy_target, entropy_rate, critic_torso, "
         "lr_end, lr_factor")


@pytest.mark.parametrize("case", [
    (["--env", "Pong-v9"], "unknown environment 'Pong-v9'; allowed: pong, flappy, cartpole, acrobot, a registered "
     "Gymnasium id such as CartPole-v1, or module:Id (a package that registers Id)"),
    (["--learner", "ppo"], "argument --learner: invalid choice: 'ppo' (choose from 'bptt', 'eprop', 'reflect')"),
    (["--steps", "-5"], "--steps -5 is out of range; allowed: steps >= 0 (an integer)"),
    (["--lr", "-1"], "--lr -1.0 is out of range; allowed: lr >= 0"),
    (["--gamma", "1.5"], "--gamma 1.5 is out of range; allowed: 0 <= gamma <= 1"),
    (["--trace-lambda", "1.5"], "--trace-lambda 1.5 is out of range; allowed: 0 <= trace_lambda < 1"),
    (["--entropy", "-0.1"], "--entropy -0.1 is out of range; allowed: entropy >= 0"),
    (["--temperature", "0"], "--temperature 0.0 is out of range; allowed: temperature > 0"),
    (["--set", "tau_adapt=-5"], "agent.tau_adapt -5 is out of range; allowed: tau_adapt > 0"),
    (["--ticks", "0"], "--ticks 0 is out of range; allowed: ticks >= 1 (an integer)"),
    (["--seed", "-1"], "--seed -1 is out of range; allowed: seed >= 0 (an integer)"),
    (["--record-every", "0"], "--record-every 0 is out of range; allowed: record_every >= 1 (an integer)"),
    (["--hidden", "0"], "argument --hidden: invalid layer sizes '0'; allowed: a size like 128 or sizes like 64,32"),
    (["--config", "missing.yaml"], "config file 'missing.yaml' not found"),
    (["--resume", "missing.pt"], "checkpoint 'missing.pt' not found"),
    (["--agent", "mlp", "--neuron", "alif"], "setting neuron='alif' does not apply to agent 'mlp'; its settings: "
     "hidden, encoder, temperature, out_scale, encoder_kwargs, temperature_start"),
    (["--set", "tau_foo=1"], "unknown setting 'tau_foo'; allowed: env, agent, learner, lifetimes, seed, steps, reward, "
     f"preset, log_every, hist_every, checkpoint_every, eval_every, eval_episodes, eval_steps, agent 'spiking' settings ({SPIKING}), learner 'eprop' "
     f"settings ({EPROP}), or env.KEY"),
    (["--set", "nokey"], "invalid --set 'nokey'; expected KEY=VALUE, e.g. --set tau_adapt=200"),
    (["--eval-every", "-5"], "--eval-every -5 is out of range; allowed: eval_every >= 0 (an integer)"),
    (["--lifetimes", "2", "--render-lifetime", "2"],
     "--render-lifetime 2 is not a lifetime of this run; allowed: 0 to 1"),
    (["--record", "clip.avi"], "cannot record 'clip.avi'; allowed: a .gif or .mp4 file"),
    (["--env", "FrozenLake-v1"], "FrozenLake-v1: unsupported observation space Discrete(16); allowed: Box"),
    (["--learner", "reflect", "--signal", "td"], "unknown signal 'td' for reflect; allowed: 'greedy'"),
    (["--env", "flappy", "--reward", "failure"], "--reward failure gives -1 when an episode terminates, and "
     "tracerl/FlappyBird-v0 runs as one endless life that never does; allowed: --reward env, or --set "
     "env.episodic=true"),
    _foreign, _corrupt,
])
def test_bad_values_get_one_line_and_exit_code_2(tmp_path, capsys, case):
    """The whole line: the program, "error:", what is wrong with which value, what is allowed."""
    args, expected = case(tmp_path) if callable(case) else (case[0], re.escape(case[1]))
    assert train.main([*args, "--no-compile", "--logdir", str(tmp_path)]) == 2
    assert re.fullmatch("train.py: error: " + expected, one_error_line(capsys))


@pytest.mark.parametrize("args, expected", [
    (["--env", "Pendulum-v1"], "Pendulum-v1: unsupported action space Box(-2.0, 2.0, (1,), float32); allowed: "
     "Discrete (a finite set of actions)"),
    (["--learner", "ppo"], "argument --learner: invalid choice: 'ppo' (choose from 'bptt', 'eprop', 'reflect')"),
    (["--temperature", "0"], "--temperature 0.0 is out of range; allowed: temperature > 0"),
])
def test_exit_code_2_from_the_command_line(args, expected):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *args, "--no-compile"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == f"train.py: error: {expected}\n" and proc.stdout == ""


def test_config_file_then_flags_then_set(tmp_path):
    cfg = tmp_path / "my.yaml"
    cfg.write_text("env: flappy\nsteps: 100\nlr: 1e-3\ntrace-lambda: 0.5\nlearner_kwargs: {entropy: 0.02}\n"
                   "env_kwargs: {gap: 120}\n")
    assert run(tmp_path, "--config", str(cfg), "--lr", "0.002", "--set", "gamma=0.9", "--set", "tau_adapt=50") == 0
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["env"] == "tracerl/FlappyBird-v0" and saved["steps"] == 100
    assert saved["learner_kwargs"]["lr"] == 0.002  # the flag beats the file
    assert saved["learner_kwargs"]["trace_lambda"] == 0.5 and saved["learner_kwargs"]["entropy"] == 0.02
    assert saved["learner_kwargs"]["gamma"] == 0.9 and saved["agent_kwargs"]["tau_adapt"] == 50
    assert saved["agent_kwargs"]["hidden"] == [16] and saved["env_kwargs"] == {"obs_type": "gap", "gap": 120}  # over the preset's
    # a run's config.yaml is itself a config file: it reproduces the settings
    assert run(tmp_path, "--config", str(tmp_path / "run" / "config.yaml"), name="again") == 0
    assert yaml.safe_load((tmp_path / "again" / "config.yaml").read_text()) == saved


def test_config_yaml_records_the_value_a_default_of_none_resolved_to(tmp_path):
    """The default preset leaves entropy to the learner (None: by what the agent is); config.yaml
    records what it chose, so the file says what ran and reproduces it."""
    assert run(tmp_path, "--env", "Acrobot-v1", "--steps", "20") == 0
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["learner_kwargs"]["entropy"] == 0.01
    assert run(tmp_path, "--env", "pong", "--set", "env.obs_type=pixels", "--steps", "20", name="pixels") == 0
    saved = yaml.safe_load((tmp_path / "pixels" / "config.yaml").read_text())
    assert saved["learner_kwargs"]["entropy"] == 0.003  # td from an image's dense layer
    assert saved["agent_kwargs"]["frontend"] == "dense" and saved["agent_kwargs"]["input_smooth"] == 2.0


# -- TensorBoard ---------------------------------------------------------------------------------
def test_short_run_writes_hyperparameters_config_and_curves(tmp_path):
    assert run(tmp_path, "--env", "pong", "--steps", "400", "--hist-every", "200") == 0
    run_dir = tmp_path / "run"
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["env"] == "tracerl/Pong-v0"
    ea = events(run_dir)
    text = ea.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0].decode()
    assert text.startswith("|setting|value|") and "|learner_kwargs.lr|0.01|" in text and "|lifetime_seed|0|" in text
    tags = set(ea.Tags()["scalars"])
    for tag in ("charts/reward_rate", "pong/hit_rate", "charts/SPS", "time/fps", "learner/advantage",
                "learner/update_norm", "learner/entropy", "learner/value", "agent/firing_rate/layer0",
                "agent/weight_norm/w_out", "agent/weight_norm/layers.0.w_in"):
        assert tag in tags, tag
    assert sorted(curve(ea, "charts/reward_rate")) == [100, 200, 300, 400]
    assert {"weights/w_out", "weights/layers.0.w_in"} <= set(ea.Tags()["histograms"])
    assert sorted(e.step for e in ea.Histograms("weights/w_out")) == [0, 200, 400]


def test_tensorboard_opens_on_the_game(tmp_path):
    """The measure, reward rate and return sort first (group 1_game/) and lead the Custom Scalars layout."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    assert run(tmp_path, "--env", "pong", "--steps", "200", "--lifetimes", "2") == 0
    ea = events(tmp_path / "run__0")
    scalars = sorted(ea.Tags()["scalars"])
    assert [t for t in scalars if t.startswith("1_game/")] == ["1_game/hit_rate", "1_game/reward_rate"]
    groups = sorted({t.split("/")[0] for t in scalars})
    assert groups[0] == "1_game", groups
    assert curve(ea, "1_game/hit_rate") == curve(ea, "pong/hit_rate")
    mean = events(tmp_path / "run__mean")
    layout = layout_pb2.Layout()
    layout.ParseFromString(mean.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0])
    first = layout.category[0]
    assert first.title == "1. the game, all runs"
    assert [c.multiline.tag[0] for c in first.chart] == [r"^1_game/(hit_rate|pipes_per_life)$",
                                                         r"^1_game/reward_rate$", r"^1_game/return_last100$"]


def test_lifetimes_get_one_run_each_and_an_aggregate(tmp_path):
    assert train.main(["--env", "pong", "--lifetimes", "2", "--seed", "5", "--steps", "200", *SMALL,
                       "--logdir", str(tmp_path)]) == 0
    runs = sorted(p.name for p in tmp_path.iterdir())
    assert len(runs) == 3
    stamp = runs[0].split("__")[3]
    assert runs == [f"Pong-v0__eprop__5__{stamp}", f"Pong-v0__eprop__5__{stamp}__mean", f"Pong-v0__eprop__6__{stamp}"]
    assert (tmp_path / runs[1] / "checkpoint.pt").exists()
    lifetimes = [curve(events(tmp_path / runs[i]), "charts/reward_rate") for i in (0, 2)]
    mean = events(tmp_path / runs[1])
    np.testing.assert_allclose(curve(mean, "charts/reward_rate")[200], np.mean([c[200] for c in lifetimes]), atol=1e-6)
    assert {"spread/charts/reward_rate/std", "spread/charts/reward_rate/min"} <= set(mean.Tags()["scalars"])
    text = events(tmp_path / runs[2]).Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "|lifetime_seed|6|" in text


def test_any_gymnasium_id_runs_cartpole_with_episode_curves(tmp_path):
    assert run(tmp_path, "--env", "CartPole-v1", "--steps", "300", "--checkpoint-every", "150") == 0
    tags = set(events(tmp_path / "run").Tags()["scalars"])
    assert {"charts/episodic_return", "charts/episodic_length", "rollout/ep_rew_mean"} <= tags
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["reward"] == "failure"  # from the CartPole preset
    # CartPole has no state_dict: a resumed run starts fresh episodes, the lifetimes go on
    assert train.main(["--resume", str(tmp_path / "run" / "checkpoint.pt"), "--steps", "400", "--no-compile"]) == 0
    assert load_checkpoint(str(tmp_path / "run" / "checkpoint.pt"))["step"] == 400


# -- checkpoints ---------------------------------------------------------------------------------
def _assert_same(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("env, n", [("pong", 1), ("flappy", 4)])  # N single games; a native batch
def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path, env, n):
    common = ["--env", env, "--lifetimes", str(n), *SMALL, "--run-name", "x", "--checkpoint-every", "0"]
    assert train.main([*common, "--steps", "400", "--logdir", str(tmp_path / "whole")]) == 0
    assert train.main([*common, "--steps", "200", "--logdir", str(tmp_path / "parts")]) == 0
    main_dir = "x" if n == 1 else "x__mean"
    path = tmp_path / "parts" / main_dir / "checkpoint.pt"
    assert load_checkpoint(str(path))["env"]["kind"] == ("singles" if n == 1 else "vector")
    assert train.main(["--resume", str(path), "--steps", "400", "--no-compile"]) == 0

    whole = load_checkpoint(str(tmp_path / "whole" / main_dir / "checkpoint.pt"))
    parts = load_checkpoint(str(path))
    assert whole["step"] == parts["step"] == 400
    for key in ("agent", "learner", "env", "obs", "measures"):
        _assert_same(whole[key], parts[key], key)
    run0 = "x" if n == 1 else "x__0"
    a, b = events(tmp_path / "whole" / run0), events(tmp_path / "parts" / run0)
    measure = "pong/hit_rate" if env == "pong" else "charts/reward_rate"
    for tag in ("charts/reward_rate", measure, "learner/advantage", "agent/weight_norm/w_out"):
        assert curve(a, tag) == pytest.approx(curve(b, tag), rel=1e-6), tag
    assert sorted(curve(b, "charts/reward_rate")) == [100, 200, 300, 400]  # one curve, no repeats


def test_resume_refuses_to_change_the_lifetimes(tmp_path, capsys):
    assert run(tmp_path, "--steps", "100") == 0
    path = str(tmp_path / "run" / "checkpoint.pt")
    assert train.main(["--resume", path, "--hidden", "32"]) == 2
    assert "agent_kwargs cannot change on --resume" in one_error_line(capsys)
    assert train.main(["--resume", path, "--logdir", str(tmp_path / "elsewhere")]) == 2
    assert f"--logdir {tmp_path / 'elsewhere'} is not this run's ({tmp_path})" in one_error_line(capsys)
    assert train.main(["--resume", path, "--run-name", "other"]) == 2
    assert "--run-name other is not this run's (run)" in one_error_line(capsys)


def test_resume_takes_the_first_command_again_with_its_own_logdir_and_run_name(tmp_path, capsys, monkeypatch):
    """Re-running the first command with --resume added works, and prints the same relative paths."""
    monkeypatch.chdir(tmp_path)
    first = [*SMALL, "--lifetimes", "2", "--logdir", "runs", "--run-name", "x", "--checkpoint-every", "0"]
    assert train.main([*first, "--steps", "100"]) == 0
    fresh = capsys.readouterr().out
    assert train.main([*first, "--steps", "200", "--resume", "runs/x__mean/checkpoint.pt"]) == 0
    resumed = capsys.readouterr().out
    for out in (fresh, resumed):
        assert f"runs in {os.path.join('runs', 'x__mean')}  (tensorboard --logdir runs)" in out
        assert f"checkpoint {os.path.join('runs', 'x__mean', 'checkpoint.pt')}" in out
        assert str(tmp_path) not in out
    assert load_checkpoint("runs/x__mean/checkpoint.pt")["step"] == 200


def test_steps_0_and_runs_refused_before_their_first_step_leave_no_folder(tmp_path, capsys, monkeypatch):
    assert run(tmp_path, "--steps", "0") == 0
    assert "nothing to run" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())

    def refuse(*args):
        raise FloatingPointError("non-finite advantage at the first step")

    monkeypatch.setattr(run_loop, "learning_reward", refuse)
    assert run(tmp_path, "--steps", "100", "--lifetimes", "2") == 1
    assert "no run written" in one_error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_a_terminal_of_0_columns_gets_an_80_column_bar_and_the_plain_lines(tmp_path, monkeypatch, capsys):
    import io
    import shutil

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback=(80, 24): os.terminal_size((0, 24)))
    monkeypatch.setattr(callbacks, "LINE_EVERY", -1)  # a plain line at every logged point
    assert run(tmp_path, "--steps", "300") == 0
    bar = tty.getvalue().replace("\r", "\n").splitlines()
    assert any("300/300" in line and len(line) == 80 for line in bar), bar
    out = capsys.readouterr().out
    assert "step 100  reward/step" in out and "step 300  reward/step" in out


def test_nan_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    calls = {"n": 0}
    real = run_loop.learning_reward

    def nan_at_step_150(kind, reward, terminated):
        calls["n"] += 1
        return np.full(reward.shape, np.nan) if calls["n"] == 150 else real(kind, reward, terminated)

    monkeypatch.setattr(run_loop, "learning_reward", nan_at_step_150)
    assert run(tmp_path, "--steps", "300", "--checkpoint-every", "100") == 1
    err = one_error_line(capsys)
    assert "non-finite advantage" in err and "last good checkpoint" in err
    assert load_checkpoint(str(tmp_path / "run" / "checkpoint.pt"))["step"] == 100
    assert not (tmp_path / "run" / "checkpoint.pt.tmp").exists()


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_readable_events(tmp_path):
    cmd = [sys.executable, str(ROOT / "scripts" / "train.py"), "--env", "pong", "--steps", "1000000", *SMALL,
           "--checkpoint-every", "50", "--logdir", str(tmp_path), "--run-name", "s"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = tmp_path / "s" / "checkpoint.pt"
    deadline = time.time() + 90
    while not path.exists():  # the first periodic checkpoint: it is stepping
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "Traceback" not in err and "stopped by SIGINT" in out
    step = load_checkpoint(str(path))["step"]
    assert step >= 50
    assert max(curve(events(tmp_path / "s"), "charts/reward_rate")) <= step
    assert train.main(["--resume", str(path), "--steps", str(step + 20), "--no-compile"]) == 0


# -- the live window ----------------------------------------------------------------------------
def test_render_and_record_a_gif_of_one_lifetime(tmp_path):
    from PIL import Image

    gif = tmp_path / "clip.gif"
    assert run(tmp_path, "--env", "flappy", "--lifetimes", "4", "--render-lifetime", "2", "--render",
               "--record", str(gif), "--steps-per-frame", "5", "--steps", "200") == 0
    with Image.open(gif) as im:  # the window's full size, every frame: the first, then one per 5 steps
        assert im.size == (288 + live.PANEL_W, 512) and im.n_frames == 1 + 200 // 5
    half = tmp_path / "every2.gif"
    assert run(tmp_path, "--env", "flappy", "--render", "--record", str(half), "--record-every", "2",
               "--steps-per-frame", "5", "--steps", "200", name="every2") == 0
    with Image.open(half) as im:
        assert im.n_frames == 21 and im.info["duration"] == 30  # 2 frames of 1/60 s, in GIF's 10 ms
    # with --render the 4 games run as single games, so the shown one can be drawn
    assert load_checkpoint(str(tmp_path / "run__mean" / "checkpoint.pt"))["env"]["kind"] == "singles"


def test_window_keys_speed_panel_pause_and_close():
    import pygame

    config, _ = resolve({"env": "pong", "hidden": 16})
    env = build_env(config, 1, singles=True, render=True)
    obs, _ = env.reset(seed=0)
    agent = build_agent(config, env)
    window = live.LiveWindow(live.GameView(env.envs[0]), agent, 0, config["env"], fps=1000, steps_per_frame=1)

    def keys(*pairs):
        for key, char in pairs:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, unicode=char, mod=0, scancode=0))

    for t in range(1, 31):  # one frame per step: the raster fills, tick by tick
        obs, *_ = env.step(agent.act(obs))
        assert window.step(t, 0.5)
    assert window.raster.any() and window.t == 30
    keys((pygame.K_PLUS, "+"), (pygame.K_PLUS, "+"))
    window.frame()
    assert window.steps_per_frame == 5
    keys((pygame.K_MINUS, "-"))
    window.frame()
    assert window.steps_per_frame == 2
    window.steps_per_frame = 1000
    keys((pygame.K_PLUS, "+"))
    window.frame()
    assert window.steps_per_frame == 0  # unthrottled: frames by the clock
    keys((pygame.K_n, "n"))
    window.frame()
    assert not window.panel
    window.steps_per_frame = 1
    keys((pygame.K_SPACE, " "), (pygame.K_ESCAPE, "\x1b"))  # pause, then Esc closes
    assert not window.step(31, 0.0)
    assert window.closed
    env.close()


def _texts(monkeypatch, module):
    """Every text drawn through ``module.draw_text``: {text: its rectangle}."""
    drawn = {}
    real = module.draw_text

    def spy(surface, text, *args, **kwargs):
        drawn[text] = real(surface, text, *args, **kwargs)
        return drawn[text]

    monkeypatch.setattr(module, "draw_text", spy)
    return drawn


@pytest.mark.parametrize("n_actions", [2, 3, 6])
def test_window_texts_do_not_overlap(monkeypatch, n_actions):
    """The trace's caption ends above the keys line whatever the number of actions."""
    from gymnasium import spaces

    from tracerl.agents import make_agent

    drawn = _texts(monkeypatch, live)
    config, _ = resolve({"env": "pong", "hidden": 16})
    env = build_env(config, 1, singles=True, render=True)
    env.reset(seed=0)
    agent = make_agent("spiking", spaces.Box(-1, 1, (4,)), spaces.Discrete(n_actions), hidden=16)
    window = live.LiveWindow(live.GameView(env.envs[0]), agent, 0, config["env"], fps=1000)
    for t in range(1, 301):
        agent.act(np.zeros((1, 4), np.float32))
        window.step(t, 0.5)
    drawn.clear()
    window.draw()  # one frame's texts, the trace full
    rects = [r for r in drawn.values() if r.x >= window.game.size[0]]  # the panel's texts
    for i, a in enumerate(rects):
        assert a.bottom <= window.size[1], a
        for b in rects[i + 1:]:
            assert not a.colliderect(b), (a, b)
    caption = drawn["reward rate (mean per 100 steps)"]
    assert caption.bottom <= drawn["space pause   + / - speed   n panel   Esc close"].top
    window.close()
    env.close()


def test_pong_shows_each_side_on_its_half_without_collisions(monkeypatch):
    """The agent plays the right paddle: its points, hits and misses are on the right half, the
    opponent's points on the left, and large counts do not run into each other."""
    import pygame

    from tracerl.envs import pong

    drawn = _texts(monkeypatch, pong)
    game = pong.PongEnv(render_mode="rgb_array")
    game.reset(seed=0)
    game.score, game.hits, game.misses = [248, 1286], 97270, 128600
    game.draw(pygame.Surface((pong.WIDTH, pong.HEIGHT)))
    cpu, agent = drawn["cpu 1286"], drawn["248 agent"]
    hits, misses = drawn["hits 97270"], drawn["misses 128600"]
    mid = pong.WIDTH // 2
    assert cpu.right < mid < agent.left and hits.left > mid and misses.left > mid
    rects = [cpu, agent, hits, misses]
    assert not any(a.colliderect(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    assert all(r.right <= pong.WIDTH for r in rects)


def test_compiling_notice_shows_until_the_first_step():
    import pygame

    config, _ = resolve({"env": "pong", "hidden": 16})
    env = build_env(config, 1, singles=True, render=True)
    obs, _ = env.reset(seed=0)
    agent = build_agent(config, env)
    window = live.LiveWindow(live.GameView(env.envs[0]), agent, 0, config["env"], fps=1000,
                             notice="compiling the per-step update (torch.compile): 15-60 s")
    mid = window.size[1] // 2
    band = pygame.surfarray.array3d(window.window)[:, mid - 25:mid + 25]
    assert band.max(axis=2).mean() < 60  # the dark band with the notice is on screen before any step
    obs, *_ = env.step(agent.act(obs))
    window.step(1, 0.0)
    assert window.notice is None
    window.close()
    env.close()


def test_the_window_shows_what_a_picture_agent_sees():
    import pygame

    config, _ = resolve({"env": "pong", "hidden": 16, "env_kwargs": {"obs_type": "pixels"}})
    env = build_env(config, 1, singles=True, render=True)
    obs, _ = env.reset(seed=0)
    agent = build_agent(config, env)
    window = live.LiveWindow(live.GameView(env.envs[0]), agent, 0, config["env"], fps=1000)
    assert window.seen_shape == agent.encoder.out_shape and window.seen_kinds == ("frame", "on", "off")
    obs, *_ = env.step(agent.act(obs))
    c, h, w = agent.encoder.out_shape
    x = torch.zeros(c, h, w)
    x[1, 3, 5] = 1.0  # one ON event, nothing else
    agent.x[0] = x.flatten()
    window.step(1, 0.0)
    top = 206 + 22 * agent.n_actions
    seen = pygame.surfarray.array3d(window.window)[window.game.size[0]:, top:window.trace_top()]
    colours = {tuple(c) for c in seen.reshape(-1, 3)}
    assert live.SEEN_COLOURS["on"] in colours and live.SEEN_COLOURS["off"] not in colours
    window.close()
    env.close()
    features, _ = resolve({"env": "pong", "hidden": 16})
    env = build_env(features, 1, singles=True, render=True)
    env.reset(seed=0)
    window = live.LiveWindow(live.GameView(env.envs[0]), build_agent(features, env), 0, features["env"], fps=1000)
    assert window.seen_shape is None  # six features: nothing to show as a picture
    window.close()
    env.close()


def test_a_paused_window_lets_ctrl_c_through():
    import pygame

    config, _ = resolve({"env": "flappy", "hidden": 16})
    env = build_env(config, 1, singles=True, render=True)
    env.reset(seed=0)
    agent = build_agent(config, env)
    stop = {"now": False}
    window = live.LiveWindow(live.GameView(env.envs[0]), agent, 0, config["env"], fps=200,
                             should_stop=lambda: stop["now"])
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE, unicode=" ", mod=0, scancode=0))
    stop["now"] = True
    assert window.step(1, 0.0) and window.paused  # returned although paused: the loop sees the stop
    window.close()
    env.close()


# -- watch.py ----------------------------------------------------------------------------------
def test_one_lifetime_cut_from_a_batch_goes_on_as_in_the_batch():
    config, _ = resolve({"env": "pong", "hidden": 16, "lifetimes": 3, "seed": 4})
    env = build_env(config, 3, singles=True, render=False)
    obs, _ = env.reset(seed=4)
    agent = build_agent(config, env)
    learner = build_learner(config, agent)
    for _ in range(100):
        obs, r, term, trunc, _ = env.step(agent.act(obs))
        learner.step(r, term, obs, trunc)
    single_env = build_env(config, 1, singles=True, render=False)
    single_env.reset(seed=6)
    single_env.envs[0].unwrapped.load_state_dict(env.envs[2].unwrapped.state_dict())
    single = build_agent(config, single_env, n=1, seed=6)
    single_learner = build_learner(config, single)
    single.load_state_dict(one_lifetime(agent.state_dict(), single.state_dict(), 3, 2))
    single_learner.load_state_dict(one_lifetime(learner.state_dict(), single_learner.state_dict(), 3, 2))
    obs1 = obs[2:3].copy()
    for _ in range(100):
        a, a1 = agent.act(obs), single.act(obs1)
        assert a[2] == a1[0]
        obs, r, term, trunc, _ = env.step(a)
        learner.step(r, term, obs, trunc)
        obs1, r1, term1, trunc1, _ = single_env.step(a1)
        single_learner.step(r1, term1, obs1, trunc1)
    torch.testing.assert_close(agent.w_out[2:3], single.w_out)


def test_watch_plays_a_checkpoint_learning_or_not(tmp_path, capsys, monkeypatch):
    assert run(tmp_path, "--env", "pong", "--lifetimes", "2", "--steps", "200") == 0
    path = str(tmp_path / "run__mean" / "checkpoint.pt")
    gif = tmp_path / "watch.gif"
    assert watch.main([path, "--lifetime", "1", "--steps", "60", "--steps-per-frame", "0", "--record", str(gif)]) == 0
    assert gif.exists()
    assert watch.main([path, "--learn", "--steps", "60", "--steps-per-frame", "10"]) == 0
    out = capsys.readouterr().out
    assert "from step 200 to 260 (not learning)" in out and "(learning)" in out
    assert load_checkpoint(path)["step"] == 200  # watch never writes the checkpoint
    argmax = []  # every step's action against the argmax of its pi (sampled, an untrained pi's often differ)

    class Check(Callback):
        def on_step(self, state):
            argmax.append(bool((state.agent.action == state.agent.pi.argmax(-1)).all()))

    real_loop = watch_cli.loop
    monkeypatch.setattr(watch_cli, "loop", lambda *a, callbacks, **kw: real_loop(*a, callbacks=[*callbacks, Check()], **kw))
    assert watch.main([path, "--deterministic", "--steps", "30", "--steps-per-frame", "0"]) == 0
    assert "from step 200 to 230 (not learning, most probable action)" in capsys.readouterr().out
    assert len(argmax) == 30 and all(argmax)
    argmax.clear()
    assert watch.main([path, "--steps", "30", "--steps-per-frame", "0"]) == 0
    assert not all(argmax)
    assert watch.main([path, "--deterministic", "--learn"]) == 2
    assert "--deterministic with --learn: the policy gradient needs the sampled action" in one_error_line(capsys)
    assert watch.main([path, "--lifetime", "2"]) == 2
    assert "--lifetime 2 is not a lifetime" in one_error_line(capsys)
    assert watch.main([path, "--fps", "0"]) == 2
    assert "--fps 0 is out of range; allowed: fps >= 1 (an integer)" in one_error_line(capsys)
    assert watch.main([path, "--record", str(gif), "--record-every", "0"]) == 2
    assert "--record-every 0 is out of range" in one_error_line(capsys)


# -- games from other packages, names ------------------------------------------------------------
def test_a_game_from_another_package_trains_by_its_module_id_form(tmp_path):
    """--env module:Id imports the module (it registers its game on import); images go to the
    pixel encoder; the run is named by the game's id."""
    sys.modules.pop("tinygame", None)
    gym.registry.pop("TinyImage-v0", None)  # registered only once train.py imports tinygame
    assert run(tmp_path, "--env", "tinygame:TinyImage-v0", "--steps", "60", "--lifetimes", "2") == 0
    runs = sorted(p.name for p in tmp_path.iterdir())
    assert runs == ["run__0", "run__1", "run__mean"]
    config = yaml.safe_load((tmp_path / "run__mean" / "config.yaml").read_text())
    assert config["env"] == "tinygame:TinyImage-v0" and config["agent_kwargs"]["encoder"] == "pixels"
    assert "charts/episodic_return" in events(tmp_path / "run__0").Tags()["scalars"]


def test_module_id_form_with_a_missing_module_or_id_is_one_line(tmp_path, capsys):
    assert run(tmp_path, "--env", "no_such_package:Game-v0") == 2
    assert "cannot import module 'no_such_package'" in one_error_line(capsys)
    assert run(tmp_path, "--env", "tinygame:TinyImag-v0") == 2
    assert "registers no environment 'TinyImag-v0' (did you mean 'TinyImage-v0'?)" in one_error_line(capsys)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name, hint", [("Pong", "did you mean 'pong'?"), ("flapy", "did you mean 'flappy'?"),
                                        ("Cartpole-v1", "did you mean 'CartPole-v1'")])
def test_a_near_miss_names_the_nearest_environment(tmp_path, capsys, name, hint):
    assert run(tmp_path, "--env", name) == 2
    err = one_error_line(capsys)
    assert f"unknown environment {name!r} ({hint}" in err


def test_cartpole_short_name_works_in_train_as_in_the_benchmarks(tmp_path):
    assert run(tmp_path, "--env", "cartpole", "--steps", "20") == 0
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["env"] == "CartPole-v1"


@pytest.mark.parametrize("fixture, run_dir, learner", [("before_issue13_pong.pt", "p1", "eprop"),
                                                        ("before_issue13_bptt__mean.pt", "b2__mean", "bptt")])
def test_checkpoints_written_before_the_tracerl_package_resume(tmp_path, fixture, run_dir, learner):
    """Checkpoints train.py wrote before issue 13 (tests/data: 300 steps of Pong, one lifetime; 300 of
    CartPole with bptt, two, its keyword still "window") continue in the new code."""
    folder = tmp_path / run_dir
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "data" / fixture, folder / "checkpoint.pt")
    assert load_checkpoint(str(folder / "checkpoint.pt"))["step"] == 300
    assert train.main(["--resume", str(folder / "checkpoint.pt"), "--steps", "400", "--no-compile"]) == 0
    ckpt = load_checkpoint(str(folder / "checkpoint.pt"))
    assert ckpt["step"] == 400 and ckpt["config"]["learner"] == learner
    if learner == "bptt":
        kwargs = ckpt["config"]["learner_kwargs"]
        assert kwargs["truncation"] == 100 and "window" not in kwargs


# -- images and event grids (issue 19) ---------------------------------------------------------
def test_minatar_trains_by_its_gymnasium_id_with_spikes_into_a_convolution(tmp_path):
    pytest.importorskip("minatar")
    assert run(tmp_path, "--env", "MinAtar/Breakout-v1", "--steps", "40", "--lifetimes", "2") == 0
    config = yaml.safe_load((tmp_path / "run__mean" / "config.yaml").read_text())
    assert config["agent_kwargs"]["encoder"] == "spikes" and config["agent_kwargs"]["frontend"] == "conv"
    assert "1_game/return_last100" in events(tmp_path / "run__0").Tags()["scalars"]


def test_an_ale_game_runs_end_to_end_with_gymnasiums_atari_preprocessing(tmp_path, capsys):
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    from tracerl.learners.run.games import make_env

    env = make_env("ale_py:ALE/Pong-v5", 1)  # auto: grayscale 84x84, 4 frames per step, no-ops at reset
    assert env.single_observation_space.shape == (84, 84) and env.single_observation_space.dtype == np.uint8
    assert env.envs[0].unwrapped._frameskip == 1  # the wrapper skips frames; the game must not skip too
    env.close()
    raw = make_env("ale_py:ALE/Pong-v5", 1, preprocess="none")
    assert raw.single_observation_space.shape == (210, 160, 3)
    raw.close()
    assert run(tmp_path, "--env", "ale_py:ALE/Pong-v5", "--steps", "30") == 0
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    # an image: flat into the dense layer by default
    assert config["agent_kwargs"]["encoder"] == "pixels" and config["agent_kwargs"]["frontend"] == "dense"
    assert run(tmp_path, "--env", "pong", "--set", "env.preprocess=atari", name="not_ale") == 2
    assert "preprocess 'atari' needs an ALE game" in one_error_line(capsys)


def test_an_mlp_with_two_hidden_sizes_is_refused_not_built_with_one(tmp_path, capsys):
    assert train.main(["--env", "cartpole", "--agent", "mlp", "--hidden", "64,32", "--steps", "10", "--no-compile",
                       "--logdir", str(tmp_path)]) == 2
    assert one_error_line(capsys) == ("train.py: error: the mlp agent has one hidden layer; got hidden=[64, 32]; "
                                      "allowed: one size, like 64")
    assert not any(tmp_path.iterdir())


def test_an_encoder_that_cannot_read_the_observation_is_one_line_and_exit_code_2(tmp_path, capsys):
    assert run(tmp_path, "--env", "cartpole", "--encoder", "pixels") == 2
    assert one_error_line(capsys) == ("train.py: error: encoder 'pixels' needs a 0/1 grid or an integer image ((H, W), "
                                      "or a channel axis of at most 4 first or last); got shape (4,) and dtype float32")
    assert run(tmp_path, "--env", "cartpole", "--set", "frontend=conv") == 2
    assert "frontend 'conv' needs an encoder that keeps a picture" in one_error_line(capsys)
    assert not any(tmp_path.iterdir())


def test_eval_every_logs_the_frozen_greedy_and_sampled_figures_at_its_steps(tmp_path):
    assert run(tmp_path, "--env", "cartpole", "--steps", "400", "--eval-every", "200", "--eval-episodes", "2") == 0
    ea = events(tmp_path / "run")
    for tag in ("eval/mean_reward", "eval/mean_ep_length", "eval/mean_reward_sampled"):
        assert sorted(curve(ea, tag)) == [200, 400], tag
    assert all(v >= 8 for v in curve(ea, "eval/mean_ep_length").values())  # whole CartPole episodes


# -- the installed command --------------------------------------------------------------------------
def test_the_installed_tracerl_command_runs_every_script_with_the_same_options(tmp_path):
    import importlib

    exe = shutil.which("tracerl")
    assert exe, "pip install -e . installs the tracerl command"
    top = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert top.returncode == 0 and "{train,watch,compare,sweep,export}" in top.stdout
    body = lambda text: text.split("\n\n", 1)[1]  # noqa: E731  (the usage lines wrap by the name's length)
    for name in ("train", "watch", "compare", "sweep", "export"):
        command = importlib.import_module(f"tracerl.learners.run.cli.{name}").build_parser(f"tracerl {name}")
        assert body(command.format_help()) == body(script(name).build_parser().format_help()), name
    export_help = subprocess.run([exe, "export", "--help"], capture_output=True, text=True)
    assert export_help.returncode == 0 and export_help.stdout.startswith("usage: tracerl export")
    bad = subprocess.run([exe, "train", "--env", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("tracerl train: error: unknown environment 'nope'")
    assert len(bad.stderr.strip().splitlines()) == 1
    unknown = subprocess.run([exe, "fly"], capture_output=True, text=True)
    assert unknown.returncode == 2 and unknown.stderr.strip() == ("tracerl: error: unknown command 'fly'; allowed: "
                                                                 "train, watch, compare, sweep, export")
