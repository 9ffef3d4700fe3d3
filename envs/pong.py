"""Two-paddle Pong, as one game (:class:`PongEnv`) and as N games stepped together (:class:`PongVecEnv`)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from tracerl.envs.state import BatchedGameState, GameState
from tracerl.envs.draw import PygameView, draw_text, raster_rects

# Court geometry, in game pixels (the window is WIDTH x HEIGHT).
WIDTH, HEIGHT = 400, 300
PADDLE_H, PADDLE_W, MARGIN = 48.0, 8.0, 16.0
RIGHT_FACE = WIDTH - MARGIN - PADDLE_W  # the agent paddle's front face (x)
LEFT_FACE = MARGIN + PADDLE_W  # the opponent paddle's (or the wall's) front face
BALL_R = 4.0  # half the ball's side
PADDLE_SPEED = 7.0  # agent, pixels per step
CPU_SPEED = 4.5  # opponent's cap, pixels per step: slower than a steep ball
SERVE_SPEED, ACCEL, MAX_SPEED = 5.0, 1.05, 9.0
SERVE_SIN = math.sin(math.radians(40))  # serves leave within +-40 degrees of horizontal
BOUNCE_SIN = math.sin(math.radians(45))  # a return leaves at up to 45 degrees, by where it hits
REACH = PADDLE_H / 2 + BALL_R  # a paddle returns the ball when |ball_y - paddle_y| <= REACH
WIN_POINTS = 21
DRAW_BLOCK = 64  # serve randomness is drawn from np_random in blocks of this many serves
PIXEL_SCALE = 5  # obs_type="pixels": one cell per 5x5 game pixels -> 60 x 80

OPPONENTS = ("cpu", "wall")
REWARDS = ("hits", "points")
OBS_TYPES = ("features", "pixels")
EVENTS = (None, "hit", "miss", "point_won")  # info["event"]; index 0 is "nothing happened"
_ACTION_DY = (0.0, -PADDLE_SPEED, PADDLE_SPEED)  # stay, up, down (screen y grows downwards)


def _check_args(opponent: str, reward: str, obs_type: str) -> None:
    for name, value, allowed in (("opponent", opponent, OPPONENTS), ("reward", reward, REWARDS),
                                 ("obs_type", obs_type, OBS_TYPES)):
        if value not in allowed:
            raise ValueError(f"unknown Pong {name} {value!r}; allowed: {', '.join(map(repr, allowed))}")


def _clip(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """np.clip(x, lo, hi) for lo <= hi without its Python-level dispatch (several us per call)."""
    return np.minimum(np.maximum(x, lo), hi)


def _any(mask: np.ndarray) -> bool:
    """mask.any() for a bool array without ndarray.any's Python-level dispatch."""
    return np.count_nonzero(mask) > 0


