"""Learning benchmark: one learner, several seeds run as one batch of lifetimes, a curve summary.

    python scripts/bench_learning.py --env cartpole --steps 100000 --seeds 5
    python scripts/bench_learning.py --env pong --steps 200000 --seeds 5
    python scripts/bench_learning.py --env pong --signal greedy --steps 500000
    python scripts/bench_learning.py --env flappy --steps 300000
    python scripts/bench_learning.py --env pong --agent mlp --set lr=0.003 --set hidden=64
    python scripts/bench_learning.py --env acrobot --steps 300000 --reach -100
    python scripts/bench_learning.py --env cartpole --defaults --steps 150000

Settings come from learners/presets.py (``--defaults``: DEFAULT even where a game has a preset); ``--set key=value`` overrides an agent or learner keyword.
Prints the measure every --every steps for each seed and a closing summary line per bar of issue 3:
CartPole: first step at which the trailing-100 mean episode length reaches 475; Pong: the hit
rate (over the last 100 ball arrivals, learners.run.Measures, as train.py logs it) averaged over
the lines of the last 20k steps; Flappy Bird: pipes per life (over the last 20 lives), averaged
over the lines of the last 50k steps. Games other than the bundled ones also get, per lifetime,
``SUMMARY episodic first100_return=[...] final100_return=[...] best100=[...]``: the mean return
of the first and of the last 100 episodes and the best mean of 100 consecutive episodes (of all
episodes where fewer than 100 finished; nan where none did).
"""

from __future__ import annotations

import argparse
import inspect
import json
import time

import numpy as np
import torch

from tracerl import envs
from tracerl.agents import AGENTS, make_agent
from tracerl.learners import LEARNERS, make_learner
from tracerl.learners.presets import preset
from tracerl.agents.ranges import check_range, check_ranges
from tracerl.learners.run import BUNDLED, Measures, counts_events, make_env, run
from tracerl.learners.run.settings import UsageError, applicable, key_values



def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="pong")
    p.add_argument("--learner", default="eprop", choices=sorted(LEARNERS))
    p.add_argument("--agent", default="spiking", choices=sorted(AGENTS))
    p.add_argument("--signal", choices=["greedy", "td"], default=None)
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="first seed; lifetimes get seed, seed+1, ...")
    p.add_argument("--every", "--window", type=int, default=10_000, metavar="STEPS",
                   help="steps per printed line (--window: the old name)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--defaults", action="store_true", help="the default settings even where the game has a preset")
    p.add_argument("--reach", type=float, default=None, metavar="RETURN",
                   help="also report the first step at which each lifetime's trailing-100 return reaches RETURN")
    p.add_argument("--no-compile", action="store_true", help="eager torch (slower)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    try:  # names and ranges (agents/ranges.py) before anything starts: one line, exit code 2
        env_id = envs.resolve_id(args.env)
        cfg = preset(env_id, args.learner, args.signal, tuned=not args.defaults)
        cfg["agent"] = applicable(AGENTS[args.agent], cfg["agent"])
        cfg["learner"] = applicable(LEARNERS[args.learner], cfg["learner"])
        agent_keys = set(inspect.signature(AGENTS[args.agent]).parameters)
        for key, value in key_values(args.set):
            (cfg["agent"] if key in agent_keys else cfg["learner"])[key] = value
        check_ranges({"steps": args.steps, "seeds": args.seeds, "seed": args.seed, "threads": args.threads}, "--")
        check_range("every", args.every, "--every")
        check_ranges(cfg["agent"])
        check_ranges(cfg["learner"])
    except (ValueError, UsageError) as e:
        p.error(str(e))
    torch.set_num_threads(args.threads)

    env = make_env(env_id, args.seeds, **cfg["env"])
    obs, _ = env.reset(seed=args.seed)
    agent = make_agent(args.agent, env.single_observation_space, env.single_action_space, n=args.seeds,
                       seed=args.seed, **cfg["agent"])
    learner = make_learner(args.learner, agent, **cfg["learner"])
    if not args.no_compile:
        agent.compile()
        learner.compile()
    print(f"# {env_id} {args.agent} {args.learner} seeds={args.seeds} steps={args.steps} "
          f"config={json.dumps({'agent': cfg['agent'], 'learner': cfg['learner'], 'reward': cfg['reward'], 'env': cfg['env']})}",
          flush=True)

    measures = Measures(args.seeds, counts_events(env_id))
    history: list[dict] = []
    reached = [None] * args.seeds
    reached_return = [None] * args.seeds
    t0 = time.time()

    def report(t: int, m: Measures) -> None:
        w = m.since_last()
        lens, rets = m.trailing(100)
        for i in range(args.seeds):
            if reached[i] is None and m.n_episodes[i] >= 100 and lens[i] >= 475:
                reached[i] = t
            if args.reach is not None and reached_return[i] is None and m.n_episodes[i] >= 100 \
                    and rets[i] >= args.reach:
                reached_return[i] = t
        w["trailing100_len"] = lens
        history.append(w)
        key = "hit_rate" if "hit_rate" in w else "pipes_per_life" if "pipes_per_life" in w else "trailing100_len"
        vals = " ".join(f"{v:7.3f}" for v in w[key])
        print(f"{t:9d}  {time.time() - t0:7.1f}s  {key} [{vals}]  reward_rate {np.mean(w['reward_rate']):+.4f}",
              flush=True)

    run(agent, learner, env, obs, args.steps, reward=cfg["reward"], measures=measures, every=args.every,
        callback=report)
    elapsed = time.time() - t0
    print(f"# wall {elapsed:.1f}s, {args.steps / elapsed:.0f} steps/s per lifetime, "
          f"{args.steps * args.seeds / elapsed:.0f} lifetime-steps/s in total (compile time included)")

    def tail(key: str, steps: int) -> np.ndarray:
        k = max(1, steps // args.every)
        return np.nanmean(np.stack([h[key] for h in history[-k:]]), axis=0)

    if env_id == "CartPole-v1":
        ok = sum(r is not None for r in reached)
        print(f"SUMMARY cartpole steps_to_475={reached} reached={ok}/{args.seeds}")
    elif "hit_rate" in history[-1]:
        hr = tail("hit_rate", 20_000)
        print(f"SUMMARY pong hit_rate_last20k={np.round(hr, 3).tolist()} median={np.median(hr):.3f}")
    elif "pipes_per_life" in history[-1]:
        ppl = tail("pipes_per_life", 50_000)
        print(f"SUMMARY flappy pipes_per_crash_last50k={np.round(ppl, 2).tolist()} median={np.median(ppl):.2f}")
    if env_id not in BUNDLED:
        summary = measures.episodic_summary()
        print("SUMMARY episodic " + " ".join(f"{k}={np.round(v, 3).tolist()}" for k, v in summary.items()))
    if args.reach is not None:
        ok = sum(r is not None for r in reached_return)
        print(f"SUMMARY reach return>={args.reach:g} steps={reached_return} reached={ok}/{args.seeds}")


if __name__ == "__main__":
    main()
