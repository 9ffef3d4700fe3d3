"""Train an agent online in one game, watch it learn, and log every lifetime to TensorBoard.

    python scripts/train.py --env pong                     # learn Pong at once; curves in runs/
    python scripts/train.py --env pong --render            # ...and watch it (space + - n Esc)
    python scripts/train.py --env flappy --lifetimes 8     # 8 seeds in one batch, one run each
    python scripts/train.py --env CartPole-v1 --agent mlp --lr 0.003
    python scripts/train.py --resume runs/Pong-v0__eprop__0__1712345678/checkpoint.pt
    tensorboard --logdir runs

Settings, later ones winning: the env's preset (learners/presets.py), --config FILE (YAML with
any option below, dashes or underscores, or the sections agent_kwargs / learner_kwargs /
env_kwargs of a run's config.yaml), the flags, then --set KEY=VALUE (KEY: an agent or learner
keyword, or agent.KEY / learner.KEY / env.KEY).

Each lifetime logs to its own run, {logdir}/{env}__{learner}__{seed}__{unix time}; with N > 1
lifetimes an aggregate run ...__mean beside them holds the mean and spread across lifetimes and
the checkpoint (with N = 1 the run itself holds it). Every run has config.yaml. checkpoint.pt
is written every --checkpoint-every steps, at the end, and on Ctrl-C or SIGTERM; --resume
continues the same lifetimes in the same runs.

With --render the N games run as N single games (Gymnasium's SyncVectorEnv), so the shown one
can be drawn; headless, N >= 4 bundled games run natively batched. Both give the same
trajectories; a resumed run keeps the kind of env its checkpoint was written with.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import math
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]  # the repository (agents, envs, learners) and live.py

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from gymnasium.vector import AutoresetMode  # noqa: E402
from tqdm import tqdm  # noqa: E402

from tracerl import envs  # noqa: E402
from tracerl.agents import AGENTS, make_agent  # noqa: E402
from tracerl.agents.policy import check_spaces  # noqa: E402
from tracerl.learners import LEARNERS, make_learner  # noqa: E402
from tracerl.learners.presets import preset  # noqa: E402
from tracerl.learners.ranges import check_range  # noqa: E402
from tracerl.learners.run import BUNDLED, GAME_TAGS, Measures, learning_reward, make_env  # noqa: E402

FORMAT, VERSION = "tracerl-train-checkpoint", 1

# What the run learns: saved in config.yaml and the checkpoint. None: the env's preset decides.
RUN_DEFAULTS: dict[str, Any] = {
    "env": "pong", "agent": "spiking", "learner": "eprop", "lifetimes": 1, "seed": 0, "steps": 1_000_000,
    "reward": None, "preset": "tuned", "log_every": 1000, "hist_every": 50_000, "checkpoint_every": 100_000,
}
# How this process runs it.
SESSION_DEFAULTS: dict[str, Any] = {
    "logdir": "runs", "run_name": None, "resume": None, "config": None, "threads": 1, "compile": True,
    "render": False, "render_lifetime": 0, "record": None, "record_every": 1, "fps": 60, "steps_per_frame": 1,
}
AGENT_FLAGS = ("hidden", "neuron", "recurrent", "ticks", "tau_mem", "tau_out", "encoder", "feedback", "temperature")
LEARNER_FLAGS = ("signal", "lr", "trace_lambda", "entropy", "gamma", "bound_kappa")
SECTIONS = {"agent_kwargs": "agent", "learner_kwargs": "learner", "env_kwargs": "env"}
# A resumed run continues the same lifetimes: these settings cannot change.
FIXED_ON_RESUME = ("env", "agent", "learner", "lifetimes", "seed", "reward", "env_kwargs", "agent_kwargs")
LINE_EVERY = 30  # seconds between plain progress lines where no bar can be drawn
FALLBACK_COLUMNS = 80  # the bar's width where the terminal reports 0 columns
NO_SPREAD = ("charts/SPS", "time/fps")  # the same for every lifetime of a batch
# TensorBoard's first screen (Time Series) sorts groups by name, so agent/ internals came first. The
# figures a user looks for first are also logged in the group 1_game/, which sorts before every
# other: the game's measure, the reward rate and the trailing-100 episodic return. Their own tags
# stay as they are (compare.py, sweep.py and SB3 / CleanRL runs use those names).
FIRST = {"pong/hit_rate": "1_game/hit_rate", "flappy/pipes_per_life": "1_game/pipes_per_life",
         "charts/reward_rate": "1_game/reward_rate", "rollout/ep_rew_mean": "1_game/return_last100"}


class UsageError(Exception):
    """A bad value from the user: main() prints it as one line and exits with code 2."""


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


# -- arguments ---------------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def parse_hidden(text: str) -> int | list[int]:
    """``128`` -> 128, ``64,32`` -> [64, 32]."""
    try:
        sizes = [int(s) for s in str(text).split(",")]
        if min(sizes) < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid layer sizes {text!r}; allowed: a size like 128 or sizes like 64,32")
    return sizes[0] if len(sizes) == 1 else sizes


def parse_value(text: str) -> Any:
    """A --set value: JSON (numbers, true, [64, 32]), else YAML, else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return numeric(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def numeric(value: Any) -> Any:
    """YAML reads ``1e-3`` as a string; take number-like strings as numbers (recursively)."""
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value.strip()):
        return float(value) if re.search(r"[.eE]", value) else int(value)
    if isinstance(value, list):
        return [numeric(v) for v in value]
    if isinstance(value, dict):
        return {k: numeric(v) for k, v in value.items()}
    return value


