"""Does a saved lifetime play as well with its learning stopped? Each lifetime of a checkpoint plays
the same fresh game (seeded as it was) once per variant, for --steps steps:

    python scripts/bench_frozen.py runs/FlappyBird-v0__eprop__100__...__mean/checkpoint.pt --steps 50000

  learning          the learner goes on, the agent's own plasticity too (watch.py --learn)
  frozen            no learner, the agent frozen: its homeostatic biases and input normalisation
                    as saved (watch.py, its default --no-learn)
  no learner        no learner, the agent's own plasticity on
  learner, frozen agent   the learner goes on, the agent's own plasticity off
  greedy frozen     frozen, and the most probable action instead of a sampled one

Printed per variant: the game's figure over the whole stretch (Flappy Bird: pipes passed over lives
ended, the life going on counted as one; Pong: hits over arrivals; else the mean episodic return),
per lifetime and the mean with a 95% bootstrap interval over lifetimes, and its difference from the
first variant, lifetime by lifetime (mean, interval, how many lifetimes lower): issue 20 asks that
a frozen lifetime crash no more often than the same lifetime learning. Variants differ only in what is
named above, so the rows say which of them costs a frozen lifetime its play.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from tracerl.learners.run.build import build_env, build_lifetime, compile_step
from tracerl.learners.run.checkpoint import load_checkpoint
from tracerl.learners.run.loop import Callback, loop
from tracerl.learners.run.settings import UsageError
from tracerl.learners.run.stats import bootstrap_ci

VARIANTS = {  # name: (learner on, agent's own plasticity on, most probable action)
    "learning": (True, True, False),
    "frozen": (False, False, False),
    "no learner": (False, True, False),
    "learner, frozen agent": (True, False, False),
    "greedy frozen": (False, False, True),
}


class Tally(Callback):
    """Counts the game's events over the whole stretch: pipes and crashes, hits and misses (the
    loop's Measures keep only the last lives and arrivals)."""

    def __init__(self):
        self.counts = {"pipe": 0, "crash": 0, "hit": 0, "miss": 0}

    def on_step(self, state) -> bool:
        events = state.info.get("event")
        if events is not None:
            for e in np.atleast_1d(events):
                if e in self.counts:
                    self.counts[e] += 1
        return True

    def figure(self, measures) -> float:
        c = self.counts
        if c["pipe"] or c["crash"]:
            return c["pipe"] / (c["crash"] + 1)  # the life going on counts as one
        if c["hit"] or c["miss"]:
            return c["hit"] / (c["hit"] + c["miss"])
        episodes = int(measures.n_episodes[0])  # other games: the mean return of every episode
        return float(measures.totals[0, 1] / episodes) if episodes else float("nan")


def play(ckpt: dict, path: str, k: int, variant: str, steps: int, compiled: bool) -> float:
    learn, plastic, greedy = VARIANTS[variant]
    config = ckpt["config"]
    env = build_env(config, 1, singles=True, render=False)
    obs, _ = env.reset(seed=config["seed"] + k)  # the same fresh game for every variant
    agent, learner = build_lifetime(ckpt, path, env, k, learn=learn)
    agent.reset_state()
    if learner is not None:
        learner.reset_traces()
    if not plastic:
        agent.freeze()
    if greedy:
        agent.greedy = True
    if compiled:
        compile_step(agent, learner)
    tally = Tally()
    t = int(ckpt["step"])
    state = loop(agent, learner, env, obs, t + steps, t=t, reward=config["reward"], callbacks=[tally])
    env.close()
    return tally.figure(state.measures)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--steps", type=int, default=50_000, help="steps per lifetime and variant (default: 50000)")
    p.add_argument("--lifetimes", type=int, nargs="*", default=None, metavar="K",
                   help="which lifetimes (default: all)")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--no-compile", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        n = ckpt["config"]["lifetimes"]
        ks = args.lifetimes if args.lifetimes else list(range(n))
        bad = [k for k in ks if not 0 <= k < n]
        if bad:
            raise UsageError(f"--lifetimes {bad[0]} is not a lifetime of this checkpoint; allowed: 0 to {n - 1}")
        if args.steps < 1:
            raise UsageError(f"--steps must be >= 1; got {args.steps}")
    except UsageError as e:
        print(f"bench_frozen.py: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.checkpoint}: {ckpt['config']['env']}, step {int(ckpt['step']):,}, lifetimes {ks}, "
          f"{args.steps:,} steps each")
    rows, first = [], None
    for variant in args.variants:
        values = [play(ckpt, args.checkpoint, k, variant, args.steps, not args.no_compile) for k in ks]
        v = np.array(values)
        mean, lo, hi = bootstrap_ci(v)
        if first is None:  # the rows below are paired with this one, lifetime by lifetime
            first, diff = v, "-"
        else:
            d = v - first
            dm, dlo, dhi = bootstrap_ci(d)
            diff = f"{dm:+.2f} [{dlo:+.2f}, {dhi:+.2f}], {int((d < 0).sum())} of {len(d)} lower"
        rows.append(f"| {variant} | {mean:.2f} [{lo:.2f}, {hi:.2f}] | {' '.join(f'{x:.2f}' for x in v)} | {diff} |")
        print(rows[-1], flush=True)
    print(f"\n| variant | mean [95% bootstrap CI] over lifetimes | per lifetime | minus {args.variants[0]}, paired "
          f"by lifetime |\n|---|---|---|---|\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
