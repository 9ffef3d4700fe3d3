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
import sys

from tracerl import envs
from tracerl.agents import AGENTS
from tracerl.agents.encoders import ENCODERS
from tracerl.agents.spiking import FEEDBACK, TAU_OUT_FEATURES, TAU_OUT_PICTURE
from tracerl.learners import LEARNERS
from tracerl.learners.run.settings import Parser, UsageError, class_default, parse_hidden
from tracerl.learners.run.train import train


def build_parser(prog: str = "train.py") -> Parser:
    p = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
               argument_default=argparse.SUPPRESS)
    spiking, eprop = AGENTS["spiking"], LEARNERS["eprop"]

    def opt(group, flag: str, default: str, help: str, **kw):
        group.add_argument(flag, help=f"{help} (default: {default})", **kw)

    g = p.add_argument_group("run")
    opt(g, "--env", "pong", f"{', '.join(envs.ALIASES)}, any registered Gymnasium id with a Discrete action "
        "space and a Box observation, e.g. CartPole-v1, LunarLander-v3, or module:Id for a game another package "
        "registers on import, MinAtar/Breakout-v1 and the other MinAtar games when minatar is installed, "
        "ale_py:ALE/Pong-v5 and the other ALE games with Gymnasium's Atari preprocessing (--set env.preprocess=none: "
        "the raw frames)")
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
    opt(g, "--neuron", f'{class_default(spiking, "neuron")} (greedy alif)', "spiking neuron model", choices=["lif", "alif"])
    opt(g, "--recurrent", class_default(spiking, "recurrent"), "recurrent weights in each hidden layer",
        action=argparse.BooleanOptionalAction)
    opt(g, "--ticks", "preset: 4", "network ticks per env step", type=int)
    opt(g, "--tau-mem", class_default(spiking, "tau_mem"), "membrane time constant, ticks", type=float)
    opt(g, "--tau-out", f"{TAU_OUT_FEATURES:g}; pictures {TAU_OUT_PICTURE:g}", "readout time constant, ticks", type=float)
    opt(g, "--encoder", class_default(spiking, "encoder"), "observation encoder",
        choices=list(ENCODERS))
    opt(g, "--feedback", class_default(spiking, "feedback"), "learning-signal feedback weights",
        choices=list(FEEDBACK))
    opt(g, "--temperature", class_default(spiking, "temperature"), "softmax temperature", type=float)

    g = p.add_argument_group("learner (defaults: the env's preset, else the learner's own default)")
    opt(g, "--signal", "preset: td (reflect: greedy)", "learning signal", choices=["greedy", "td"])
    opt(g, "--lr", "preset: 0.01", "step size", type=float)
    opt(g, "--trace-lambda", "preset: 0.9", "decay of the policy-gradient trace", type=float)
    opt(g, "--entropy", "preset: 0.01; greedy from features 0.003", "entropy bonus coefficient", type=float)
    opt(g, "--gamma", "preset: 0.98-0.99", "discount of the critic (td)", type=float)
    opt(g, "--bound-kappa", class_default(eprop, "bound_kappa"), "ObGD step bound (0: plain SGD)", type=float)
    opt(g, "--set", "none", "any other agent, learner or env keyword, e.g. --set tau_adapt=200 --set "
        "env.obs_type=pixels (repeatable)", action="append", metavar="KEY=VALUE")
    opt(g, "--config", "none", "YAML file of settings, e.g. a run's config.yaml", metavar="FILE")

    g = p.add_argument_group("logging and checkpoints")
    opt(g, "--logdir", "runs", "where runs are written", metavar="DIR")
    opt(g, "--run-name", "{env}__{learner}__{seed}__{unix time}", "name of the run directory", metavar="NAME")
    opt(g, "--log-every", "1000", "steps per logged point (means over them)", type=int, metavar="STEPS")
    opt(g, "--hist-every", "50000", "steps between weight histograms (0: never)", type=int, metavar="STEPS")
    opt(g, "--checkpoint-every", "100000", "steps between checkpoints (0: only at the end and on Ctrl-C)",
        type=int, metavar="STEPS")
    opt(g, "--eval-every", "0", "steps between evaluations (0: none): the lifetimes frozen, each in a copy of its "
        "game, by the most probable action and by sampling, logged as eval/... (as SB3's EvalCallback)", type=int,
        metavar="STEPS")
    opt(g, "--eval-episodes", "5", "episodes per lifetime and evaluation (games with episodes)", type=int, metavar="K")
    opt(g, "--eval-steps", "5000", "steps per lifetime and evaluation for the bundled games' endless life",
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


def main(argv: list[str] | None = None, prog: str = "train.py") -> int:
    """The command: ``python scripts/train.py ...`` or ``tracerl train ...`` (``prog`` names it in messages)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return train(vars(build_parser(prog).parse_args(argv)), argv)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted before training started", file=sys.stderr)
        return 130