def class_params(cls) -> list[str]:
    """The keyword settings of an agent or learner class (what --set and the config may name)."""
    skip = {"self", "observation_space", "action_space", "n", "seed", "agent"}
    return [p.name for p in inspect.signature(cls).parameters.values()
            if p.name not in skip and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def class_default(cls, name: str) -> Any:
    p = inspect.signature(cls).parameters.get(name)
    return None if p is None or p.default is p.empty else p.default


def build_parser() -> Parser:
    p = Parser(prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
               argument_default=argparse.SUPPRESS)
    spiking, eprop = AGENTS["spiking"], LEARNERS["eprop"]

    def opt(group, flag: str, default: str, help: str, **kw):
        group.add_argument(flag, help=f"{help} (default: {default})", **kw)

    g = p.add_argument_group("run")
    opt(g, "--env", "pong", f"{', '.join(envs.ALIASES)}, any registered Gymnasium id with a Discrete action "
        "space and a Box observation, e.g. CartPole-v1, LunarLander-v3, or module:Id for a game another package "
        "registers on import (images go to the pixel encoder)")
    opt(g, "--agent", "spiking", "policy network", choices=sorted(AGENTS))
    opt(g, "--learner", "eprop", "learning rule", choices=sorted(LEARNERS))
    opt(g, "--lifetimes", "1", "N independent lifetimes (seeds seed, seed+1, ...) in one batch", type=int,
        metavar="N")
    opt(g, "--seed", "0", "seed of the first lifetime", type=int)
    opt(g, "--steps", "1000000", "env steps per lifetime, in all (with --resume: the step to reach)", type=int)
    opt(g, "--preset", "tuned", "tuned: the env's own preset where it has one (learners/presets.py); default: the "
        "settings every other game gets", choices=["tuned", "default"])
    opt(g, "--reward", "the env's preset", "learning reward: env (the game's) or failure (-1 at termination)",
        choices=["env", "failure"])

    g = p.add_argument_group("agent (defaults: the env's preset, else the agent's own default)")
    opt(g, "--hidden", "preset: 128", "hidden layer size, or sizes like 64,32", type=parse_hidden)
    opt(g, "--neuron", class_default(spiking, "neuron"), "spiking neuron model", choices=["lif", "alif"])
    opt(g, "--recurrent", class_default(spiking, "recurrent"), "recurrent weights in each hidden layer",
        action=argparse.BooleanOptionalAction)
    opt(g, "--ticks", "preset: 4", "network ticks per env step", type=int)
    opt(g, "--tau-mem", class_default(spiking, "tau_mem"), "membrane time constant, ticks", type=float)
    opt(g, "--tau-out", class_default(spiking, "tau_out"), "readout time constant, ticks", type=float)
    opt(g, "--encoder", class_default(spiking, "encoder"), "observation encoder",
        choices=["auto", "normalize", "population", "pixels"])
    opt(g, "--feedback", class_default(spiking, "feedback"), "learning-signal feedback weights",
        choices=["symmetric", "random"])
    opt(g, "--temperature", class_default(spiking, "temperature"), "softmax temperature", type=float)

    g = p.add_argument_group("learner (defaults: the env's preset, else the learner's own default)")
    opt(g, "--signal", "preset: td (reflect: greedy)", "learning signal", choices=["greedy", "td"])
    opt(g, "--lr", "preset: 0.01", "step size", type=float)
    opt(g, "--trace-lambda", "preset: 0.9", "decay of the policy-gradient trace", type=float)
    opt(g, "--entropy", "preset: 0.003", "entropy bonus coefficient", type=float)
    opt(g, "--gamma", "preset: 0.98-0.99", "discount of the critic (td)", type=float)
    opt(g, "--bound-kappa", class_default(eprop, "bound_kappa"), "ObGD step bound (0: plain SGD)", type=float)
    opt(g, "--set", "none", "any other agent, learner or env keyword, e.g. --set tau_adapt=200 --set "
        "env.obs_type=pixels (repeatable)", action="append", metavar="KEY=VALUE")
    opt(g, "--config", "none", "YAML file of settings, e.g. a run's config.yaml", metavar="FILE")

    g = p.add_argument_group("logging and checkpoints")
    opt(g, "--logdir", "runs", "where runs are written", metavar="DIR")
    opt(g, "--run-name", "{env}__{learner}__{seed}__{unix time}", "name of the run directory", metavar="NAME")
    opt(g, "--log-every", "1000", "steps per logged point (windowed means)", type=int, metavar="STEPS")
    opt(g, "--hist-every", "50000", "steps between weight histograms (0: never)", type=int, metavar="STEPS")
    opt(g, "--checkpoint-every", "100000", "steps between checkpoints (0: only at the end and on Ctrl-C)",
        type=int, metavar="STEPS")
    opt(g, "--resume", "none", "continue the run of this checkpoint.pt", metavar="PATH")
    opt(g, "--threads", "1", "torch threads", type=int)
    opt(g, "--no-compile", "compile", "run eager instead of torch.compile (the first compiled step takes about "
        "a minute on a small CPU; later ones are several times faster)", dest="compile", action="store_false")

    g = p.add_argument_group("live window")
    opt(g, "--render", "off", "show one lifetime's game and network while it learns", action="store_true")
    opt(g, "--render-lifetime", "0", "which lifetime to show", type=int, metavar="K")
    opt(g, "--record", "none", "write the window's frames, at its full size, to a .gif (Pillow) or .mp4 (imageio "
        "with ffmpeg); implies --render", metavar="FILE")
    opt(g, "--record-every", "1", "keep every K-th drawn frame in the recording (1: every frame; with "
        "--steps-per-frame S a frame shows S steps)", type=int, metavar="K")
    opt(g, "--fps", "60", "window frames per second at most", type=int)
    opt(g, "--steps-per-frame", "1", "env steps between frames at the start, 0: unthrottled (keys + and - "
        "change it)", type=int, metavar="STEPS")
    return p


def read_config_file(path: str) -> dict:
    if not os.path.isfile(path):
        raise UsageError(f"config file {path!r} not found")
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"cannot read config file {path!r}: {one_line(e)}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path!r} must hold a mapping of settings (key: value); "
                         f"got {type(data).__name__}")
    return {str(k).replace("-", "_"): numeric(v) for k, v in data.items()}


