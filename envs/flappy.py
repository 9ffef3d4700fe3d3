"""Flappy Bird, as one game (:class:`FlappyBirdEnv`) and as N games stepped together (:class:`FlappyBirdVecEnv`)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from tracerl.envs.state import BatchedGameState, GameState
from tracerl.envs.draw import PygameView, draw_text, raster_rects

# The original game's proportions, in game pixels.
WIDTH, HEIGHT = 288, 512
BASE_Y = 404.0  # top of the ground
BIRD_X, BIRD_W, BIRD_H = 57.0, 34.0, 24.0  # the bird's left edge never moves
PIPE_W, PIPE_SPEED = 52.0, 4.0
GRAVITY, MAX_VY, FLAP_VY = 1.0, 10.0, -9.0
START_Y = (BASE_Y - BIRD_H) / 2
FIRST_PIPE_X = float(WIDTH)  # a new life starts with the first pipe just off the right edge
N_PIPES = 3  # pipes kept at once: the one just passed, the next, the one after
DRAW_BLOCK = 64  # gap heights are drawn from np_random in blocks of this many pipes
PIXEL_SCALE = 4  # obs_type="pixels": 128 x 72
OBS_TYPES = ("features", "gap", "pixels")
EVENTS = (None, "pipe", "crash")


def _check_args(gap: float, spacing: float, obs_type: str) -> None:
    if obs_type not in OBS_TYPES:
        raise ValueError(f"unknown Flappy Bird obs_type {obs_type!r}; allowed: 'features', 'gap', 'pixels'")
    if not (BIRD_H < gap < 0.6 * BASE_Y):
        raise ValueError(f"Flappy Bird gap {gap!r} does not fit; allowed: {BIRD_H:g} < gap < {0.6 * BASE_Y:g} px")
    if not (PIPE_W + BIRD_W <= spacing <= 2 * WIDTH):
        raise ValueError(f"Flappy Bird pipe spacing {spacing!r} does not fit; allowed: "
                         f"{PIPE_W + BIRD_W:g} <= spacing <= {2 * WIDTH} px")


def _gap_block(rng: np.random.Generator, gap: float) -> np.ndarray:
    """The next DRAW_BLOCK gap tops, uniform over [0.2, 0.8 * BASE_Y - gap) as in the original."""
    low = int(0.2 * BASE_Y)
    return rng.integers(low, int(0.8 * BASE_Y - gap), size=DRAW_BLOCK).astype(np.float64)


def _observation_space(obs_type: str) -> spaces.Box:
    if obs_type == "pixels":
        return spaces.Box(0, 255, (HEIGHT // PIXEL_SCALE, WIDTH // PIXEL_SCALE), np.uint8)
    return spaces.Box(-1.0, 1.0, (10 if obs_type == "gap" else 8,), np.float32)


def _features(y, vy, px, top, gap, place: bool = False) -> np.ndarray:
    """(N, 8) features from (N,) bird state and (N, N_PIPES) pipes; see FlappyBirdEnv's table.
    ``place``: (N, 10), the bird's place within each of the two gaps appended (obs_type="gap")."""
    nxt = (px[:, 0] + PIPE_W <= BIRD_X).astype(np.int64)[:, None]  # first pipe not yet passed
    cols = np.concatenate([nxt, nxt + 1], axis=1)
    dx = np.take_along_axis(px, cols, 1) + PIPE_W - BIRD_X
    gtop = np.take_along_axis(top, cols, 1)
    ys = 2.0 / BASE_Y
    f = np.stack([(y + BIRD_H / 2) * ys - 1, vy / MAX_VY,
                  dx[:, 0] / WIDTH - 1, gtop[:, 0] * ys - 1, (gtop[:, 0] + gap) * ys - 1,
                  dx[:, 1] / WIDTH - 1, gtop[:, 1] * ys - 1, (gtop[:, 1] + gap) * ys - 1], axis=1)
    if place:  # the room the bird has in the gap, 76 px at the default gap: a pixel moves it 0.026, not 0.005
        f = np.concatenate([f, 2 * (y[:, None] - gtop) / (gap - BIRD_H) - 1], axis=1)
    return np.clip(f, -1.0, 1.0).astype(np.float32)


