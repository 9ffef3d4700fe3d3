"""Play a train.py checkpoint in the live window: one of its lifetimes, learning on or off.

    python scripts/watch.py runs/Pong-v0__eprop__0__1712345678/checkpoint.pt
    python scripts/watch.py runs/Flappy...__mean/checkpoint.pt --lifetime 3 --learn
    python scripts/watch.py CHECKPOINT --record pong.gif --steps 600
    python scripts/watch.py CHECKPOINT --deterministic     # its most probable action, not a sampled one
    python scripts/watch.py policy.nir --steps 20000         # a graph from export.py (never learns)

The lifetime continues its own game where the checkpoint left it when the checkpoint holds single
games (runs with fewer than 4 lifetimes, or trained with --render); a natively batched run's
lifetime plays a fresh game, seeded as the lifetime was. --no-learn (the default) keeps the
weights, the homeostatic biases and the input normalisation as saved; --learn lets the learner go
on as in training. --deterministic plays the most probable action instead of sampling one (as
Stable-Baselines3's predict(deterministic=True)); it does not learn, since the policy gradient needs
the sampled action. watch.py never writes the checkpoint. A .nir file (scripts/export.py) plays
in its game (from its metadata) through tracerl's own NIR importer, a fresh game seeded as the
lifetime was, without learning. Keys as in train.py: space pauses, + and
- change the speed, n toggles the network panel, Esc or closing the window ends it.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from tracerl import envs
from tracerl.agents.ranges import check_range
from tracerl.learners.run.build import build_env, build_lifetime
from tracerl.learners.run.callbacks import Current, LiveCallback
from tracerl.learners.run.checkpoint import load_checkpoint, to_numpy
from tracerl.learners.run.export import load_graph
from tracerl.learners.run.live import GameView, LiveWindow, check_record_path
from tracerl.learners.run.loop import loop
from tracerl.learners.run.settings import Parser, UsageError, one_line


def build_parser(prog: str = "watch.py") -> Parser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a train.py checkpoint.pt, or a .nir file from export.py")
    p.add_argument("--lifetime", type=int, default=0, metavar="K", help="which lifetime to play (default: 0)")
    p.add_argument("--env", default=None, help="the game (default: the checkpoint's or the .nir file's own; another "
                   "one is refused)")
    p.add_argument("--learn", action=argparse.BooleanOptionalAction, default=False,
                   help="keep learning while it plays (default: --no-learn)")
    p.add_argument("--deterministic", action="store_true",
                   help="play the most probable action, not a sampled one (never learns; default: sampled)")
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (default: 0, until closed)")
    p.add_argument("--fps", type=int, default=60, help="window frames per second at most (default: 60)")
    p.add_argument("--steps-per-frame", type=int, default=1, metavar="STEPS",
                   help="env steps between frames at the start, 0: unthrottled (default: 1)")
    p.add_argument("--record", metavar="FILE", help="write the frames, at the window's full size, to a .gif or "
                   ".mp4 (default: none)")
    p.add_argument("--record-every", type=int, default=1, metavar="K",
                   help="keep every K-th frame in the recording (default: 1, every frame)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    return p


def main(argv: list[str] | None = None, prog: str = "watch.py") -> int:
    """The command: ``python scripts/watch.py ...`` or ``tracerl watch ...`` (``prog`` names it in messages)."""
    try:
        args = build_parser(prog).parse_args(argv)
        args.prog = prog
        return watch(args)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2


def watch(args: argparse.Namespace) -> int:
    nir_file = args.checkpoint.endswith(".nir")
    if args.deterministic and args.learn:
        raise UsageError("--deterministic with --learn: the policy gradient needs the sampled action; allowed: "
                         "--deterministic or --learn")
    if nir_file:
        if args.learn:
            raise UsageError("a NIR graph does not learn: --learn needs a train.py checkpoint")
        if args.lifetime:
            raise UsageError(f"--lifetime {args.lifetime}: a NIR file holds one lifetime; allowed: 0")
        ckpt = None
        agent, config = load_graph(args.checkpoint)
    else:
        ckpt = load_checkpoint(args.checkpoint)
        config = ckpt["config"]
    n, k = config["lifetimes"], args.lifetime
    if args.env is not None:
        try:
            wanted = envs.resolve_id(args.env)
        except ValueError as e:
            raise UsageError(str(e))
        if wanted != config["env"]:
            raise UsageError(f"--env {args.env}: {args.checkpoint!r} learned {config['env']}; allowed: that game")
    try:  # agents/ranges.py
        for key in ("steps", "fps", "threads", "steps_per_frame", "record_every"):
            check_range(key, getattr(args, key), f"--{key.replace('_', '-')}")
    except ValueError as e:
        raise UsageError(str(e))
    if not 0 <= k < n:
        raise UsageError(f"--lifetime {k} is not a lifetime of this checkpoint; allowed: 0 to {n - 1}")
    if args.record:
        try:
            check_record_path(args.record)
        except ValueError as e:
            raise UsageError(str(e))
    torch.set_num_threads(args.threads)

    # Lifetime k alone: its game, its agent (and learner), from the checkpoint's rows k.
    env = build_env(config, 1, singles=True, render=True)
    obs, _ = env.reset(seed=config["seed"] + k)
    if nir_file:
        return play(args, env, obs, agent, None, config, config["step"], k)
    agent, learner = build_lifetime(ckpt, args.checkpoint, env, k, learn=args.learn)
    if ckpt["env"]["kind"] == "singles":
        env.envs[0].unwrapped.load_state_dict(to_numpy(ckpt["env"]["states"][k]))
        obs = to_numpy(ckpt["obs"])[k:k + 1]
    else:
        print(f"lifetime {k} plays a fresh game (the checkpoint's games ran natively batched or have no state)")
        agent.reset_state()
        if learner is not None:
            learner.reset_traces()
    if learner is None:
        agent.freeze()
    return play(args, env, obs, agent, learner, config, int(ckpt["step"]), k)


def play(args: argparse.Namespace, env, obs, agent, learner, config: dict, step: int, k: int) -> int:
    """Lifetime k in the live window from ``step``, until closed or ``--steps`` more."""
    import pygame

    agent.greedy = args.deterministic  # agents/policy.py: act by the argmax of pi
    if args.deterministic and bool(agent.pending):  # the step the learner took on obs sampled its action
        agent.action.copy_(agent.pi.argmax(-1))
    mode = "learning" if learner else "not learning, most probable action" if args.deterministic else "not learning"
    try:
        live = LiveWindow(GameView(env.envs[0]), agent, 0, config["env"],
                          f"tracerl watch  {os.path.basename(os.path.dirname(os.path.abspath(args.checkpoint)))}"
                          f"  (lifetime {k}, {mode})",
                          args.fps, args.steps_per_frame, args.record, record_every=args.record_every, label=k)
    except pygame.error as e:
        print(f"{args.prog}: cannot open a window ({one_line(e)}); set SDL_VIDEODRIVER=dummy to --record without a "
              f"display", file=sys.stderr)
        return 1
    shown, current = LiveCallback(live, 0, stop_on_close=True), Current()
    try:
        loop(agent, learner, env, obs, step + args.steps if args.steps else sys.maxsize, t=step,
             reward=config["reward"], callbacks=[current, shown])
    except KeyboardInterrupt:
        pass
    except FloatingPointError as e:
        print(f"{args.prog}: error: {one_line(e)}", file=sys.stderr)
        return 1
    finally:
        if shown.live is not None:
            shown.close()
        env.close()
    if args.record:
        print(f"recorded {live.recorded} frames to {args.record}")
    measures = current.state.measures
    figures = {key.replace("_", " "): float(v[0]) for key, v in measures.game().items()}
    if not figures and measures.n_episodes[0]:
        figures["return (last 100 episodes)"] = float(measures.trailing()[1][0])
    print(f"played lifetime {k} from step {step:,} to {current.state.t:,} "
          f"({mode})" + "".join(f", {key} {v:.3f}" for key, v in figures.items()))
    return 0

