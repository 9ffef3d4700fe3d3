"""Steps per second of the bundled games, single and batched, beside Gymnasium's CartPole-v1,
and how a scripted and a random policy play them.

    python scripts/bench_envs.py                 # speeds, then policies (100k steps each)
    python scripts/bench_envs.py --skip-policies --batch 256 --steps 200000

Targets (issue 2): each single game >= 0.5x CartPole-v1's steps/s; batched N=256 >= 1,000,000
game steps/s in total. Speeds are the median of --repeats runs with random actions drawn beforehand.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

from tracerl import envs  # noqa: F401  (registers the games)
from tracerl.envs.scripted import SCRIPTED

GAMES = ("tracerl/Pong-v0", "tracerl/FlappyBird-v0")


def single_sps(env_id: str, steps: int) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, env.action_space.n, steps).tolist()
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def batched_sps(env_id: str, n: int, steps: int) -> float:
    vec = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
    vec.reset(seed=0)
    batches = max(1, steps // n)
    actions = np.random.default_rng(0).integers(0, vec.single_action_space.n, (batches, n))
    start = time.perf_counter()
    for a in actions:
        vec.step(a)
    return batches * n / (time.perf_counter() - start)


def play(env_id: str, policy: str, steps: int, seed: int = 0) -> dict:
    """Play one game for ``steps`` steps; count its events."""
    vec = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=seed)
    rng = np.random.default_rng(seed + 1)
    counts: dict = {}
    for _ in range(steps):
        action = SCRIPTED[env_id](obs) if policy == "scripted" else rng.integers(0, vec.single_action_space.n, 1)
        obs, _, _, _, info = vec.step(action)
        counts[info["event"][0]] = counts.get(info["event"][0], 0) + 1
    return counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200_000, help="env steps per speed measurement")
    p.add_argument("--batch", type=int, default=256, help="games in the batched measurement")
    p.add_argument("--repeats", type=int, default=3, help="runs per speed figure (median)")
    p.add_argument("--policy-steps", type=int, default=100_000, help="steps each policy plays each game")
    p.add_argument("--skip-policies", action="store_true")
    args = p.parse_args()

    med = lambda f: statistics.median(f() for _ in range(args.repeats))  # noqa: E731
    cart = med(lambda: single_sps("CartPole-v1", args.steps))
    print(f"{'environment':28s} {'single steps/s':>15s} {'x CartPole':>10s} {f'batched N={args.batch} steps/s':>26s}")
    print(f"{'CartPole-v1':28s} {cart:15,.0f} {1.0:10.2f} {'-':>26s}")
    for env_id in GAMES:
        single = med(lambda: single_sps(env_id, args.steps))
        batched = med(lambda: batched_sps(env_id, args.batch, args.steps * 5))
        print(f"{env_id:28s} {single:15,.0f} {single / cart:10.2f} {batched:26,.0f}")

    if args.skip_policies:
        return
    print(f"\npolicies, {args.policy_steps:,} steps each (seed 0)")
    for policy in ("scripted", "random"):
        c = play("tracerl/Pong-v0", policy, args.policy_steps)
        hits, misses = c.get("hit", 0), c.get("miss", 0)
        print(f"  Pong        {policy:9s} hit rate {hits / max(hits + misses, 1):.3f}  "
              f"(hits {hits}, misses {misses}, points won {c.get('point_won', 0)})")
        c = play("tracerl/FlappyBird-v0", policy, args.policy_steps)
        pipes, crashes = c.get("pipe", 0), c.get("crash", 0)
        print(f"  Flappy Bird {policy:9s} pipes per life {pipes / max(crashes, 1):.2f}  "
              f"(pipes {pipes}, crashes {crashes})")


if __name__ == "__main__":
    main()