def _pixels(y, px, top, gap) -> np.ndarray:
    """Grayscale images, bird 255, pipes 150, ground 90: (128, 72) from a number ``y`` and the
    N_PIPES pipes' ``px``, ``top``; (N, 128, 72) from (N,) ``y`` and (N, N_PIPES) ``px``, ``top``."""
    px, top = np.asarray(px), np.asarray(top)
    pipes = [(px[..., j], top[..., j]) for j in range(N_PIPES)]
    rects = [(BIRD_X, y, BIRD_X + BIRD_W, y + BIRD_H), *((x, 0.0, x + PIPE_W, t) for x, t in pipes),
             *((x, t + gap, x + PIPE_W, BASE_Y) for x, t in pipes), (0.0, BASE_Y, WIDTH, HEIGHT)]
    shade = (255,) + (150,) * (2 * N_PIPES) + (90,)
    return raster_rects(rects, shade, HEIGHT // PIXEL_SCALE, WIDTH // PIXEL_SCALE, PIXEL_SCALE)


def _crashed(y, px, top, gap):
    """(N,) crashes into the ceiling, the ground, or a pipe overlapping the bird."""
    over = (BIRD_X + BIRD_W > px) & (BIRD_X < px + PIPE_W) & ((y[:, None] < top) | (y[:, None] + BIRD_H > top + gap))
    return (y < 0) | (y + BIRD_H > BASE_Y) | over.any(axis=1)


class FlappyBirdEnv(GameState, gym.Env):
    """Flappy Bird with the original game's proportions.

    ## Description
    The bird sits at a fixed x (57 px) on a 288 x 512 screen with the ground at y = 404. Gravity
    adds 1 px/step to its fall speed (capped at 10); a flap sets it to -9. Pipes 52 px wide scroll
    left at 4 px/step, ``spacing`` px apart (default 144), each with a gap of ``gap`` px (default
    100, as in the original) whose top is uniform in [80, 323 - gap), drawn from ``np_random``.

    ## Action Space
    ``Discrete(2)``: 0 do nothing, 1 flap.

    ## Observation Space
    ``obs_type="features"`` (default): ``Box(-1, 1, (8,), float32)``; heights share one scale,
    2 y / 404 - 1 (top of the screen -1, ground +1), so the bird and the gaps compare directly.

    | index | observation                                   | scaling              |
    |-------|-----------------------------------------------|----------------------|
    | 0     | bird centre y                                 | 2 y / 404 - 1        |
    | 1     | bird y velocity (positive: falling)           | vy / 10              |
    | 2     | next pipe: right edge minus bird x            | dx / 288 - 1         |
    | 3     | next pipe: gap top y                          | 2 y / 404 - 1        |
    | 4     | next pipe: gap bottom y                       | 2 y / 404 - 1        |
    | 5     | pipe after next: right edge minus bird x      | dx / 288 - 1         |
    | 6     | pipe after next: gap top y                    | 2 y / 404 - 1        |
    | 7     | pipe after next: gap bottom y                 | 2 y / 404 - 1        |

    ``obs_type="gap"``: ``Box(-1, 1, (10,), float32)``, the 8 features and the bird's place within
    the next gap (8) and the one after (9), at the gap's resolution: ``2 (y - gap top) / (gap - 24) - 1``,
    -1 where the bird's top touches the gap's top, +1 where its bottom touches the gap's bottom.

    ``obs_type="pixels"``: ``Box(0, 255, (128, 72), uint8)``, the screen at 1/4 scale.

    ## Rewards
    +1 for each pipe passed (its right edge passes the bird), -1 on a crash into a pipe, the
    ground or the ceiling (that step gets -1 alone), plus ``alive_reward`` on every other step.
    ``alive_reward`` defaults to 0: the learners subtract a running baseline or learn a critic, so
    a constant per-step reward carries no information for them, and the -1 of a crash is the
    signal that matters; set it (for example 0.1) for learners without a baseline.

    ## Life and episodes
    ``episodic=False`` (default): one never-ending life; a crash costs -1, then the bird respawns
    at the start height with new pipes and play goes on; ``terminated`` is never set.
    ``episodic=True``: the episode ends at the crash.
    ``info``: ``event`` (``"pipe"``, ``"crash"`` or ``None``), ``pipes`` (pipes passed in the
    current life; on a crash step, in the life that just ended), ``crashes`` (so far).

    ## Arguments
    ``gap`` (px, 24 < gap < 242.4), ``spacing`` (px between pipe left edges, 86 to 576),
    ``alive_reward`` (float), ``obs_type`` ("features" | "gap" | "pixels"), ``episodic`` (bool),
    ``render_mode`` (None | "human" | "rgb_array").

    ## Version History
    v0: first version.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 30}

    def __init__(self, gap: float = 100.0, spacing: float = 144.0, alive_reward: float = 0.0,
                 obs_type: str = "features", episodic: bool = False, render_mode: str | None = None):
        _check_args(gap, spacing, obs_type)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; allowed: None, 'human', 'rgb_array'")
        self.gap, self.spacing, self.alive_reward = float(gap), float(spacing), float(alive_reward)
        self.obs_type, self.episodic, self.render_mode = obs_type, episodic, render_mode
        self.action_space = spaces.Discrete(2)
        self.observation_space = _observation_space(obs_type)
        self._view = None
        self.y, self.vy = START_Y, 0.0
        self.px = [FIRST_PIPE_X + self.spacing * i for i in range(N_PIPES)]
        self.top = [0.5 * BASE_Y - self.gap / 2] * N_PIPES

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._gaps, self._gap_i = _gap_block(self.np_random, self.gap), 0
        self.pipes = self.crashes = 0
        self._respawn()
        return self._obs(), self._info(None)

    def _next_gap(self) -> float:
        if self._gap_i == DRAW_BLOCK:
            self._gaps, self._gap_i = _gap_block(self.np_random, self.gap), 0
        self._gap_i += 1
        return float(self._gaps[self._gap_i - 1])

    def _respawn(self) -> None:
        self.y, self.vy = START_Y, 0.0
        self.px = [FIRST_PIPE_X + self.spacing * i for i in range(N_PIPES)]
        self.top = [self._next_gap() for _ in range(N_PIPES)]

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"invalid Flappy Bird action {action!r}; allowed: 0 (nothing), 1 (flap)")
        self.vy = FLAP_VY if action == 1 else min(self.vy + GRAVITY, MAX_VY)
        self.y += self.vy
        self.px = [x - PIPE_SPEED for x in self.px]
        passed = sum(1 for x in self.px if x + PIPE_W <= BIRD_X and x + PIPE_W + PIPE_SPEED > BIRD_X)
        if self.px[0] + PIPE_W < 0:  # the leftmost pipe left the screen: a new one enters on the right
            self.px = self.px[1:] + [self.px[-1] + self.spacing]
            self.top = self.top[1:] + [self._next_gap()]

        y, gap = self.y, self.gap
        crash = y < 0 or y + BIRD_H > BASE_Y or any(
            BIRD_X + BIRD_W > x and BIRD_X < x + PIPE_W and (y < t or y + BIRD_H > t + gap)
            for x, t in zip(self.px, self.top))
        terminated = False
        if crash:
            event, reward, life_pipes = "crash", -1.0, self.pipes
            self.crashes += 1
            if self.episodic:
                terminated = True
            else:
                self.pipes = 0
                self._respawn()
        else:
            self.pipes += passed
            event, reward, life_pipes = ("pipe" if passed else None), passed + self.alive_reward, self.pipes
        if self.render_mode == "human":
            self.render()
        return self._obs(), float(reward), terminated, False, self._info(event, life_pipes)

    def _obs(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return _pixels(self.y, self.px, self.top, self.gap)
        return _features(np.array([self.y]), np.array([self.vy]), np.array([self.px]), np.array([self.top]),
                         self.gap, self.obs_type == "gap")[0]

    def _info(self, event: str | None, pipes: int | None = None) -> dict[str, Any]:
        return {"event": event, "pipes": self.pipes if pipes is None else pipes, "crashes": self.crashes}

    _STATE = ("y", "vy", "px", "top", "pipes", "crashes", "_gaps", "_gap_i")  # what a checkpoint holds

    # -- rendering --------------------------------------------------------------------------
    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='human' or 'rgb_array'")
            return None
        if self._view is None:
            self._view = PygameView((WIDTH, HEIGHT), self.render_mode, self.metadata["render_fps"],
                                    "tracerl Flappy Bird")
        return self._view.render(self.draw)

    def draw(self, surface) -> None:
        """Draw the scene on a pygame surface of WIDTH x HEIGHT."""
        import pygame

        surface.fill((78, 192, 202))
        for x, t in zip(self.px, self.top):
            pygame.draw.rect(surface, (84, 170, 60), (x, 0, PIPE_W, t))
            pygame.draw.rect(surface, (84, 170, 60), (x, t + self.gap, PIPE_W, BASE_Y - t - self.gap))
        pygame.draw.rect(surface, (222, 216, 149), (0, BASE_Y, WIDTH, HEIGHT - BASE_Y))
        pygame.draw.ellipse(surface, (250, 200, 40), (BIRD_X, self.y, BIRD_W, BIRD_H))
        pygame.draw.circle(surface, (20, 20, 20), (int(BIRD_X + BIRD_W * 0.72), int(self.y + BIRD_H * 0.35)), 3)
        draw_text(surface, f"pipes {self.pipes}", (10, 10), 32)
        draw_text(surface, f"crashes {self.crashes}", (10, 40), 22)

    def close(self):
        if self._view is not None:
            self._view.close()
            self._view = None


class FlappyBirdVecEnv(BatchedGameState, VectorEnv):
    """N Flappy Bird games stepped together as numpy arrays: the same games as N :class:`FlappyBirdEnv`.

    ``reset(seed=s)`` seeds game i with ``s + i`` (or a list, one seed per game), and game i then
    follows exactly the trajectory of ``FlappyBirdEnv`` reset with that seed. Birds respawn on
    their own; with ``episodic=True`` a finished game is reset in the step it ends (Gymnasium's
    same-step autoreset, as the learners assume; its last observation in ``info["final_obs"]``,
    rows where ``info["_final_obs"]``). ``info`` holds arrays of the step: ``event``, ``pipes``,
    ``crashes``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30, "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, gap: float = 100.0, spacing: float = 144.0, alive_reward: float = 0.0,
                 obs_type: str = "features", episodic: bool = False, render_mode: str | None = None):
        _check_args(gap, spacing, obs_type)
        self.num_envs = num_envs
        self.gap, self.spacing, self.alive_reward = float(gap), float(spacing), float(alive_reward)
        self.obs_type, self.episodic, self.render_mode = obs_type, episodic, render_mode
        self.single_action_space = spaces.Discrete(2)
        self.single_observation_space = _observation_space(obs_type)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._events = np.array(EVENTS, dtype=object)
        self._rngs: list[np.random.Generator] = []

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        n = self.num_envs
        self._seed_rngs(seed)
        self._gaps = np.empty((n, DRAW_BLOCK))
        self._gap_i = np.zeros(n, np.int64)
        self._refill(np.arange(n))
        self.pipes = np.zeros(n, np.int64)
        self.crashes = np.zeros(n, np.int64)
        self.y, self.vy = np.zeros(n), np.zeros(n)
        self.px, self.top = np.zeros((n, N_PIPES)), np.zeros((n, N_PIPES))
        self._respawn(np.ones(n, bool))
        return self._obs(), self._info(np.zeros(n, np.int64), self.pipes)

    def _refill(self, idx: np.ndarray) -> None:
        for i in idx:  # once per DRAW_BLOCK pipes of a game, not per step
            self._gaps[i], self._gap_i[i] = _gap_block(self._rngs[i], self.gap), 0

    def _next_gap(self, mask: np.ndarray) -> np.ndarray:
        """The next gap top of each masked game (others: unused values), consuming it."""
        empty = mask & (self._gap_i == DRAW_BLOCK)
        if empty.any():
            self._refill(np.flatnonzero(empty))
        gap = self._gaps[np.arange(self.num_envs), np.minimum(self._gap_i, DRAW_BLOCK - 1)]
        self._gap_i += mask
        return gap

    def _respawn(self, mask: np.ndarray) -> None:
        self.y = np.where(mask, START_Y, self.y)
        self.vy = np.where(mask, 0.0, self.vy)
        self.px = np.where(mask[:, None], FIRST_PIPE_X + self.spacing * np.arange(N_PIPES), self.px)
        tops = np.stack([self._next_gap(mask) for _ in range(N_PIPES)], axis=1)
        self.top = np.where(mask[:, None], tops, self.top)

    def step(self, actions):
        actions = np.asarray(actions)
        self.vy = np.where(actions == 1, FLAP_VY, np.minimum(self.vy + GRAVITY, MAX_VY))
        self.y = self.y + self.vy
        self.px = self.px - PIPE_SPEED
        right = self.px + PIPE_W
        passed = ((right <= BIRD_X) & (right + PIPE_SPEED > BIRD_X)).sum(axis=1)
        gone = right[:, 0] < 0
        if gone.any():
            new = self._next_gap(gone)
            self.px = np.where(gone[:, None], np.concatenate([self.px[:, 1:], self.px[:, -1:] + self.spacing], 1), self.px)
            self.top = np.where(gone[:, None], np.concatenate([self.top[:, 1:], new[:, None]], 1), self.top)

        crash = _crashed(self.y, self.px, self.top, self.gap)
        self.crashes += crash
        self.pipes += np.where(crash, 0, passed)
        life_pipes = self.pipes.copy()
        reward = np.where(crash, -1.0, passed + self.alive_reward)
        event = np.where(crash, 2, (passed > 0) * 1)
        terminated = crash if self.episodic else np.zeros(self.num_envs, bool)
        info = self._info(event, life_pipes)
        if not self.episodic and crash.any():  # one endless life: the bird respawns
            self.pipes[crash] = 0
            self._respawn(crash)
        obs = self._obs()
        if self.episodic and terminated.any():  # same-step autoreset: a finished game starts afresh in this very step
            info["final_obs"], info["_final_obs"] = obs, terminated.copy()
            self.pipes[terminated] = 0
            self.crashes[terminated] = 0
            self._refill(np.flatnonzero(terminated))  # as FlappyBirdEnv.reset() draws a fresh block
            self._respawn(terminated)
            obs = self._obs()
        return obs, reward, terminated, np.zeros(self.num_envs, bool), info

    def _obs(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return _pixels(self.y, self.px, self.top, self.gap)
        return _features(self.y, self.vy, self.px, self.top, self.gap, self.obs_type == "gap")

    def _info(self, event: np.ndarray, pipes: np.ndarray) -> dict[str, Any]:
        return {"event": self._events[event], "pipes": pipes, "crashes": self.crashes.copy()}

    _STATE = ("y", "vy", "px", "top", "pipes", "crashes", "_gaps", "_gap_i")  # what a checkpoint holds

    def render(self):
        """The first game's pixel observation, for a quick look (full rendering: use FlappyBirdEnv)."""
        return np.repeat(_pixels(self.y[:1], self.px[:1], self.top[:1], self.gap)[0][..., None], 3, axis=-1)
