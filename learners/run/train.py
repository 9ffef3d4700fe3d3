"""A whole training run, as scripts/train.py and sweep.py start it: settings to exit code.

    code = train({"env": "pong", "lifetimes": 5, "steps": 200_000}, argv=[])

The steps, in order: settings (:mod:`.settings`, or a checkpoint's with ``resume``), the games,
agent and learner (:mod:`.build`), what a checkpoint continues (:mod:`.checkpoint`), the run
folders and TensorBoard log (:mod:`.runlog`), then :func:`~tracerl.learners.run.loop.loop` with
the callbacks of :mod:`.callbacks`: signals, the live window, the log, the progress bar and the
checkpoints. Exit codes: 0 done, 1 a NaN in learning (the last good checkpoint is kept), 2 a bad
setting (:class:`UsageError`, raised), 128 + the signal number when SIGINT / SIGTERM stopped it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from typing import Sequence

import torch
import yaml

from tracerl.learners.run import callbacks as cb
from tracerl.learners.run.build import build_agent, build_env, build_learner, compile_step
from tracerl.learners.run.checkpoint import (FORMAT, VERSION, detached, env_state, load_checkpoint, load_env_state,
                                             save_checkpoint, to_numpy, to_torch)
from tracerl.learners.run.evaluate import EvalCallback
from tracerl.learners.run.games import Measures, counts_events
from tracerl.learners.run.loop import Callback, loop
from tracerl.learners.run.runlog import RunLog, StepStats, resumed_logdir, run_names, settings_rows, shown_path
from tracerl.learners.run.settings import UsageError, one_line, resolve

COMPILING = "compiling the per-step update (torch.compile): 15-60 s"


def recorded(resolved: dict, given: dict) -> dict:
    """What config.yaml records of an agent or learner: the settings it resolved, overridden by those
    given, but for a given None (the class chose the value, e.g. the entropy by the agent's kind: record it)."""
    return {**resolved, **{k: v for k, v in given.items() if v is not None or k not in resolved}}


def train(given: dict, argv: Sequence[str] = (), callbacks: Sequence[Callback] = (), on_error=None) -> int:
    """Run the training that ``given`` (flags by their dest, e.g. ``{"env": "pong", "set": [...]}``)
    asks for; returns the exit code. Raises UsageError for a bad setting.

    ``callbacks`` run after train.py's own (a sweep reports from ``on_log``; an exception one
    raises stops the run without a checkpoint). ``on_error(line)`` gets the one-line error of a run
    that stops on a NaN, before the exit code 1 is returned. ``argv`` is recorded as the command.
    """
    ckpt = load_checkpoint(given["resume"]) if given.get("resume") else None
    config, session = resolve(given, base=ckpt["config"] if ckpt else None)
    torch.set_num_threads(session["threads"])
    n, shown, steps = config["lifetimes"], session["render_lifetime"], config["steps"]
    render = session["render"] or bool(session["record"])
    if session["record"]:
        from tracerl.learners.run.live import check_record_path

        try:
            check_record_path(session["record"])
        except ValueError as e:
            raise UsageError(str(e))

    # Games, seeded seed, seed+1, ...; agent and learner; then what continues a checkpoint's lifetimes.
    kind = ckpt["env"]["kind"] if ckpt else None
    if kind == "vector" and render:
        raise UsageError("this checkpoint's games ran natively batched (headless, N >= 4), so --render cannot show "
                         "one of them; resume without --render, or play it with scripts/watch.py")
    env = build_env(config, n, singles=render or kind == "singles", render=render)
    obs, _ = env.reset(seed=config["seed"])
    agent = build_agent(config, env)
    learner = build_learner(config, agent)
    config["agent_kwargs"] = recorded(agent.config, config["agent_kwargs"]) if ckpt is None else config["agent_kwargs"]
    config["learner_kwargs"] = recorded(learner.config, config["learner_kwargs"])
    measures, stats, step = Measures(n, counts_events(config["env"])), StepStats(), 0
    if ckpt is not None:
        try:
            agent.load_state_dict(ckpt["agent"])
            learner.load_state_dict(ckpt["learner"])
            load_env_state(env, ckpt["env"])
            measures.load_state(to_numpy(ckpt["measures"]))
            stats.load_state_dict(ckpt["window"])
            step = int(ckpt["step"])
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
        compile_step(agent, learner)

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
    folders = [os.path.join(logdir, name) for name in names + ([aggregate] if aggregate else [])]
    made = [path for path in folders if ckpt is None and not os.path.exists(path)]
    for path in folders:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "config.yaml"), "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
    ckpt_path = os.path.join(logdir, main_name, "checkpoint.pt")
    # TensorBoard drops what an earlier process logged after the checkpoint's step (a crash, a NaN)
    log = RunLog(logdir, names, aggregate, purge_step=step + 1 if ckpt else None)
    rows = settings_rows(config, session, argv)
    log.text("hyperparameters" if ckpt is None else "resumed",
             [{**rows, "lifetime": i, "lifetime_seed": config["seed"] + i} for i in range(n)] + [rows], step)
    if ckpt is None and config["hist_every"]:
        log.histograms(agent.weights(), 0)
    logging = cb.LogCallback(log, config["log_every"], config["hist_every"], stats)

    def save(t: int) -> None:
        save_checkpoint(ckpt_path, {
            "format": FORMAT, "version": VERSION, "step": t, "config": config,
            "run": {"names": names, "aggregate": aggregate, "main": main_name},
            "agent": detached(agent.state_dict()), "learner": detached(learner.state_dict()),
            "env": env_state(env), "obs": to_torch(current.state.obs), "measures": to_torch(vars(measures)),
            "window": stats.state_dict(), "torch_rng": torch.get_rng_state()})

    current, stop = cb.Current(), cb.StopOnSignal()
    live = open_live(env, agent, config, session, names[shown], stop, step < steps) if render else None
    print(f"{'resuming' if ckpt else 'training'} {config['agent']} + {config['learner']} on {config['env']}, "
          f"{n} lifetime(s), step {step:,} of {steps:,}; runs in {shown_path(os.path.join(logdir, main_name))}  "
          f"(tensorboard --logdir {shown_path(logdir)})")
    if session["compile"]:
        print("compiling the per-step update with torch.compile: the first step takes about a minute on a small "
              "CPU (--no-compile runs eager)")
    t_start, error = time.perf_counter(), None
    try:
        loop(agent, learner, env, obs, steps, t=step, reward=config["reward"], measures=measures,
             callbacks=[current, stop, cb.LiveCallback(live, shown, session["record"]), logging, cb.Progress(),
                        cb.CheckpointCallback(save, config["checkpoint_every"]),
                        EvalCallback(log, config, config.get("eval_every", 0), config.get("eval_episodes", 5),
                                     config.get("eval_steps", 5000)), *callbacks])
    except FloatingPointError as e:
        error = e
    except KeyboardInterrupt:  # a second Ctrl-C: the state may be mid-step, so no checkpoint
        error = KeyboardInterrupt("interrupted twice")
    finally:
        log.close()
        env.close()
        t = current.state.t if current.state is not None else step
        if t == 0 and made:  # a new run that never took a step (an error, Ctrl-C while compiling): no trace
            for path in made:
                shutil.rmtree(path, ignore_errors=True)
    return finish(error, t, step, made, ckpt_path, stop.signum, time.perf_counter() - t_start, on_error)


