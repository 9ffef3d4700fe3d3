"""tracerl beside Stable-Baselines3 PPO: same envs, same step budget, same seeds, one run.

    pip install -e ".[baselines]"       # SB3 and matplotlib: an extra for this benchmark only
    python scripts/bench_vs_baselines.py --seed 100    # CartPole 100k, Acrobot 300k, Pong and Flappy 200k, 5 seeds
    python scripts/bench_vs_baselines.py --envs cartpole --steps 20000 --seeds 1
    python scripts/bench_vs_baselines.py --envs pong flappy --only ppo --ppo-parallel 2
    python scripts/bench_vs_baselines.py --envs breakout space_invaders freeway --seeds 3 --only ppo

Per env, one side after the other (never both at once, so the timings do not share the CPU):
  tracerl  scripts/train.py with the env's preset and the default learner (eprop), the seeds as one
           batch of lifetimes (--lifetimes SEEDS) in one process: its wall-clock is that of all
           seeds at once. Extra train.py flags: --train-args.
  ppo      SB3 PPO, one process per seed, one torch thread, --ppo-parallel of them at a time (default
           1: one after another). RL-Zoo's settings (ZOO below): the game's own entry (CartPole-v1,
           Acrobot-v1), else the entry it borrows (--ppo-like, default CartPole-v1's; "defaults":
           SB3's own with one env). A callback logs the measures train.py logs (pong/hit_rate,
           flappy/pipes_per_life, trailing-100 rollout/ep_len_mean and ep_rew_mean, the game's own
           reward under VecNormalize, charts/reward_rate, ...) against env steps to a TensorBoard run
           {env}__ppo__{seed}__{unix time}, so compare.py reads both sides alike.
The bundled games are their default single never-ending life for both sides; CartPole-v1 is
gymnasium's (tracerl: a continuing lifetime with the -1-on-failure learning reward of its preset;
PPO: ordinary episodes). Every env step counts toward the budget: PPO's SEEDS x STEPS samples
come from its n_envs copies together.

Printed and written to {logdir}/bench_vs_baselines_{unix time}.md, per env and side:
  steps to the bar   CartPole: the first logged step at which the trailing-100 mean episode
                     length is >= 475; Acrobot: the trailing-100 return >= -100 (median over seeds;
                     a seed that never gets there counts as beyond the budget)
  final              median over seeds of: the last trailing-100 figure (CartPole, Acrobot,
                     MinAtar); Pong the hit rate (over the last 100 arrivals) logged in the last 20k
                     steps; Flappy Bird pipes per life (over the last 20 lives) logged in the last 50k
  env steps/s        per seed (one learner, from its run's event times; tracerl's include the
                     torch.compile time of its first step) and in total (all seeds over the wall-clock)
  wall-clock, CPU    the side's wall-clock from its first process's start to its last's end, and
                     its processes' user + system seconds summed (one after another on an idle core)
  peak RSS           ru_maxrss of each training process (tracerl: one for all seeds; PPO: the
                     largest of its per-seed processes)
then compare.py draws the curves (env steps and wall-clock) to {logdir}/bench_vs_baselines_{time}.png.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tracerl import envs
from tracerl.learners.presets import preset
from tracerl.learners.run import compare
from tracerl.learners.run.games import GAMES, RETURN

HERE = os.path.dirname(os.path.abspath(__file__))

ENVS = {key: envs.ALIASES[key] for key in ("cartpole", "acrobot", "pong", "flappy")}  # the games it compares on
# MinAtar's games (pip install -e ".[minatar]"): a 10 x 10 grid of 0/1 channels; on request (--envs)
MINATAR = {"breakout": "MinAtar/Breakout-v1", "space_invaders": "MinAtar/SpaceInvaders-v1",
           "freeway": "MinAtar/Freeway-v1"}
if envs.register_minatar():
    ENVS.update(MINATAR)
DEFAULT_STEPS = {"cartpole": 100_000, "acrobot": 300_000, "pong": 200_000, "flappy": 200_000,  # CartPole: RL-Zoo's
                 **{k: 1_000_000 for k in MINATAR}}
# The measure of each game (CartPole: the trailing-100 episode length; MinAtar: the trailing-100 return)
# and over how many last steps its final figure is taken (0: the last value), from the registry of games' measures.
MEASURE = {"cartpole": "rollout/ep_len_mean", "acrobot": RETURN.tag, **{k: GAMES[ENVS[k]].tag for k in ("pong", "flappy")},
           **{k: RETURN.tag for k in MINATAR}}
FINAL_STEPS = {"cartpole": 0, "acrobot": 0, **{k: GAMES[ENVS[k]].final_steps for k in ("pong", "flappy")}, **{k: 0 for k in MINATAR}}
BAR = {"cartpole": 475.0, "acrobot": -100.0}  # gymnasium's reward_threshold of each
LEARNER = "eprop"  # train.py's default

# RL-Zoo's PPO settings: DLR-RM/rl-baselines3-zoo, hyperparams/ppo.yml (CartPole-v1 read at commit
# 208b6fdf3a9aa24de44b2e068c6e5f6a07d97fcc, Acrobot-v1 and atari at 00128b5d46d497b772f3bd891ae9f520919e8971).
# "lin_X": rl_zoo3's linear_schedule, X times the progress remaining; normalize: VecNormalize (obs and reward).
# "atari" is the zoo's Atari entry without its wrappers and CNN (the bundled games give feature vectors).
ZOO = {"CartPole-v1": {"n_envs": 8, "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
                       "n_epochs": 20, "ent_coef": 0.0, "learning_rate": "lin_0.001", "clip_range": "lin_0.2"},
       "Acrobot-v1": {"normalize": True, "n_envs": 16, "n_steps": 256, "gae_lambda": 0.94, "gamma": 0.99,
                      "n_epochs": 4, "ent_coef": 0.0},
       "atari": {"n_envs": 8, "n_steps": 128, "n_epochs": 4, "batch_size": 256, "learning_rate": "lin_2.5e-4",
                 "clip_range": "lin_0.1", "vf_coef": 0.5, "ent_coef": 0.01}}
# A game without a zoo entry borrows one (--ppo-like): the bundled games are small feature-vector games with
# a few discrete actions, as CartPole is.
LIKE_DEFAULT = "CartPole-v1"
SB3_DEFAULT = {"n_envs": 1}  # PPO's own defaults for everything else (n_steps 2048, batch 64, lr 3e-4, ...)


class UsageError(Exception):
    pass


def short(env_id: str) -> str:
    return envs.short_name(env_id)  # as train.py names its runs


# -- the PPO side (a child process per seed) --------------------------------------------------
def ppo_settings(env_id: str, n_envs: int | None, like: str = LIKE_DEFAULT) -> tuple[dict, str]:
    """PPO's settings for env_id and where they come from: its zoo entry, else the one it borrows
    (``like``: a zoo key, or "defaults" for SB3's own with one env)."""
    if env_id in ZOO:
        cfg, source = dict(ZOO[env_id]), f"RL-Zoo ppo.yml {env_id}"
    elif like == "defaults":
        cfg, source = dict(SB3_DEFAULT), "SB3 PPO defaults"
    else:
        cfg, source = dict(ZOO[like]), f"RL-Zoo ppo.yml {like} (no entry for {env_id})"
    if n_envs:
        cfg["n_envs"] = n_envs
        source += f", n_envs {n_envs}"
    return cfg, source


def schedule(value):
    """rl_zoo3's "lin_X": a linear schedule from X to 0 over the training."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress_remaining: progress_remaining * start
    return value


def make_callback(writer, n_envs: int, log_every: int, steps: int):
    from stable_baselines3.common.callbacks import BaseCallback

    from tracerl.learners.run.games import GAME_TAGS, Measures as GameMeasures

    class Measures(BaseCallback):
        """train.py's figures for one PPO learner, its n_envs copies pooled, every log_every env steps.

        The game's measure is learners.run.Measures' (over each copy's last arrivals or lives), its
        mean over the copies."""

        def __init__(self):
            super().__init__()
            self.game = GameMeasures(n_envs)
            self.ep_len, self.ep_ret = np.zeros(n_envs, np.int64), np.zeros(n_envs)
            self.episodes: list[tuple[int, float]] = []
            self.next_log = log_every
            self._zero()

        def _zero(self):
            self.w_steps, self.w_reward, self.new = 0, 0.0, []
            self.t0 = time.perf_counter()

        def _on_training_start(self) -> None:
            env = self.model.get_env()  # under VecNormalize, locals hold the scaled rewards: log the game's own
            self.original = env.get_original_reward if hasattr(env, "get_original_reward") else None

        def _on_step(self) -> bool:
            raw = self.original() if self.original is not None else self.locals["rewards"]
            rewards, dones = np.asarray(raw, np.float64), np.asarray(self.locals["dones"])
            self.w_steps += len(rewards)
            self.w_reward += float(rewards.sum())
            ev = np.array([info.get("event") for info in self.locals["infos"]], dtype=object)
            if np.count_nonzero(ev):
                self.game.events(ev)
            self.ep_len += 1
            self.ep_ret += rewards
            for i in np.flatnonzero(dones):
                self.episodes.append((int(self.ep_len[i]), float(self.ep_ret[i])))
                self.new.append(self.episodes[-1])
                self.ep_len[i], self.ep_ret[i] = 0, 0.0
            if self.num_timesteps >= self.next_log or self.num_timesteps >= steps:
                self.report(self.num_timesteps)
                while self.next_log <= self.num_timesteps:
                    self.next_log += log_every
            return self.num_timesteps < steps  # stop at the budget exactly, not at the end of a rollout

        def _on_rollout_start(self) -> None:
            for key, value in self.model.logger.name_to_value.items():  # the last update's losses
                if key.startswith("train/"):
                    writer.add_scalar(key, value, self.num_timesteps)

        def report(self, t: int) -> None:
            figures = {"charts/reward_rate": self.w_reward / max(self.w_steps, 1)}
            for key, value in self.game.game().items():
                if np.isfinite(value).any():
                    figures[GAME_TAGS[key]] = float(np.nanmean(value))
            if self.new:
                figures["charts/episodic_length"] = float(np.mean([x[0] for x in self.new]))
                figures["charts/episodic_return"] = float(np.mean([x[1] for x in self.new]))
            if self.episodes:
                last = self.episodes[-100:]
                figures["rollout/ep_len_mean"] = float(np.mean([x[0] for x in last]))
                figures["rollout/ep_rew_mean"] = float(np.mean([x[1] for x in last]))
            figures["charts/SPS"] = figures["time/fps"] = self.w_steps / max(time.perf_counter() - self.t0, 1e-9)
            for tag, value in figures.items():
                writer.add_scalar(tag, value, t)
            self._zero()

    return Measures()


def ppo_child(run_dir: str, env_id: str, seed: int, steps: int, n_envs: int | None, log_every: int,
              like: str = LIKE_DEFAULT) -> int:
    """Train one SB3 PPO learner; its curves go to run_dir, its timing to run_dir/bench.json."""
    import torch
    import yaml
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from torch.utils.tensorboard import SummaryWriter

    from tracerl import envs  # noqa: F401  (registers the bundled games)

    torch.set_num_threads(1)
    cfg, source = ppo_settings(env_id, n_envs, like)
    kwargs = {k: schedule(v) for k, v in cfg.items() if k not in ("n_envs", "normalize")}
    env_kwargs = preset(env_id)["env"]  # what tracerl's preset makes of the game (Flappy Bird: obs_type "gap")
    config = {"env": env_id, "env_kwargs": env_kwargs, "algo": "ppo", "seed": seed, "steps": steps,
              "hyperparameters": cfg, "source": source,
              "stable_baselines3": __import__("stable_baselines3").__version__, "torch_threads": 1}
    with open(os.path.join(run_dir, "config.yaml"), "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    rows = "\n".join(f"|{k}|{v}|" for k, v in {**cfg, "seed": seed, "steps": steps, "source": source}.items())
    venv = make_vec_env(env_id, n_envs=cfg["n_envs"], seed=seed, env_kwargs=env_kwargs)
    if cfg.get("normalize"):
        from stable_baselines3.common.vec_env import VecNormalize

        venv = VecNormalize(venv)
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs)
    # the run's first events, its wall-clock 0, as train.py's: once the agent is built
    writer = SummaryWriter(run_dir, flush_secs=20)
    writer.add_text("hyperparameters", f"|setting|value|\n|-|-|\n{rows}", 0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps, callback=make_callback(writer, cfg["n_envs"], log_every, steps))
    seconds = time.perf_counter() - t0
    writer.close()
    venv.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(os.path.join(run_dir, "bench.json"), "w") as f:
        json.dump({"steps": int(model.num_timesteps), "learn_seconds": seconds, "peak_rss_mb": peak}, f)
    print(f"ppo {short(env_id)} seed {seed}: {model.num_timesteps:,} steps in {seconds:.1f}s "
          f"({model.num_timesteps / seconds:,.0f} steps/s), peak RSS {peak:.0f} MB", flush=True)
    return 0


# -- running the sides -----------------------------------------------------------------------
def run_child(cmd: list[str]) -> tuple[int, float, float, float]:
    """Run cmd; (exit code, wall seconds, peak RSS of that process in MB, its CPU seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        proc.wait()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def run_tracerl(key: str, args) -> dict:
    env_id, steps = ENVS[key], args.steps or DEFAULT_STEPS[key]
    before = set(os.listdir(args.logdir))
    cmd = [sys.executable, os.path.join(HERE, "train.py"), "--env", env_id, "--learner", LEARNER,
           "--lifetimes", str(args.seeds), "--seed", str(args.seed), "--steps", str(steps), "--logdir", args.logdir,
           "--log-every", str(args.log_every), "--hist-every", "0", "--checkpoint-every", "0", "--threads", "1",
           *shlex.split(args.train_args)]
    print(f"\n# tracerl {LEARNER} on {env_id}: {args.seeds} lifetimes x {steps:,} steps\n$ {shlex.join(cmd)}", flush=True)
    code, wall, peak, cpu = run_child(cmd)
    if code != 0:
        raise RuntimeError(f"train.py exited with {code}: {shlex.join(cmd)}")
    prefix = f"{short(env_id)}__{LEARNER}__"
    runs = sorted(os.path.join(args.logdir, d) for d in set(os.listdir(args.logdir)) - before
                  if d.startswith(prefix) and not d.endswith("__mean"))
    return {"env": key, "side": f"tracerl {LEARNER}", "runs": runs, "processes": 1, "parallel": 1,
            "wall": wall, "cpu": cpu, "peak_rss_mb": peak, "batch": True, "steps": steps}


def run_ppo(key: str, args) -> dict:
    """One process per seed, args.ppo_parallel of them at a time (1: one after another)."""
    env_id, steps = ENVS[key], args.steps or DEFAULT_STEPS[key]
    cfg, source = ppo_settings(env_id, args.ppo_envs, args.ppo_like)
    print(f"\n# SB3 PPO on {env_id}: {args.seeds} seeds x {steps:,} steps, one process each, "
          f"{args.ppo_parallel} at a time; {source}: {cfg}", flush=True)
    runs, cmds = [], []
    for seed in range(args.seed, args.seed + args.seeds):
        stamp = int(time.time())
        while os.path.exists(os.path.join(args.logdir, f"{short(env_id)}__ppo__{seed}__{stamp}")):
            stamp += 1
        run_dir = os.path.join(args.logdir, f"{short(env_id)}__ppo__{seed}__{stamp}")
        os.makedirs(run_dir)
        cmd = [sys.executable, os.path.abspath(__file__), "--ppo-child", run_dir, "--envs", key, "--seed", str(seed),
               "--steps", str(steps), "--log-every", str(args.log_every), "--ppo-like", args.ppo_like]
        if args.ppo_envs:
            cmd += ["--ppo-envs", str(args.ppo_envs)]
        runs.append(run_dir)
        cmds.append(cmd)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.ppo_parallel) as pool:  # threads that only wait on child processes
        done = list(pool.map(run_child, cmds))
    wall = time.perf_counter() - t0
    for (code, _, _, _), cmd in zip(done, cmds):
        if code != 0:
            raise RuntimeError(f"the PPO run exited with {code}: {shlex.join(cmd)}")
    return {"env": key, "side": "SB3 PPO", "runs": runs, "processes": len(runs), "parallel": args.ppo_parallel,
            "wall": wall, "cpu": sum(d[3] for d in done), "peak_rss_mb": max(d[2] for d in done), "batch": False,
            "steps": steps}


# -- the table -------------------------------------------------------------------------------
def summarize(result: dict) -> dict:
    """Per-seed figures of one side from its runs' events."""
    key = result["env"]
    tag, last, bar = MEASURE[key], FINAL_STEPS[key], BAR.get(key)
    reached, finals, seconds, last_steps = [], [], [], []
    for path in result["runs"]:
        run = compare.load_run(path)
        if tag not in run.tags:
            raise RuntimeError(f"run {path!r} has no {tag!r}; its tags: {', '.join(run.tags)}")
        steps, wall, values = run.series(tag)
        finals.append(compare.final_value(steps, values, last))
        if bar is not None:
            hit = np.flatnonzero(values >= bar)
            reached.append(int(steps[hit[0]]) if len(hit) else None)
        s_steps, s_wall, _ = run.series("charts/SPS")  # logged at every logged step by both sides
        seconds.append(float(s_wall[-1]))
        last_steps.append(int(s_steps[-1]))
    n = len(result["runs"])
    # per seed: one learner's steps over its run's own event time (from its first logged events, once
    # built); in total: all seeds' steps over the wall-clock of the whole side, process starts included
    per_seed = float(np.median([s / t for s, t in zip(last_steps, seconds)]))
    total = sum(last_steps) / result["wall"]
    return {**result, "tag": tag, "final_steps": last, "bar": bar, "reached": reached, "finals": finals,
            "seconds": seconds, "sps_seed": per_seed, "sps_total": total, "seeds": n}


def steps_to_bar(s: dict) -> str:
    if s["bar"] is None:
        return "-"
    per = [r if r is not None else np.inf for r in s["reached"]]
    med = float(np.median(per))
    shown = f"{med:,.0f}" if np.isfinite(med) else f"> {s['steps']:,}"
    seeds = " ".join(f"{r // 1000}k" if r is not None else "-" for r in s["reached"])
    return f"{shown} ({sum(r is not None for r in s['reached'])}/{s['seeds']} reached; {seeds})"


def table(summaries: list[dict]) -> str:
    lines = ["| env | learner | seeds x steps | steps to bar: median (per seed) | final: median (per seed) | "
             "env steps/s per seed | env steps/s, all seeds | wall-clock s, all seeds | CPU s, all seeds | "
             "peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    what = {"cartpole": "trailing-100 length", "acrobot": "trailing-100 return", "pong": "hit rate, last 20k",
            "flappy": "pipes per life, last 50k", **{k: "trailing-100 return" for k in MINATAR}}
    for s in summaries:
        finals = " ".join(f"{v:.3g}" for v in s["finals"])
        if s["batch"]:
            how = "one process, seeds batched"
        elif s["processes"] == 1:
            how = "one process"
        elif s["parallel"] == 1:
            how = f"{s['processes']} processes, one after another"
        else:
            how = f"{s['processes']} processes, {s['parallel']} at a time"
        lines.append(
            f"| {short(ENVS[s['env']])} | {s['side']} | {s['seeds']} x {s['steps']:,} | {steps_to_bar(s)} | "
            f"{np.median(s['finals']):.3g} {what[s['env']]} ({finals}) | {s['sps_seed']:,.0f} | {s['sps_total']:,.0f} | "
            f"{s['wall']:,.0f} ({how}) | {s['cpu']:,.0f} | {s['peak_rss_mb']:,.0f} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", choices=list(ENVS), default=["cartpole", "acrobot", "pong", "flappy"],
                   help="the games (default: cartpole acrobot pong flappy; breakout space_invaders freeway: "
                        "MinAtar's, 1M steps by default)")
    p.add_argument("--steps", type=int, default=None,
                   help="env steps per seed (default: CartPole 100000, RL-Zoo's budget; Acrobot 300000; "
                        "Pong and Flappy 200000)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="the first seed (default: 0)")
    p.add_argument("--logdir", default="runs/baselines")
    p.add_argument("--only", choices=["tracerl", "ppo"], default=None, help="run one side only")
    p.add_argument("--log-every", type=int, default=1000, help="env steps per logged point (default: 1000)")
    p.add_argument("--train-args", default="", metavar="'FLAGS'",
                   help="more train.py flags for the tracerl side, e.g. '--no-compile --hidden 64'")
    p.add_argument("--ppo-envs", type=int, default=None, metavar="N",
                   help="PPO's n_envs (default: that of its settings)")
    p.add_argument("--ppo-like", choices=[*ZOO, "defaults"],
                   default=LIKE_DEFAULT,
                   help=f"the RL-Zoo settings PPO borrows on a game the zoo has none for (default: {LIKE_DEFAULT}; "
                        "atari: the zoo's Atari settings; defaults: SB3's own, one env)")
    p.add_argument("--ppo-parallel", type=int, default=1, metavar="N",
                   help="PPO's seeds in N processes at a time (default: 1, one after another)")
    p.add_argument("--ppo-child", default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.ppo_child:
        return ppo_child(args.ppo_child, ENVS[args.envs[0]], args.seed, args.steps or DEFAULT_STEPS[args.envs[0]],
                         args.ppo_envs, args.log_every, args.ppo_like)
    try:
        for name in ("seeds", "log_every", "ppo_parallel"):
            if getattr(args, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
        if args.steps is not None and args.steps < args.log_every:
            raise UsageError(f"--steps must be >= --log-every ({args.log_every}); got {args.steps}")
        if args.only != "tracerl":
            import importlib.util

            if importlib.util.find_spec("stable_baselines3") is None:
                raise UsageError("stable-baselines3 is not installed (pip install -e '.[baselines]'), or run "
                                 "--only tracerl")
    except UsageError as e:
        print(f"bench_vs_baselines.py: error: {e}", file=sys.stderr)
        return 2
    os.makedirs(args.logdir, exist_ok=True)
    stamp = int(time.time())
    summaries = []
    for key in args.envs:
        if args.only in (None, "tracerl"):
            summaries.append(summarize(run_tracerl(key, args)))
        if args.only in (None, "ppo"):
            summaries.append(summarize(run_ppo(key, args)))
    text = table(summaries)
    command = "python scripts/bench_vs_baselines.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    out = os.path.join(args.logdir, f"bench_vs_baselines_{stamp}")
    print("\n" + text)
    figure = out + ".png"
    runs = [r for s in summaries for r in s["runs"]]
    print(f"\n# curves: python scripts/compare.py ... --out {figure}")
    groups = compare.collect(runs)
    compare.draw(groups, ["steps", "time"], figure, "tracerl beside SB3 PPO (mean across seeds, 95% bootstrap CI)")
    rows = compare.table_rows(groups)
    compare.write_csv(rows, out + ".csv")
    print(compare.markdown(rows) + f"\n\nfigure {figure}, table {out}.csv")
    with open(out + ".md", "w") as f:
        f.write(f"{command}\n\n{text}\n\nFigure: {os.path.basename(figure)}; runs:\n"
                + "".join(f"- {r}\n" for r in runs))
    print(f"table {out}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