def resolve(given: dict, base: dict | None = None) -> tuple[dict, dict]:
    """The run's settings and this session's options from presets (or the checkpoint's settings,
    ``base``), --config, the flags and --set, later ones winning. Raises UsageError."""
    run: dict = {}
    session: dict = {}
    sections: dict[str, dict] = {"agent": {}, "learner": {}, "env": {}}
    loose: dict = {}

    def place(key: str, value: Any, where: str) -> None:
        key = key.replace("-", "_")
        if key in ("resume", "config") and where != "the flags":
            raise UsageError(f"{key} cannot be set in {where}; use --{key}")
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise UsageError(f"{key} in {where} must be a mapping; got {value!r}")
            sections[SECTIONS[key]].update(value)
        elif "." in key:
            section, sub = key.split(".", 1)
            if section not in sections:
                raise UsageError(f"unknown setting {key!r} in {where}; allowed prefixes: agent., learner., env.")
            sections[section][sub] = value
        elif key in RUN_DEFAULTS:
            run[key] = value
        elif key in SESSION_DEFAULTS:
            session[key] = value
        elif key in AGENT_FLAGS:
            sections["agent"][key] = value
        elif key in LEARNER_FLAGS:
            sections["learner"][key] = value
        else:
            loose[key] = value

    if given.get("config"):
        for key, value in read_config_file(given["config"]).items():
            place(key, value, f"config file {given['config']!r}")
    for key, value in given.items():
        if key not in ("set", "config"):
            place(key, value, "the flags")
    for item in given.get("set", []):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise UsageError(f"invalid --set {item!r}; expected KEY=VALUE, e.g. --set tau_adapt=200")
        place(key.strip(), parse_value(value.strip()), "--set")
    session = {**SESSION_DEFAULTS, **session}

    if base is None:
        try:
            env_id = envs.resolve_id(str(run.get("env", RUN_DEFAULTS["env"])))
        except ValueError as e:
            raise UsageError(str(e))
        names = {}
        for key, table in (("agent", AGENTS), ("learner", LEARNERS)):
            names[key] = run.get(key, RUN_DEFAULTS[key])
            if names[key] not in table:
                raise UsageError(f"unknown {key} {names[key]!r}; allowed: {', '.join(map(repr, sorted(table)))}")
        if run.get("preset", "tuned") not in ("tuned", "default"):
            raise UsageError(f"unknown preset {run['preset']!r}; allowed: 'tuned', 'default'")
        defaults = preset(env_id, names["learner"], sections["learner"].get("signal"),
                          tuned=run.get("preset", "tuned") == "tuned")
        agent_params = class_params(AGENTS[names["agent"]])
        learner_params = class_params(LEARNERS[names["learner"]])
        learner_preset = {k: v for k, v in defaults["learner"].items() if k in learner_params}
        if names["learner"] == "reflect":
            learner_preset.pop("signal", None)  # reflect has one signal, greedy; presets are written for eprop
        config = {**RUN_DEFAULTS, **run, **names, "env": env_id, "reward": defaults["reward"],
                  "env_kwargs": {}, "learner_kwargs": learner_preset,
                  "agent_kwargs": {k: v for k, v in defaults["agent"].items() if k in agent_params}}
        config.update({k: v for k, v in run.items() if k not in ("env", "agent", "learner")})
    else:
        config = copy.deepcopy(base)
        for key in ("env", "agent", "learner"):
            if key in run:
                try:
                    asked = envs.resolve_id(str(run[key])) if key == "env" else run[key]
                except ValueError as e:
                    raise UsageError(str(e))
                if asked != config[key]:
                    raise UsageError(f"--{key} {run[key]} differs from the checkpoint's {config[key]!r}; a resumed "
                                     f"run continues the same lifetimes")
        config.update({k: v for k, v in run.items() if k not in ("env", "agent", "learner")})

    agent_params = class_params(AGENTS[config["agent"]])
    learner_params = class_params(LEARNERS[config["learner"]])
    for key, value in loose.items():
        in_agent, in_learner = key in agent_params, key in learner_params
        if in_agent and in_learner:
            raise UsageError(f"setting {key!r} names both an agent and a learner keyword; write agent.{key} or "
                             f"learner.{key}")
        if not (in_agent or in_learner):
            raise UsageError(f"unknown setting {key!r}; allowed: {', '.join(RUN_DEFAULTS)}, agent {config['agent']!r} "
                             f"settings ({', '.join(agent_params)}), learner {config['learner']!r} settings "
                             f"({', '.join(learner_params)}), or env.KEY")
        sections["agent" if in_agent else "learner"][key] = value
    for section, params in (("agent", agent_params), ("learner", learner_params)):
        for key, value in sections[section].items():
            if key not in params:
                raise UsageError(f"setting {key}={value!r} does not apply to {section} {config[section]!r}; its "
                                 f"settings: {', '.join(params)}")
            if key == "hidden" and isinstance(value, str):
                try:
                    value = parse_hidden(value)
                except argparse.ArgumentTypeError as e:
                    raise UsageError(str(e))
            if key == "hidden" and config["agent"] == "spiking" and isinstance(value, int):
                value = [value]  # as SpikingPolicy.config writes it
            config[f"{section}_kwargs"][key] = value
    config["env_kwargs"].update(sections["env"])

    hidden = config["agent_kwargs"].get("hidden", 1)
    for size in hidden if isinstance(hidden, list) else [hidden]:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise UsageError(f"invalid layer sizes {hidden!r}; allowed: a size like 128 or sizes like 64,32")
    if config["reward"] is None:
        config["reward"] = preset(config["env"], tuned=config.get("preset", "tuned") == "tuned")["reward"]
    if config["reward"] not in ("env", "failure"):
        raise UsageError(f"unknown reward {config['reward']!r}; allowed: 'env', 'failure'")
    try:  # every numeric setting in its range (learners/ranges.py), before anything starts
        for key, value in [*config.items(), *session.items()]:
            if key in RUN_DEFAULTS or key in SESSION_DEFAULTS:
                check_range(key, value, f"--{key.replace('_', '-')}")
        for section, flags in (("agent", AGENT_FLAGS), ("learner", LEARNER_FLAGS)):
            for key, value in config[f"{section}_kwargs"].items():
                check_range(key, value, f"--{key.replace('_', '-')}" if key in flags else f"{section}.{key}")
    except ValueError as e:
        raise UsageError(str(e))
    if session["render_lifetime"] >= config["lifetimes"]:
        raise UsageError(f"--render-lifetime {session['render_lifetime']} is not a lifetime of this run; allowed: "
                         f"0 to {config['lifetimes'] - 1}")
    if base is not None:
        for key in FIXED_ON_RESUME:
            if config[key] != base[key]:
                raise UsageError(f"{key} cannot change on --resume (checkpoint: {base[key]!r}, asked: "
                                 f"{config[key]!r}); a resumed run continues the same lifetimes")
        if config["learner_kwargs"].get("signal") != base["learner_kwargs"].get("signal"):
            raise UsageError(f"signal cannot change on --resume (checkpoint: {base['learner_kwargs'].get('signal')!r})")
    return config, session


