"""How well can an agent represent a game's scripted policy? Online imitation, no reinforcement.

    python scripts/bench_imitation.py --env flappy --steps 30000
    python scripts/bench_imitation.py --env flappy --set tau_mem=3 --set tau_out=1.5 --set ticks=8
    python scripts/bench_imitation.py --env pong --agent mlp --set hidden=64
    python scripts/bench_imitation.py --env pong --env-kwarg obs_type=pixels --frozen-steps 5000

This separates "can the network hold the policy" from "can the learner find it". The agent plays
(its own sampled action, as in DAgger: it is taught in the states it visits) and every step moves
toward the action the scripted policy of :mod:`envs.scripted` would take there, through the same
local eligibility a learner uses::

    dy = (onehot(a*_t) - pi_t) / T          d log pi(a*_t) / d y_t, a* the scripted action
    W += lr * local_grads(dy)               (e-prop for the spiking agent, exact for the MLP)

It is supervised learning with a per-step, trace-based gradient: what eprop would reach with a
perfect learning signal. Prints per window the agreement with the scripted action and the
game's measure (Pong: hit rate over the last 100 arrivals; Flappy Bird: pipes per life over the last
20 lives; learners.run.Measures), and a closing SUMMARY line.

Those figures are taken while the agent learns, and a large step makes the next action echo the
teacher's last one (states a step apart are alike): Pong from pixels, the default spiking agent
taught 50k steps at lr 0.01 hits 0.96 (median of 4) while taught and 0.18 once teaching stops
(docs/images.md). ``--frozen-steps K``
then plays K more steps with every update stopped (``agent.freeze()``, no teaching) and reports
the agreement and the measure of what the weights hold (``frozen_agreement``, ``frozen_<measure>``).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time

import numpy as np
import torch

from tracerl import envs
from tracerl.agents import AGENTS, make_agent
from tracerl.envs.scripted import SCRIPTED
from tracerl.learners.presets import preset
from tracerl.learners.run import make_env
from tracerl.learners.run.loop import Callback, loop
from tracerl.learners.run.settings import UsageError, applicable, key_values, one_line


def teacher_view(env) -> np.ndarray:
    """(N, obs_dim) the features of each game's current state, whatever the agent sees (its pixels,
    say): what the scripted policy reads."""
    games = [e.unwrapped for e in env.envs] if hasattr(env, "envs") else [env.unwrapped]
    views = []
    for game in games:
        kind, game.obs_type = game.obs_type, "features"
        try:
            v = np.asarray(game._obs())
            views.append(v.reshape(-1, v.shape[-1]))
        finally:
            game.obs_type = kind
    return np.concatenate(views)


class Imitation:
    """Not a reinforcement learner: each step moves the agent toward the scripted action in the
    state it acted in, through its local eligibility (``agent.local_grads``), and counts how
    often the agent's own sampled action agreed. It takes the learner's place in the loop, so it
    runs after the games' step: the state it reads then is the next observation's."""

    def __init__(self, agent, expert, env, lr: float):
        self.agent, self.expert, self.env, self.lr = agent, expert, env, lr
        self.view = teacher_view(env)
        self.weights, self.agree = agent.weights(), np.zeros(agent.n)

    def step(self, reward, terminated, next_obs, truncated) -> None:
        target = self.expert(self.view)
        self.agree += self.agent.action.numpy() == target
        self.view = teacher_view(self.env)
        if not self.lr:
            return
        with torch.no_grad():
            for k, g in self.agent.local_grads(self.agent.logp_cotangent(torch.from_numpy(target))).items():
                self.weights[k].add_(g, alpha=self.lr)


def fail(message: str) -> None:
    print(f"bench_imitation.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="flappy", help="pong or flappy (the games with a scripted policy)")
    p.add_argument("--agent", default="spiking", choices=sorted(AGENTS))
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", "--window", type=int, default=6_000, metavar="STEPS",
                   help="steps per printed line (--window: the old name)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an agent keyword")
    p.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                   help="a game keyword, e.g. obs_type=pixels (the teacher still reads the game's state)")
    p.add_argument("--frozen-steps", type=int, default=0, metavar="K",
                   help="then play K steps with learning stopped and report what the weights alone hold")
    p.add_argument("--no-compile", action="store_true", help="eager torch (slower)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    env_id = envs.ALIASES.get(args.env, args.env)
    if env_id not in SCRIPTED:
        fail(f"--env {args.env!r} has no scripted policy; allowed: "
             f"{', '.join(repr(k) for k, v in envs.ALIASES.items() if v in SCRIPTED)}")
    keys = set(inspect.signature(AGENTS[args.agent]).parameters) - {"observation_space", "action_space", "n", "seed"}
    try:
        sets, env_kwargs = key_values(args.set), dict(key_values(args.env_kwarg, "--env-kwarg", "obs_type=pixels"))
    except UsageError as e:
        fail(str(e))
    cfg = applicable(AGENTS[args.agent], preset(env_id, obs_type=env_kwargs.get("obs_type"))["agent"])
    for key, value in sets:
        if key not in keys:
            fail(f"--set {key!r} is not a keyword of the {args.agent} agent; allowed: {', '.join(sorted(keys))}")
        cfg[key] = value
    try:
        env = make_env(env_id, args.seeds, **env_kwargs)
    except (TypeError, ValueError) as e:
        fail(f"--env-kwarg {env_kwargs}: {one_line(e)}")
    obs, _ = env.reset(seed=args.seed)
    agent = make_agent(args.agent, env.single_observation_space, env.single_action_space, n=args.seeds,
                       seed=args.seed, **cfg)
    if not args.no_compile:
        agent.compile()
    teacher = Imitation(agent, SCRIPTED[env_id], env, args.lr)
    last, t0 = {}, time.time()
    print(f"# {env_id} {args.agent} imitation of {teacher.expert.__name__} seeds={args.seeds} lr={args.lr} agent={cfg}")

    class Report(Callback):
        def on_step(self, state) -> bool:
            if state.t % args.every == 0:
                w = state.measures.since_last()
                key = "hit_rate" if "hit_rate" in w else "pipes_per_life"
                last.update({"agreement": teacher.agree / args.every, key: w[key]})
                print(f"{state.t:9d}  {time.time() - t0:6.1f}s  agreement "
                      f"[{' '.join(f'{v:.4f}' for v in last['agreement'])}]  {key} "
                      f"[{' '.join(f'{v:.2f}' for v in w[key])}]", flush=True)
                teacher.agree[:] = 0
            return True

    state = loop(agent, teacher, env, obs, args.steps, callbacks=[Report()])
    key = next(k for k in last if k != "agreement")
    frozen = ""
    if args.frozen_steps:
        agent.freeze()  # no homeostasis either: the weights alone
        if not args.no_compile:
            agent.compile()  # freeze changes what the compiled step reads
        judge = Imitation(agent, teacher.expert, env, 0.0)
        w = loop(agent, judge, env, state.obs, args.frozen_steps).measures.since_last()
        last.update({"frozen_agreement": judge.agree / args.frozen_steps, f"frozen_{key}": w[key]})
        frozen = (f" frozen_agreement={np.round(last['frozen_agreement'], 4).tolist()} frozen_{key}="
                  f"{np.round(w[key], 2).tolist()} frozen_median={np.median(w[key]):.2f}")
    print(f"SUMMARY {args.env} imitation agreement_last={np.round(last['agreement'], 4).tolist()} "
          f"{key}={np.round(last[key], 2).tolist()} median={np.median(last[key]):.2f}{frozen}")
    return last


if __name__ == "__main__":
    main()