def _serve_block(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The next DRAW_BLOCK serves: sine of the angle and direction (+1 toward the agent, -1 away)."""
    sin = rng.uniform(-SERVE_SIN, SERVE_SIN, size=DRAW_BLOCK)
    direction = rng.integers(0, 2, size=DRAW_BLOCK) * 2.0 - 1.0
    return sin, direction


def _observation_space(obs_type: str) -> spaces.Box:
    if obs_type == "pixels":
        return spaces.Box(0, 255, (HEIGHT // PIXEL_SCALE, WIDTH // PIXEL_SCALE), np.uint8)
    return spaces.Box(-1.0, 1.0, (6,), np.float32)


def _pixels(bx, by, py, oy, wall: bool) -> np.ndarray:
    """Grayscale court: (60, 80) from numbers, (N, 60, 80) from (N,) arrays of ball and paddle positions."""
    opp = (0.0, 0.0, LEFT_FACE, HEIGHT) if wall else (MARGIN, oy - PADDLE_H / 2, LEFT_FACE, oy + PADDLE_H / 2)
    rects = [(bx - BALL_R, by - BALL_R, bx + BALL_R, by + BALL_R),
             (RIGHT_FACE, py - PADDLE_H / 2, RIGHT_FACE + PADDLE_W, py + PADDLE_H / 2), opp]
    return raster_rects(rects, (255, 200, 120), HEIGHT // PIXEL_SCALE, WIDTH // PIXEL_SCALE, PIXEL_SCALE)


class PongEnv(GameState, gym.Env):
    """Two-paddle Pong. The agent plays the right paddle.

    ## Description
    A ball bounces between the top and bottom walls of a 400 x 300 court. The agent moves the right
    paddle; the left side is a CPU opponent (``opponent="cpu"``) that follows the ball at a capped
    speed of 4.5 px/step, slower than a steep ball, so it can be beaten, or a wall (``"wall"``,
    squash) that always sends the ball back. Where the ball meets a paddle sets the return angle
    (centre: flat, edge: up to 45 degrees), so the agent can aim. Each return speeds the ball up by
    5%, from 5 to at most 9 px/step. Serves start at the centre toward a random side at a random
    angle within +-40 degrees, drawn from ``np_random``.

    ## Action Space
    ``Discrete(3)``: 0 stay, 1 up, 2 down (7 px/step).

    ## Observation Space
    ``obs_type="features"`` (default): ``Box(-1, 1, (6,), float32)``

    | index | observation            | scaling                              |
    |-------|------------------------|--------------------------------------|
    | 0     | ball x                 | 2 x / 400 - 1 (agent paddle at +0.88) |
    | 1     | ball y                 | 2 y / 300 - 1 (top -1, bottom +1)     |
    | 2     | ball x velocity        | vx / 9 (positive: toward the agent)   |
    | 3     | ball y velocity        | vy / 9 (positive: downwards)          |
    | 4     | agent paddle centre y  | 2 y / 300 - 1                         |
    | 5     | opponent paddle y      | 2 y / 300 - 1 (0 for the wall)        |

    ``obs_type="pixels"``: ``Box(0, 255, (60, 80), uint8)``, the court at 1/5 scale, gray levels
    ball 255, agent paddle 200, opponent 120.

    ## Rewards
    ``reward="hits"`` (default): +1 when the agent returns the ball, -1 when it misses.
    ``reward="points"``: +1 per point won (the opponent misses), -1 per point lost, as Atari Pong.

    ## Life and episodes
    ``episodic=False`` (default): one never-ending life; after each point the ball is served again
    and ``terminated`` is never set. ``episodic=True``: the episode ends when a side has 21 points.
    ``info``: ``event`` (``"hit"``, ``"miss"``, ``"point_won"`` or ``None``), ``score`` (agent,
    opponent) and the running ``hits`` and ``misses`` of the agent.

    ## Arguments
    ``opponent`` ("cpu" | "wall"), ``reward`` ("hits" | "points"), ``obs_type`` ("features" |
    "pixels"), ``episodic`` (bool), ``render_mode`` (None | "human" | "rgb_array").

    ## Version History
    v0: first version.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 60}

    def __init__(self, opponent: str = "cpu", reward: str = "hits", obs_type: str = "features",
                 episodic: bool = False, render_mode: str | None = None):
        _check_args(opponent, reward, obs_type)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; allowed: None, 'human', 'rgb_array'")
        self.opponent, self.reward_mode, self.obs_type = opponent, reward, obs_type
        self.episodic, self.render_mode = episodic, render_mode
        self.action_space = spaces.Discrete(3)
        self.observation_space = _observation_space(obs_type)
        self._view = None
        self.bx = self.by = self.vx = self.vy = self.speed = 0.0
        self.py = self.oy = HEIGHT / 2

    # -- the game ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._serves, self._serve_i = _serve_block(self.np_random), 0
        self.py = self.oy = HEIGHT / 2
        self.score = [0, 0]
        self.hits = self.misses = 0
        self._serve()
        return self._obs(), self._info(None)

    def _serve(self) -> None:
        if self._serve_i == DRAW_BLOCK:
            self._serves, self._serve_i = _serve_block(self.np_random), 0
        sin, direction = float(self._serves[0][self._serve_i]), float(self._serves[1][self._serve_i])
        self._serve_i += 1
        self.bx, self.by, self.speed = WIDTH / 2, HEIGHT / 2, SERVE_SPEED
        self.vx = direction * SERVE_SPEED * math.sqrt(1.0 - sin * sin)
        self.vy = SERVE_SPEED * sin

    def _return_ball(self, paddle_y: float, direction: float) -> None:
        """Send the ball back (direction -1: leftwards) at an angle set by where it met the paddle."""
        sin = (self.by - paddle_y) / REACH * BOUNCE_SIN
        self.speed = min(self.speed * ACCEL, MAX_SPEED)
        self.vx = direction * self.speed * math.sqrt(1.0 - sin * sin)
        self.vy = self.speed * sin

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"invalid Pong action {action!r}; allowed: 0 (stay), 1 (up), 2 (down)")
        half = PADDLE_H / 2
        self.py = min(max(self.py + _ACTION_DY[int(action)], half), HEIGHT - half)
        if self.opponent == "cpu":
            self.oy = min(max(self.oy + min(max(self.by - self.oy, -CPU_SPEED), CPU_SPEED), half), HEIGHT - half)

        self.bx += self.vx
        self.by += self.vy
        if self.by < BALL_R:  # top and bottom walls reflect
            self.by, self.vy = 2 * BALL_R - self.by, -self.vy
        elif self.by > HEIGHT - BALL_R:
            self.by, self.vy = 2 * (HEIGHT - BALL_R) - self.by, -self.vy

        event, reward = None, 0.0
        if self.vx > 0 and self.bx + BALL_R >= RIGHT_FACE:  # reached the agent's paddle line
            if abs(self.by - self.py) <= REACH:
                self.bx = RIGHT_FACE - BALL_R
                self._return_ball(self.py, -1.0)
                event, reward, self.hits = "hit", (1.0 if self.reward_mode == "hits" else 0.0), self.hits + 1
            else:
                event, reward, self.misses = "miss", -1.0, self.misses + 1
                self.score[1] += 1
                self._serve()
        elif self.vx < 0 and self.bx - BALL_R <= LEFT_FACE:  # reached the opponent's line
            if self.opponent == "wall":
                self.bx, self.vx = LEFT_FACE + BALL_R, -self.vx
            elif abs(self.by - self.oy) <= REACH:
                self.bx = LEFT_FACE + BALL_R
                self._return_ball(self.oy, 1.0)
            else:
                event, reward = "point_won", (1.0 if self.reward_mode == "points" else 0.0)
                self.score[0] += 1
                self._serve()

        terminated = self.episodic and max(self.score) >= WIN_POINTS
        if self.render_mode == "human":
            self.render()
        return self._obs(), reward, terminated, False, self._info(event)

    def _obs(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return _pixels(self.bx, self.by, self.py, self.oy, self.opponent == "wall")
        oy = 0.0 if self.opponent == "wall" else self.oy * (2 / HEIGHT) - 1
        return np.array([self.bx * (2 / WIDTH) - 1, self.by * (2 / HEIGHT) - 1, self.vx / MAX_SPEED,
                         self.vy / MAX_SPEED, self.py * (2 / HEIGHT) - 1, oy], np.float32)

    def _info(self, event: str | None) -> dict[str, Any]:
        return {"event": event, "score": tuple(self.score), "hits": self.hits, "misses": self.misses}

    _STATE = ("bx", "by", "vx", "vy", "speed", "py", "oy", "score", "hits", "misses", "_serves", "_serve_i")  # checkpoints

    # -- rendering --------------------------------------------------------------------------
    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='human' or 'rgb_array'")
            return None
        if self._view is None:
            self._view = PygameView((WIDTH, HEIGHT), self.render_mode, self.metadata["render_fps"], "tracerl Pong")
        return self._view.render(self.draw)

    def draw(self, surface) -> None:
        """Draw the court on a pygame surface of WIDTH x HEIGHT."""
        import pygame

        surface.fill((15, 20, 30))
        for y in range(0, HEIGHT, 20):
            pygame.draw.rect(surface, (60, 70, 90), (WIDTH // 2 - 1, y, 2, 10))
        half = PADDLE_H / 2
        if self.opponent == "wall":
            pygame.draw.rect(surface, (120, 130, 150), (0, 0, LEFT_FACE, HEIGHT))
        else:
            pygame.draw.rect(surface, (230, 120, 90), (MARGIN, self.oy - half, PADDLE_W, PADDLE_H))
        pygame.draw.rect(surface, (90, 200, 240), (RIGHT_FACE, self.py - half, PADDLE_W, PADDLE_H))
        pygame.draw.rect(surface, (250, 250, 250), (self.bx - BALL_R, self.by - BALL_R, 2 * BALL_R, 2 * BALL_R))
        # Each side's figures on its own half, the opponent's left and the agent's (right paddle) right,
        # so no count runs into another however large it grows.
        mid = WIDTH // 2
        draw_text(surface, f"{'wall' if self.opponent == 'wall' else 'cpu'} {self.score[1]}", (mid - 14, 8),
                  24, (230, 120, 90), align="right")
        draw_text(surface, f"{self.score[0]} agent", (mid + 14, 8), 24, (90, 200, 240))
        draw_text(surface, f"hits {self.hits}", (mid + 14, 30), 18, (170, 180, 195))
        draw_text(surface, f"misses {self.misses}", (mid + 14, 46), 18, (170, 180, 195))

    def close(self):
        if self._view is not None:
            self._view.close()
            self._view = None


class PongVecEnv(BatchedGameState, VectorEnv):
    """N Pong games stepped together as numpy arrays: the same games as N :class:`PongEnv`.

    ``reset(seed=s)`` seeds game i with ``s + i`` (a list seeds each game), as Gymnasium's
    SyncVectorEnv does, and game i then follows exactly the trajectory of ``PongEnv`` reset with
    that seed. Games serve again on their own. With ``episodic=True`` a finished game is reset in
    the step it ends (Gymnasium's same-step autoreset, as the learners assume): the returned
    observation is the new game's first, the last one is in ``info["final_obs"]`` (rows where
    ``info["_final_obs"]``). ``info`` holds arrays of the step: ``event`` (object array of the event
    names, the finishing miss included), ``score`` (N, 2), ``hits``, ``misses``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60, "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, opponent: str = "cpu", reward: str = "hits",
                 obs_type: str = "features", episodic: bool = False, render_mode: str | None = None):
        _check_args(opponent, reward, obs_type)
        self.num_envs = num_envs
        self.opponent, self.reward_mode, self.obs_type, self.episodic = opponent, reward, obs_type, episodic
        self.render_mode = render_mode
        self.single_action_space = spaces.Discrete(3)
        self.single_observation_space = _observation_space(obs_type)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rngs: list[np.random.Generator] = []
        self._dy = np.array(_ACTION_DY)
        self._events = np.array(EVENTS, dtype=object)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        n = self.num_envs
        self._seed_rngs(seed)
        self._sin = np.empty((n, DRAW_BLOCK))
        self._dir = np.empty((n, DRAW_BLOCK))
        self._serve_i = np.zeros(n, np.int64)
        self._refill(np.arange(n))
        self.py = np.full(n, HEIGHT / 2)
        self.oy = np.full(n, HEIGHT / 2)
        self.bx, self.by, self.vx, self.vy, self.speed = (np.zeros(n) for _ in range(5))
        self.score = np.zeros((n, 2), np.int64)
        self.hits = np.zeros(n, np.int64)
        self.misses = np.zeros(n, np.int64)
        self._serve(np.ones(n, bool))
        return self._obs(), self._info(np.zeros(n, np.int64))

    def _refill(self, idx: np.ndarray) -> None:
        for i in idx:  # once per DRAW_BLOCK serves of a game, not per step
            self._sin[i], self._dir[i] = _serve_block(self._rngs[i])
            self._serve_i[i] = 0

    def _serve(self, mask: np.ndarray) -> None:
        empty = mask & (self._serve_i == DRAW_BLOCK)
        if _any(empty):
            self._refill(np.flatnonzero(empty))
        rows, col = np.arange(self.num_envs), np.minimum(self._serve_i, DRAW_BLOCK - 1)  # unmasked: unused
        sin, direction = self._sin[rows, col], self._dir[rows, col]
        self._serve_i += mask
        self.bx = np.where(mask, WIDTH / 2, self.bx)
        self.by = np.where(mask, HEIGHT / 2, self.by)
        self.speed = np.where(mask, SERVE_SPEED, self.speed)
        self.vx = np.where(mask, direction * SERVE_SPEED * np.sqrt(1.0 - sin * sin), self.vx)
        self.vy = np.where(mask, SERVE_SPEED * sin, self.vy)

    def _return_ball(self, mask: np.ndarray, paddle_y: np.ndarray, direction: float) -> None:
        if not _any(mask):  # most steps: no game meets a paddle
            return
        sin = _clip((self.by - paddle_y) / REACH, -1.0, 1.0) * BOUNCE_SIN
        speed = np.minimum(self.speed * ACCEL, MAX_SPEED)
        self.speed = np.where(mask, speed, self.speed)
        self.vx = np.where(mask, direction * speed * np.sqrt(1.0 - sin * sin), self.vx)
        self.vy = np.where(mask, speed * sin, self.vy)

    def step(self, actions):
        actions = np.asarray(actions)
        half = PADDLE_H / 2
        self.py = _clip(self.py + self._dy[actions], half, HEIGHT - half)
        if self.opponent == "cpu":
            self.oy = _clip(self.oy + _clip(self.by - self.oy, -CPU_SPEED, CPU_SPEED), half, HEIGHT - half)

        self.bx = self.bx + self.vx
        by = self.by + self.vy
        top, bottom = by < BALL_R, by > HEIGHT - BALL_R
        wall = top | bottom
        if _any(wall):
            by = np.where(top, 2 * BALL_R - by, np.where(bottom, 2 * (HEIGHT - BALL_R) - by, by))
            self.vy = np.where(wall, -self.vy, self.vy)
        self.by = by

        right = (self.vx > 0) & (self.bx + BALL_R >= RIGHT_FACE)
        left = (self.vx < 0) & (self.bx - BALL_R <= LEFT_FACE)
        hit = right & (np.abs(self.by - self.py) <= REACH)
        miss = right & ~hit
        if self.opponent == "wall":
            bounce, won = left, np.zeros_like(left)
            self.vx = np.where(left, -self.vx, self.vx)
        else:
            bounce = left & (np.abs(self.by - self.oy) <= REACH)
            won = left & ~bounce
            self._return_ball(bounce, self.oy, 1.0)
        self.bx = np.where(hit, RIGHT_FACE - BALL_R, np.where(bounce, LEFT_FACE + BALL_R, self.bx))
        self._return_ball(hit, self.py, -1.0)
        self.hits += hit
        self.misses += miss
        self.score[:, 1] += miss
        self.score[:, 0] += won
        if self.reward_mode == "hits":
            reward = hit * 1.0 - miss
        else:
            reward = won * 1.0 - miss
        point = miss | won
        if _any(point):
            self._serve(point)
        event = hit * 1 + miss * 2 + won * 3
        terminated = (self.score.max(axis=1) >= WIN_POINTS) if self.episodic else np.zeros(self.num_envs, bool)
        info = self._info(event)
        obs = self._obs()
        if _any(terminated):  # same-step autoreset: a finished game starts afresh in this very step
            info["final_obs"], info["_final_obs"] = obs, terminated.copy()
            self._reset_done(terminated)
            obs = self._obs()
        return obs, reward, terminated, np.zeros(self.num_envs, bool), info

    def _reset_done(self, done: np.ndarray) -> None:
        self.py = np.where(done, HEIGHT / 2, self.py)
        self.oy = np.where(done, HEIGHT / 2, self.oy)
        self.score[done] = 0
        self.hits[done] = 0
        self.misses[done] = 0
        self._refill(np.flatnonzero(done))  # as PongEnv.reset() draws a fresh block
        self._serve(done)

    def _obs(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return _pixels(self.bx, self.by, self.py, self.oy, self.opponent == "wall")
        obs = np.empty((self.num_envs, 6), np.float32)  # each column rounded to float32 as it is stored
        obs[:, 0] = self.bx * (2 / WIDTH) - 1
        obs[:, 1] = self.by * (2 / HEIGHT) - 1
        obs[:, 2] = self.vx / MAX_SPEED
        obs[:, 3] = self.vy / MAX_SPEED
        obs[:, 4] = self.py * (2 / HEIGHT) - 1
        obs[:, 5] = 0.0 if self.opponent == "wall" else self.oy * (2 / HEIGHT) - 1
        return obs

    def _info(self, event: np.ndarray) -> dict[str, Any]:
        return {"event": self._events[event], "score": self.score.copy(), "hits": self.hits.copy(),
                "misses": self.misses.copy()}

    _STATE = ("bx", "by", "vx", "vy", "speed", "py", "oy", "score", "hits", "misses", "_sin", "_dir",
              "_serve_i")  # what a checkpoint holds

    def render(self):
        """The first game's pixel observation, for a quick look (full rendering: use PongEnv)."""
        return np.repeat(_pixels(self.bx[:1], self.by[:1], self.py[:1], self.oy[:1],
                                 self.opponent == "wall")[0][..., None], 3, axis=-1)