def open_live(env, agent, config: dict, session: dict, name: str, stop: cb.StopOnSignal, compiling: bool):
    """The live window of lifetime ``--render-lifetime``, or None (with a line) where none can open."""
    import pygame

    from tracerl.learners.run.live import GameView, LiveWindow

    shown = session["render_lifetime"]
    try:
        return LiveWindow(GameView(env.envs[shown]), agent, shown, config["env"],
                          f"tracerl  {name}  (lifetime {shown})", session["fps"], session["steps_per_frame"], session["record"],
                          should_stop=lambda: bool(stop.signum),
                          notice=COMPILING if session["compile"] and compiling else None,
                          record_every=session["record_every"])
    except pygame.error as e:
        print(f"cannot open a window ({one_line(e)}); training goes on headless (set SDL_VIDEODRIVER=dummy to "
              f"--record without a display)", file=sys.stderr)
        return None


def finish(error, t: int, step: int, made: list, ckpt_path: str, signum: int, elapsed: float, on_error) -> int:
    """The closing line and the exit code."""
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
    rate = f"{(t - step) / elapsed:,.0f} steps/s" if t > step else "no steps run"
    if t == 0 and made:
        print(f"train.py: stopped by {signal.Signals(signum or signal.SIGINT).name} before the first step; no run "
              f"written", file=sys.stderr)
        return 128 + (signum or signal.SIGINT)
    if signum:
        print(f"stopped by {signal.Signals(signum).name} at step {t:,} ({rate}); checkpoint {ckpt_path}; "
              f"continue with: python scripts/train.py --resume {ckpt_path}")
        return 128 + signum
    print(f"done: step {t:,} ({rate}); checkpoint {ckpt_path}")
    return 0
