"""A screenshot of train.py's live window, headless, for the docs.

    SDL_VIDEODRIVER=dummy python scripts/window_screenshot.py --out docs/pong_window.png
    SDL_VIDEODRIVER=dummy python scripts/window_screenshot.py --notice --out docs/pong_window_compiling.png
    SDL_VIDEODRIVER=dummy python scripts/window_screenshot.py --env MinAtar/Breakout-v1 --out docs/breakout_window.png

Pong (or --env) with an untrained agent after --steps steps, its counts then set large (--score, --hits,
--misses) to show the layout holds them; --notice shows the torch.compile notice instead.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402

from tracerl.learners.run.build import build_agent, build_env  # noqa: E402
from tracerl.learners.run.live import GameView, LiveWindow  # noqa: E402
from tracerl.learners.run.loop import Callback, loop  # noqa: E402
from tracerl.learners.run.settings import resolve  # noqa: E402
from tracerl.learners.run.train import COMPILING  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="pong", help="any env train.py takes; the counts below are Pong's")
    p.add_argument("--out", default=os.path.join("docs", "pong_window.png"))
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--score", type=int, nargs=2, default=[1248, 31286], metavar=("AGENT", "CPU"))
    p.add_argument("--hits", type=int, default=97270)
    p.add_argument("--misses", type=int, default=31286)
    p.add_argument("--notice", action="store_true", help="the compiling notice of the first frames")
    args = p.parse_args(argv)

    config, _ = resolve({"env": args.env})
    env = build_env(config, 1, singles=True, render=True)
    obs, _ = env.reset(seed=0)
    agent = build_agent(config, env)
    window = LiveWindow(GameView(env.envs[0]), agent, 0, config["env"], "tracerl", fps=1000,
                        notice=COMPILING if args.notice else None)

    class Draw(Callback):  # the window stays open after the loop, for the screenshot
        def on_step(self, state) -> bool:
            return window.step(state.t, float(state.reward[0]))

    if not args.notice:
        loop(agent, None, env, obs, args.steps, callbacks=[Draw()])
        game = env.envs[0].unwrapped
        if hasattr(game, "hits"):
            game.score, game.hits, game.misses = list(args.score), args.hits, args.misses
        window.t = 1_234_567
        window.draw()
    pygame.image.save(window.window, args.out)
    print(f"{args.out}: {window.size[0]} x {window.size[1]}")
    window.close()
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