# -- environment, agent, learner -------------------------------------------------------------
def build_env(config: dict, n: int, singles: bool, render: bool) -> gym.vector.VectorEnv:
    """N games. ``singles``: always N single games (a SyncVectorEnv), so one can be drawn."""
    env_id, kwargs = config["env"], dict(config["env_kwargs"])
    if render:
        kwargs["render_mode"] = "rgb_array"
    try:
        if singles and env_id in BUNDLED and n >= 4:  # make_env would batch them natively
            return gym.make_vec(env_id, num_envs=n, vectorization_mode="sync",
                                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **kwargs)
        return make_env(env_id, n, **kwargs)
    except Exception as e:  # a missing extra (box2d), an unknown env keyword, ...
        raise UsageError(f"cannot make {env_id} with {config['env_kwargs'] or 'its defaults'}: {one_line(e)}")


def build_agent(config: dict, env: gym.vector.VectorEnv, n: int | None = None, seed: int | None = None):
    try:
        check_spaces(env.single_observation_space, env.single_action_space)
    except ValueError as e:
        raise UsageError(f"{config['env']}: {one_line(e)}")
    try:
        return make_agent(config["agent"], env.single_observation_space, env.single_action_space,
                          n=n or config["lifetimes"], seed=config["seed"] if seed is None else seed,
                          **config["agent_kwargs"])
    except (ValueError, TypeError) as e:
        raise UsageError(one_line(e))


def build_learner(config: dict, agent):
    try:
        return make_learner(config["learner"], agent, **config["learner_kwargs"])
    except (ValueError, TypeError) as e:
        raise UsageError(one_line(e))


# -- checkpoints ------------------------------------------------------------------------------
def to_torch(obj: Any) -> Any:
    """numpy arrays and scalars inside nested dicts / lists -> tensors (torch.load(weights_only) reads them)."""
    if isinstance(obj, (np.ndarray, np.generic)):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, dict):
        return {k: to_torch(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_torch(v) for v in obj)
    return obj


def to_numpy(obj: Any) -> Any:
    """The inverse of :func:`to_torch` (0-d tensors become numpy scalars)."""
    if isinstance(obj, torch.Tensor):
        a = obj.numpy()
        return a[()] if a.ndim == 0 else a
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_numpy(v) for v in obj)
    return obj


def env_state(env: gym.vector.VectorEnv) -> dict:
    """The games' own state: a native batch's state_dict, each single game's, or nothing (other envs)."""
    if hasattr(env, "state_dict"):
        return {"kind": "vector", "state": to_torch(env.state_dict())}
    games = [e.unwrapped for e in getattr(env, "envs", [])]
    if games and all(hasattr(g, "state_dict") for g in games):
        return {"kind": "singles", "states": [to_torch(g.state_dict()) for g in games]}
    return {"kind": "fresh"}


def load_env_state(env: gym.vector.VectorEnv, state: dict) -> None:
    if state["kind"] == "vector":
        env.load_state_dict(to_numpy(state["state"]))
    elif state["kind"] == "singles":
        for game, s in zip(env.envs, state["states"]):
            game.unwrapped.load_state_dict(to_numpy(s))


