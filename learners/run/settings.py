"""A run's settings: presets < config file < flags < --set, resolved and checked in one place.

    config, session = resolve({"env": "pong", "lr": 0.003, "set": ["tau_adapt=200"]})

``config`` is what the run learns (saved in config.yaml and the checkpoint: env, agent, learner,
lifetimes, seed, steps, the agent's, learner's and env's keywords); ``session`` is how this
process runs it (log directory, threads, compile, the live window). A bad value raises
:class:`UsageError` with one line that names it and what is allowed (scripts print it and exit 2).
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import os
import re
from typing import Any

import yaml

from tracerl import envs
from tracerl.agents import AGENTS
from tracerl.learners import LEARNERS
from tracerl.learners.presets import preset
from tracerl.learners.run.games import endless
from tracerl.agents.ranges import check_range

# What the run learns: saved in config.yaml and the checkpoint. None: the env's preset decides.
RUN_DEFAULTS: dict[str, Any] = {
    "env": "pong", "agent": "spiking", "learner": "eprop", "lifetimes": 1, "seed": 0, "steps": 1_000_000,
    "reward": None, "preset": "tuned", "log_every": 1000, "hist_every": 50_000, "checkpoint_every": 100_000,
    "eval_every": 0, "eval_episodes": 5, "eval_steps": 5000,
}
# How this process runs it.
SESSION_DEFAULTS: dict[str, Any] = {
    "logdir": "runs", "run_name": None, "resume": None, "config": None, "threads": 1, "compile": True,
    "render": False, "render_lifetime": 0, "record": None, "record_every": 1, "fps": 60, "steps_per_frame": 1,
}
AGENT_FLAGS = ("hidden", "neuron", "recurrent", "ticks", "tau_mem", "tau_out", "encoder", "feedback", "temperature")
LEARNER_FLAGS = ("signal", "lr", "trace_lambda", "entropy", "gamma", "bound_kappa")
SECTIONS = {"agent_kwargs": "agent", "learner_kwargs": "learner", "env_kwargs": "env"}
# Keywords renamed since (old name: new name), still taken from flags, config files and checkpoints.
RENAMED = {"window": "truncation"}  # bptt's T steps: "window" means the live window alone
# A resumed run continues the same lifetimes: these settings cannot change.
FIXED_ON_RESUME = ("env", "agent", "learner", "lifetimes", "seed", "reward", "env_kwargs", "agent_kwargs")


class UsageError(Exception):
    """A bad value from the user: main() prints it as one line and exits with code 2."""


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


# -- arguments ---------------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting (one line, exit 2)."""

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


def key_values(items: list[str], flag: str = "--set", example: str = "tau_adapt=200") -> list[tuple[str, Any]]:
    """``KEY=VALUE`` strings as (key, parsed value) pairs (values by :func:`parse_value`); a string
    without ``=`` or without a key is a UsageError that names it."""
    pairs = []
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"invalid {flag} {item!r}; expected KEY=VALUE, e.g. {flag} {example}")
        pairs.append((key.strip(), parse_value(value.strip())))
    return pairs


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


def applicable(cls, preset_kwargs: dict) -> dict:
    """The keywords of a preset (written for the spiking agent and eprop) that ``cls`` takes: a
    preset applies to any agent or learner, while a keyword a user names must exist
    (the classes take no catch-all ``**kwargs``)."""
    params = set(class_params(cls))
    return {k: v for k, v in preset_kwargs.items() if k in params}


def class_default(cls, name: str) -> Any:
    p = inspect.signature(cls).parameters.get(name)
    return None if p is None or p.default is p.empty else p.default



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
    for key, value in key_values(given.get("set", [])):
        place(key, value, "--set")
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
                          tuned=run.get("preset", "tuned") == "tuned", obs_type=sections["env"].get("obs_type"))
        agent_params = class_params(AGENTS[names["agent"]])
        learner_params = class_params(LEARNERS[names["learner"]])
        learner_preset = {k: v for k, v in defaults["learner"].items() if k in learner_params}
        if names["learner"] == "reflect":
            learner_preset.pop("signal", None)  # reflect has one signal, greedy; presets are written for eprop
        config = {**RUN_DEFAULTS, **run, **names, "env": env_id, "reward": defaults["reward"],
                  "env_kwargs": defaults["env"], "learner_kwargs": learner_preset,
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

    for kwargs in (loose, sections["learner"], config["learner_kwargs"]):
        for old, new in RENAMED.items():
            if old in kwargs:
                kwargs[new] = kwargs.pop(old)
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
        config["reward"] = preset(config["env"], tuned=config.get("preset", "tuned") == "tuned",
                                  obs_type=config["env_kwargs"].get("obs_type"))["reward"]
    if config["reward"] not in ("env", "failure"):
        raise UsageError(f"unknown reward {config['reward']!r}; allowed: 'env', 'failure'")
    if config["reward"] == "failure" and endless(config):  # every learning reward would be 0: nothing learned
        raise UsageError(f"--reward failure gives -1 when an episode terminates, and {config['env']} runs as one "
                         f"endless life that never does; allowed: --reward env, or --set env.episodic=true")
    try:  # every numeric setting in its range (agents/ranges.py), before anything starts
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
