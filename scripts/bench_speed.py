"""Throughput of the whole learning loop (act, env step, learn) and its memory over a long run.

    python scripts/bench_speed.py                      # spiking 128 hidden, Pong, eprop-td, N=1 and N=64
    python scripts/bench_speed.py --lifetimes 1 64 --agent mlp --learner eprop
    python scripts/bench_speed.py --memory-steps 200000 --lifetimes 1
    python scripts/bench_speed.py --env pong --env-kwarg obs_type=pixels     # Pong from pixels
    python scripts/bench_speed.py --env MinAtar/Breakout-v1 --lifetimes 1 5  # MinAtar (pip install -e ".[minatar]")

Issue 3 targets (spiking, 128 hidden, Pong, torch.set_num_threads(1)): >= 3,000 steps/s for one
lifetime, >= 50,000 lifetime-steps/s in total for 64. Steps/s are the median of --repeats timed
runs after compilation and a warm-up; RSS is read from /proc before and after --memory-steps.
The game's share is the time the same number of env steps (random actions) takes alone, over the
loop's time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from tracerl import envs
from tracerl.agents import AGENTS, make_agent
from tracerl.learners import LEARNERS, make_learner
from tracerl.learners.presets import preset
from tracerl.learners.run import Measures, counts_events, make_env, run
from tracerl.learners.run.settings import UsageError, applicable, key_values


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="pong")
    p.add_argument("--agent", default="spiking")
    p.add_argument("--learner", default="eprop")
    p.add_argument("--signal", default="td")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lifetimes", type=int, nargs="+", default=[1, 64])
    p.add_argument("--steps", type=int, default=5000, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--memory-steps", type=int, default=0, help="also run this many steps and report RSS growth")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                   help="an env keyword, e.g. obs_type=pixels (repeatable; values as YAML)")
    args = p.parse_args()
    try:
        env_kwargs = dict(key_values(args.env_kwarg, "--env-kwarg", "obs_type=pixels"))
    except UsageError as e:
        p.error(str(e))
    torch.set_num_threads(1)

    env_id = envs.resolve_id(args.env)
    cfg = preset(env_id, args.learner, obs_type=env_kwargs.get("obs_type"))
    cfg["agent"]["hidden"] = args.hidden
    cfg["learner"]["signal"] = args.signal
    for n in args.lifetimes:
        env = make_env(args.env, n, **{**cfg["env"], **env_kwargs})
        obs, _ = env.reset(seed=0)
        agent = make_agent(args.agent, env.single_observation_space, env.single_action_space, n=n, seed=0,
                           **applicable(AGENTS[args.agent], cfg["agent"]))
        learner = make_learner(args.learner, agent, **applicable(LEARNERS[args.learner], cfg["learner"]))
        t0 = time.time()
        if not args.no_compile:
            learner.compile()  # and the agent's forward, once (in the learner's step for td)
        measures, obs = run(agent, learner, env, obs, 300)
        warm = time.time() - t0
        rates = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            measures, obs = run(agent, learner, env, obs, args.steps, measures=measures)
            rates.append(args.steps / (time.perf_counter() - t))
        sps = statistics.median(rates)
        t = time.perf_counter()
        for _ in range(args.steps):  # the game alone, the same steps
            env.step(env.action_space.sample())
        game_share = (time.perf_counter() - t) * sps / args.steps
        kw = "".join(f" {k}={v}" for k, v in env_kwargs.items())
        print(f"{args.agent} {args.learner}-{args.signal} hidden={args.hidden} {env_id}{kw} "
              f"N={n:3d}: {sps:8,.0f} steps/s per lifetime, {sps * n:10,.0f} lifetime-steps/s in total "
              f"({'compiled' if not args.no_compile else 'eager'}, first 300 steps incl. compile {warm:.1f}s; "
              f"the game's share {game_share:.0%})", flush=True)
        if args.memory_steps:
            before = rss_mb()
            t = time.perf_counter()
            run(agent, learner, env, obs, args.memory_steps, measures=Measures(n, counts_events(env)))
            dt = time.perf_counter() - t
            print(f"    memory: RSS {before:.1f} MB -> {rss_mb():.1f} MB over {args.memory_steps:,} more steps "
                  f"({args.memory_steps / dt:,.0f} steps/s)", flush=True)


if __name__ == "__main__":
    main()