def save_checkpoint(path: str, state: dict) -> None:
    """Write atomically: a reader sees the old checkpoint or the new one, never half of one."""
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    """Read a train.py checkpoint; a missing, corrupt or foreign file raises UsageError."""
    if not os.path.isfile(path):
        raise UsageError(f"checkpoint {path!r} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UsageError(f"cannot read checkpoint {path!r}: corrupt or not a tracerl checkpoint ({one_line(e)})")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UsageError(f"{path!r} is not a tracerl train.py checkpoint")
    if ckpt.get("version") != VERSION:
        raise UsageError(f"checkpoint {path!r} has format version {ckpt.get('version')!r}; this train.py reads "
                         f"{VERSION}")
    return ckpt


def detached(state: dict) -> dict:
    return {k: v.detach() for k, v in state.items()}


# -- logging ----------------------------------------------------------------------------------
class Window:
    """The learner's (N,) outputs between two logged points, kept as tensors (no .item() per step)."""

    FOLD = 1024  # steps stacked before they are summed

    def __init__(self):
        self.parts: dict[tuple[str, ...], list[torch.Tensor]] = {}
        self.sums: dict[tuple[str, ...], tuple[torch.Tensor, int]] = {}
        self.restart_clock()

    def restart_clock(self) -> None:
        self.t0, self.steps = time.perf_counter(), 0

    def add(self, out: dict[str, torch.Tensor]) -> None:
        self.steps += 1
        keys = tuple(out)
        part = self.parts.get(keys)
        if part is None:
            part = self.parts[keys] = []
        part.append(torch.stack(tuple(out.values())))
        if len(part) == self.FOLD:
            self._fold(keys)

    def _fold(self, keys: tuple[str, ...]) -> None:
        part = self.parts.pop(keys, [])
        if part:
            total, count = self.sums.get(keys, (0.0, 0))
            self.sums[keys] = (torch.stack(part).sum(0) + total, count + len(part))

    def means(self) -> dict[str, np.ndarray]:
        """(N,) mean of each output over the window; starts the next window."""
        for keys in list(self.parts):
            self._fold(keys)
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for keys, (total, count) in self.sums.items():
            for key, row in zip(keys, total.detach().double().numpy()):
                sums[key] = sums.get(key, 0.0) + row
                counts[key] = counts.get(key, 0) + count
        self.sums = {}
        return {key: sums[key] / counts[key] for key in sums}

    def state_dict(self) -> list:
        for keys in list(self.parts):
            self._fold(keys)
        return [[list(keys), total, count] for keys, (total, count) in self.sums.items()]

    def load_state_dict(self, state: list) -> None:
        self.sums = {tuple(keys): (total, count) for keys, total, count in state}


class RunLog:
    """TensorBoard: one writer per lifetime, plus the aggregate (mean, std, min, max) for N > 1."""

    def __init__(self, logdir: str, names: list[str], aggregate: str | None, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        def make(name: str) -> SummaryWriter:
            return SummaryWriter(os.path.join(logdir, name), purge_step=purge_step, flush_secs=20)

        self.writers = [make(name) for name in names]
        self.mean = make(aggregate) if aggregate else None
        self.layout_done = False

    def text(self, tag: str, rows: list[dict[str, Any]], step: int = 0) -> None:
        """One markdown table per run (rows[i] for lifetime i, rows[-1] for the aggregate)."""
        for writer, table in zip(self.writers + ([self.mean] if self.mean else []), rows):
            body = "\n".join(f"|{k}|{v}|" for k, v in table.items())
            writer.add_text(tag, f"|setting|value|\n|-|-|\n{body}", step)

    def scalars(self, figures: dict[str, np.ndarray], step: int) -> None:
        for tag, values in figures.items():
            values = np.asarray(values, dtype=np.float64)
            for writer, v in zip(self.writers, values):
                if math.isfinite(v):
                    writer.add_scalar(tag, v, step)
            ok = values[np.isfinite(values)]
            if self.mean is None or not len(ok):
                continue
            self.mean.add_scalar(tag, ok.mean(), step)
            if tag not in NO_SPREAD and not tag.startswith("1_game/"):
                self.mean.add_scalar(f"spread/{tag}/std", ok.std(), step)
                self.mean.add_scalar(f"spread/{tag}/min", ok.min(), step)
                self.mean.add_scalar(f"spread/{tag}/max", ok.max(), step)
        if not self.layout_done:  # Custom Scalars: the game first, every run in one chart; then bands
            self.layout_done = True
            measure = r"^1_game/(hit_rate|pipes_per_life)$"
            layout = {"1. the game, all runs": {
                "measure (Pong hit rate, Flappy pipes per life)": ["Multiline", [measure]],
                "reward rate": ["Multiline", [r"^1_game/reward_rate$"]],
                "episodic return, last 100 episodes": ["Multiline", [r"^1_game/return_last100$"]]}}
            if self.mean is not None:  # a band chart: mean between min and max
                layout["2. lifetimes: mean and range"] = {
                    tag: ["Margin", [tag, f"spread/{tag}/min", f"spread/{tag}/max"]] for tag in figures
                    if tag not in NO_SPREAD and not tag.startswith(("agent/", "1_game/"))}
            (self.mean or self.writers[0]).add_custom_scalars(layout)

    def histograms(self, weights: dict[str, torch.Tensor], step: int) -> None:
        for i, writer in enumerate(self.writers):
            for name, w in weights.items():
                writer.add_histogram(f"weights/{name}", w[i].detach(), step)

    def close(self) -> None:
        for writer in self.writers + ([self.mean] if self.mean else []):
            writer.close()


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute: a fresh
    and a resumed run print the same paths."""
    rel = os.path.relpath(path)
    return rel if rel != os.pardir and not rel.startswith(os.pardir + os.sep) else os.path.abspath(path)


def resumed_logdir(given: dict, session: dict, names: list[str], aggregate: str | None, main_name: str) -> str:
    """Where a resumed run's folders are: beside its checkpoint's folder. --logdir and --run-name
    may be given when they name the run's own (re-running the first command with --resume)."""
    ckpt_dir = os.path.dirname(os.path.abspath(given["resume"]))
    logdir = os.path.dirname(ckpt_dir) if os.path.basename(ckpt_dir) == main_name else session["logdir"]
    if "logdir" in given and os.path.abspath(given["logdir"]) != os.path.abspath(logdir):
        raise UsageError(f"--logdir {given['logdir']} is not this run's ({shown_path(logdir)}); a resumed run "
                         f"continues in its own directory: drop --logdir")
    own = {names[0], main_name} | ({aggregate.removesuffix("__mean")} if aggregate else set())
    if "run_name" in given and given["run_name"] not in own:
        raise UsageError(f"--run-name {given['run_name']} is not this run's ({main_name}); a resumed run continues "
                         f"in its own directory: drop --run-name")
    return shown_path(logdir)


def run_names(config: dict, logdir: str, name: str | None) -> tuple[list[str], str | None]:
    """One run per lifetime, {env}__{learner}__{seed}__{unix time} (or NAME, NAME__{seed}), and
    for N > 1 the aggregate, ...__mean. None of them may exist yet."""
    n, seeds = config["lifetimes"], [config["seed"] + i for i in range(config["lifetimes"])]
    exists = lambda runs: any(os.path.exists(os.path.join(logdir, r)) for r in runs)  # noqa: E731
    if name:
        names = [name] if n == 1 else [f"{name}__{s}" for s in seeds]
        aggregate = f"{name}__mean" if n > 1 else None
        if exists(names + [aggregate] * (n > 1)):
            raise UsageError(f"run {name!r} already exists in {logdir!r}; choose another --run-name, or --resume "
                             f"its checkpoint.pt")
        return names, aggregate
    stamp = int(time.time())
    while True:  # two runs started in the same second get different names
        names = [f"{envs.short_name(config['env'])}__{config['learner']}__{s}__{stamp}" for s in seeds]
        aggregate = f"{names[0]}__mean" if n > 1 else None
        if not exists(names + [aggregate] * (n > 1)):
            return names, aggregate
        stamp += 1


def settings_rows(config: dict, session: dict, argv: list[str]) -> dict[str, Any]:
    """Every setting as one flat table (CleanRL's hyperparameter text)."""
    rows: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            rows.update({f"{key}.{k}": v for k, v in value.items()} or {key: "{}"})
        else:
            rows[key] = value
    rows.update({k: session[k] for k in ("compile", "threads", "render")})
    rows["command"] = "python scripts/train.py " + shlex.join(argv)
    return rows


def terminal_columns() -> int:
    """The columns the terminal reports: 0 where either Python (shutil) or the terminal behind stderr
    (what tqdm asks) says 0."""
    columns = shutil.get_terminal_size((FALLBACK_COLUMNS, 24)).columns
    try:
        columns = min(columns, os.get_terminal_size(sys.stderr.fileno()).columns)
    except (AttributeError, ValueError, OSError):  # not a real terminal (a test's stand-in)
        pass
    return columns


def progress_bar(total: int, initial: int) -> tuple[tqdm, bool]:
    """tqdm's bar on a terminal, and whether to print a plain line every LINE_EVERY seconds too.

    Without a terminal (a log file, CI) only the lines. A terminal that reports 0 columns (some CI
    and ``script`` set-ups) gets a bar of FALLBACK_COLUMNS and the lines as well: tqdm sized to 0
    columns prints nothing.
    """
    tty = sys.stderr.isatty()
    wide = tty and terminal_columns() > 0
    bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=wide, ncols=None if wide else FALLBACK_COLUMNS,
               disable=not tty, file=sys.stderr)
    return bar, not (tty and wide)


class StopFlag:
    """SIGINT / SIGTERM ask the loop to stop after the current step; a second Ctrl-C stops at once.

    Only the main thread can take signals: run in another thread (a Ray Tune trial), the handlers
    stay as they are and whoever runs the thread stops it."""

    def __init__(self):
        self.signum = 0

    def __enter__(self) -> "StopFlag":
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for s, handler in self.old.items():
            signal.signal(s, handler)


# -- the run ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return train(vars(build_parser().parse_args(argv)), argv)
    except UsageError as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train.py: interrupted before training started", file=sys.stderr)
        return 130


def train(given: dict, argv: list[str], on_log: Callable[[int, dict[str, np.ndarray]], None] | None = None,
          on_error: Callable[[str], None] | None = None) -> int:
    """Run the training that ``given`` (parsed flags) asks for; returns the exit code.

    ``on_log(t, figures)`` is called after each logged window with the (N,) figures by TensorBoard
    tag (scripts/sweep.py reports the env's measure to Ray Tune from it; an exception it raises
    stops the run without a checkpoint); ``on_error(line)`` gets the one-line error of a run that
    stops on a NaN, before the exit code 1 is returned.
    """
    # Settings: presets < --config < flags < --set; a resumed run starts from its checkpoint's.
    ckpt = load_checkpoint(given["resume"]) if given.get("resume") else None
    config, session = resolve(given, base=ckpt["config"] if ckpt else None)
    torch.set_num_threads(session["threads"])
    n, shown, steps = config["lifetimes"], session["render_lifetime"], config["steps"]
    render = session["render"] or bool(session["record"])
    if session["record"]:
        from live import check_record_path

        try:
            check_record_path(session["record"])
        except ValueError as e:
            raise UsageError(str(e))

    # Environment: N games, seeded seed, seed+1, ...
    kind = ckpt["env"]["kind"] if ckpt else None
    if kind == "vector" and render:
        raise UsageError("this checkpoint's games ran natively batched (headless, N >= 4), so --render cannot show "
                         "one of them; resume without --render, or play it with scripts/watch.py")
    env = build_env(config, n, singles=render or kind == "singles", render=render)
    obs, _ = env.reset(seed=config["seed"])

    # Agent and learner, then everything that continues a checkpoint's lifetimes.
    agent = build_agent(config, env)
    learner = build_learner(config, agent)
    config["agent_kwargs"] = {**agent.config, **config["agent_kwargs"]} if ckpt is None else config["agent_kwargs"]
    config["learner_kwargs"] = {**learner.config, **config["learner_kwargs"]}
    measures, window, step, seen = Measures(n), Window(), 0, [0] * n
    if ckpt is not None:
        try:
            agent.load_state_dict(ckpt["agent"])
            learner.load_state_dict(ckpt["learner"])
            load_env_state(env, ckpt["env"])
            measures.__dict__.update(to_numpy(ckpt["measures"]))
            window.load_state_dict(ckpt["window"])
            step, seen = int(ckpt["step"]), list(ckpt["seen"])
            torch.set_rng_state(ckpt["torch_rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise UsageError(f"checkpoint {given['resume']!r} does not fit these settings: {one_line(e)}")
        if kind == "fresh":  # an env without state_dict: its games start over, the lifetimes go on
            obs, _ = env.reset(seed=config["seed"] + step)
            agent.reset_state()
            learner.reset_traces()
            measures.ep_len[:], measures.ep_ret[:] = 0, 0.0
        else:
            obs = to_numpy(ckpt["obs"])
    if session["compile"]:
        agent.compile()
        learner.compile()

    # Runs: one directory per lifetime (+ the aggregate), config.yaml in each, TensorBoard events.
    if ckpt is None:
        logdir = shown_path(session["logdir"])
        names, aggregate = run_names(config, logdir, session["run_name"])
        main_name = aggregate or names[0]
    else:
        names, aggregate, main_name = ckpt["run"]["names"], ckpt["run"]["aggregate"], ckpt["run"]["main"]
        logdir = resumed_logdir(given, session, names, aggregate, main_name)
    if step >= steps:  # nothing to run: no run folder is made, no checkpoint rewritten
        env.close()
        print(f"nothing to run: step {step:,} of --steps {steps:,}" + ("" if ckpt else "; no run written"))
        return 0
    made = [os.path.join(logdir, name) for name in names + ([aggregate] if aggregate else [])
            if ckpt is None and not os.path.exists(os.path.join(logdir, name))]
    for name in names + ([aggregate] if aggregate else []):
        os.makedirs(os.path.join(logdir, name), exist_ok=True)
        with open(os.path.join(logdir, name, "config.yaml"), "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
    ckpt_path = os.path.join(logdir, main_name, "checkpoint.pt")
    # TensorBoard drops what an earlier process logged after the checkpoint's step (a crash, a NaN)
    log = RunLog(logdir, names, aggregate, purge_step=step + 1 if ckpt else None)
    rows = settings_rows(config, session, argv)
    per_run = [{**rows, "lifetime": i, "lifetime_seed": config["seed"] + i} for i in range(n)] + [rows]
    log.text("hyperparameters" if ckpt is None else "resumed", per_run, step)
    if ckpt is None and config["hist_every"]:
        log.histograms(agent.weights(), 0)

    def checkpoint(t: int) -> None:
        save_checkpoint(ckpt_path, {
            "format": FORMAT, "version": VERSION, "step": t, "config": config,
            "run": {"names": names, "aggregate": aggregate, "main": main_name},
            "agent": detached(agent.state_dict()), "learner": detached(learner.state_dict()),
            "env": env_state(env), "obs": to_torch(obs), "measures": to_torch(vars(measures)),
            "window": window.state_dict(), "seen": seen, "torch_rng": torch.get_rng_state()})

    def report(t: int) -> str:
        """Log the window ending at step t; returns a short summary for the progress bar."""
        w = measures.window()
        figures = {"charts/reward_rate": w["reward_rate"]}
        figures.update({tag: w[key] for key, tag in GAME_TAGS.items() if key in w})
        new = [eps[s:] for eps, s in zip(measures.episodes, seen)]
        seen[:] = [len(eps) for eps in measures.episodes]
        if any(new):
            figures["charts/episodic_return"] = np.array([np.mean([e[1] for e in x]) if x else np.nan for x in new])
            figures["charts/episodic_length"] = np.array([np.mean([e[0] for e in x]) if x else np.nan for x in new])
        if any(measures.episodes):
            lens, rets = measures.trailing(100)
            figures["rollout/ep_rew_mean"], figures["rollout/ep_len_mean"] = rets, lens
        sps = window.steps / max(time.perf_counter() - window.t0, 1e-9)
        window.restart_clock()
        figures["charts/SPS"] = figures["time/fps"] = np.full(n, sps)
        figures.update({f"learner/{k}": v for k, v in window.means().items()})
        with torch.no_grad():
            figures.update({f"agent/{k}": v.detach().numpy() for k, v in agent.stats().items()})
        figures.update({first: figures[tag] for tag, first in FIRST.items() if tag in figures})
        log.scalars(figures, t)
        if on_log is not None:
            on_log(t, figures)
        summary = f"reward/step {np.nanmean(figures['charts/reward_rate']):+.4f}"
        for tag, label in (("pong/hit_rate", "hit rate"), ("flappy/pipes_per_life", "pipes/life"),
                           ("rollout/ep_rew_mean", "return")):
            if tag in figures and np.isfinite(figures[tag]).any():
                summary += f"  {label} {np.nanmean(figures[tag]):.3f}"
        return summary

    # The live window: one lifetime's game beside its network.
    live = None
    stop = StopFlag()
    if render:
        import pygame

        from live import GameView, LiveWindow

        try:
            live = LiveWindow(GameView(env.envs[shown]), agent, shown, config["env"],
                              f"tracerl  {names[shown]}  (lifetime {shown})", session["fps"],
                              session["steps_per_frame"], session["record"], should_stop=lambda: bool(stop.signum),
                              notice="compiling the per-step update (torch.compile): 15-60 s"
                              if session["compile"] and step < steps else None,
                              record_every=session["record_every"])
        except pygame.error as e:
            print(f"cannot open a window ({one_line(e)}); training goes on headless (set SDL_VIDEODRIVER=dummy to "
                  f"--record without a display)", file=sys.stderr)

    def close_live() -> None:
        live.close()
        if live.recorder is not None:
            tqdm.write(f"recorded {live.recorded} frames to {session['record']}")

    # The loop: act, step the games, learn; log, checkpoint, draw.
    where = shown_path(os.path.join(logdir, main_name))
    print(f"{'resuming' if ckpt else 'training'} {config['agent']} + {config['learner']} on {config['env']}, "
          f"{n} lifetime(s), step {step:,} of {steps:,}; runs in {where}  (tensorboard --logdir "
          f"{shown_path(logdir)})")
    if session["compile"] and step < steps:
        print("compiling the per-step update with torch.compile: the first step takes about a minute on a small "
              "CPU (--no-compile runs eager)")
    reward_kind, log_every, hist_every = config["reward"], config["log_every"], config["hist_every"]
    ckpt_every, t, t_start = config["checkpoint_every"], step, time.perf_counter()
    bar, lines = progress_bar(steps, step)
    last_line = time.perf_counter()
    error, clean = None, False
    with stop:
        try:
            while t < steps and not stop.signum:
                action = agent.act(obs)
                obs, r, terminated, truncated, info = env.step(action)
                out = learner.step(learning_reward(reward_kind, r, terminated), terminated, obs, truncated)
                measures.update(r, terminated | truncated, info)
                window.add(out)
                t += 1
                if live is not None and not live.step(t, float(r[shown])):
                    close_live()
                    live = None
                    tqdm.write("window closed; training goes on headless (Ctrl-C stops it and saves a checkpoint)")
                if t % log_every == 0 or t == steps:
                    summary = report(t)
                    bar.set_postfix_str(summary, refresh=False)
                    if lines and time.perf_counter() - last_line > LINE_EVERY:
                        print(f"step {t:,}  {summary}", flush=True)
                        last_line = time.perf_counter()
                if hist_every and t % hist_every == 0:
                    log.histograms(agent.weights(), t)
                if ckpt_every and t % ckpt_every == 0:
                    checkpoint(t)
                if t % 50 == 0:
                    bar.update(t - bar.n)
            clean = True
        except FloatingPointError as e:
            error = e
        except KeyboardInterrupt:  # a second Ctrl-C: the state may be mid-step, so no checkpoint
            error = KeyboardInterrupt("interrupted twice")
        finally:
            bar.update(t - bar.n)
            bar.close()
            if live is not None:
                close_live()
            if clean and t > step:  # never a half-done step, nor the state a NaN left behind
                if t % log_every:  # stopped between two log steps: log the partial window
                    report(t)
                checkpoint(t)
            log.close()
            env.close()
            if t == 0 and made:  # a new run that never took a step (an error, Ctrl-C while compiling): no trace
                for path in made:
                    shutil.rmtree(path, ignore_errors=True)
    if isinstance(error, KeyboardInterrupt):
        print(f"train.py: stopped at once at step {t:,} (second Ctrl-C); the last checkpoint is kept", file=sys.stderr)
        return 130
    if error is not None:
        kept = ("it stopped before the first step; no run written" if t == 0 and made
                else f"the last good checkpoint is {ckpt_path}" if os.path.exists(ckpt_path)
                else "no checkpoint was written before it")
        print(f"train.py: error: {one_line(error)}; {kept}", file=sys.stderr)
        if on_error is not None:
            on_error(one_line(error))
        return 1
    elapsed = time.perf_counter() - t_start
    rate = f"{(t - step) / elapsed:,.0f} steps/s" if t > step else "no steps run"
    if t == 0 and made:
        print(f"train.py: stopped by {signal.Signals(stop.signum or signal.SIGINT).name} before the first step; no run "
              f"written", file=sys.stderr)
        return 128 + (stop.signum or signal.SIGINT)
    if stop.signum:
        print(f"stopped by {signal.Signals(stop.signum).name} at step {t:,} ({rate}); checkpoint {ckpt_path}; "
              f"continue with: python scripts/train.py --resume {ckpt_path}")
        return 128 + stop.signum
    print(f"done: step {t:,} ({rate}); checkpoint {ckpt_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
