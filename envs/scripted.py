"""Hand-written reference policies for the bundled games, batched over observations (N, obs_dim).

They show that the games are learnable (a simple rule plays them near perfectly) and give the
figures a learner is measured against; a uniform random policy gives the floor.
"""

from __future__ import annotations

import numpy as np

from tracerl.envs import flappy


def pong_track(obs: np.ndarray) -> np.ndarray:
    """Pong: move the paddle toward the ball's height (0 stay, 1 up, 2 down)."""
    dy = obs[:, 1] - obs[:, 4]  # ball y - paddle y, both 2 y / 300 - 1
    dead = 8.0 * 2 / 300  # within 8 px: stay
    return np.where(dy < -dead, 1, np.where(dy > dead, 2, 0))


def flappy_below_gap(obs: np.ndarray) -> np.ndarray:
    """Flappy Bird: flap when, falling on for one more step, the bird would sink below the next gap's bottom."""
    ys = 2 / flappy.BASE_Y  # features share the height scale 2 y / BASE_Y - 1
    bird_bottom = (obs[:, 0] + 1) / ys + flappy.BIRD_H / 2
    vy = obs[:, 1] * flappy.MAX_VY
    gap_bottom = (obs[:, 4] + 1) / ys
    return (bird_bottom + np.minimum(vy + flappy.GRAVITY, flappy.MAX_VY) > gap_bottom).astype(np.int64)


SCRIPTED = {"tracerl/Pong-v0": pong_track, "tracerl/FlappyBird-v0": flappy_below_gap}
