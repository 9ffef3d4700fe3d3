"""The live window of train.py and watch.py: one lifetime's game beside its network, while it learns.

    view = GameView(single_env)                       # draws the game (its draw(), else rgb_array)
    live = LiveWindow(view, agent, lifetime=0, fps=60, record="run.gif")
    for t in ...:                                     # the training loop
        ...env.step, learner.step...
        if not live.step(t, reward_of_that_lifetime):
            live = None                               # closed: training goes on headless

Left: the game. Right (the network panel): the last hidden layer's spike raster over the last few
hundred ticks (``agent.spikes``), the action probabilities as bars (the sampled action lit), for
image and grid games what the agent sees (its encoded input ``agent.x``, one tile per channel: the
frame in gray, ON events green, OFF events red), and a trace of the reward rate. Keys: space pauses, + and - change how many steps run between frames
(from 1, the game's own speed at ``fps`` frames per second, up to unthrottled: learning runs flat
out and the window redraws at most ``fps`` times a second), n toggles the network panel, Esc or
closing the window closes it. ``record`` writes the drawn frames, at the window's full size, to a
.gif (Pillow) or .mp4 (imageio with ffmpeg): every frame, or every ``record_every``-th.

Nothing here touches the learning: the window reads the agent's buffers after each step.
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Callable

import numpy as np

from tracerl.envs.draw import draw_text

PANEL_W = 380  # width of the network panel, pixels
RASTER_TICKS = 300  # ticks shown in the spike raster
TRACE_POINTS = 300  # points of the reward-rate trace
TRACE_EVERY = 100  # env steps per point of the trace (each point: mean reward over them)
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 0)  # steps per frame; 0: unthrottled
ACTION_NAMES = {  # bar labels of the bundled games and a few classics; others show 0, 1, 2, ...
    "tracerl/Pong-v0": ("stay", "up", "down"),
    "tracerl/FlappyBird-v0": ("nothing", "flap"),
    "CartPole-v1": ("left", "right"),
    "Acrobot-v1": ("-1", "0", "+1"),
    "MountainCar-v0": ("left", "none", "right"),
    "LunarLander-v3": ("none", "left", "main", "right"),
    "MinAtar/Breakout-v1": ("stay", "left", "right"),  # v1: MinAtar's minimal action sets
    "MinAtar/SpaceInvaders-v1": ("stay", "left", "right", "fire"),
    "MinAtar/Freeway-v1": ("stay", "up", "down"),
}
SEEN_H = 118  # height of the "what it sees" tiles and their caption, for agents with a picture encoder
SEEN_COLOURS = {"frame": (235, 235, 235), "on": (90, 220, 120), "off": (240, 100, 90)}
TRACE_MIN_H = 60  # the reward-rate trace's least height, pixels
FOOTER_H = 46  # below the trace: its caption (~16 px) and the keys line (~22 px), with gaps
BG, FG, DIM, ACCENT = (18, 20, 28), (230, 230, 230), (120, 126, 140), (90, 200, 240)


def check_record_path(path: str) -> None:
    """Raise ValueError (one line, what to do) unless ``path`` can be recorded here."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".gif":
        try:
            import PIL  # noqa: F401
        except ImportError:
            raise ValueError(f"recording {path!r} needs Pillow: pip install pillow") from None
    elif ext == ".mp4":
        try:
            import imageio.v2  # noqa: F401
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise ValueError(f"recording {path!r} needs imageio with ffmpeg: pip install 'tracerl[mp4]' "
                             f"(or pip install 'imageio[ffmpeg]'), or record a .gif") from None
    else:
        raise ValueError(f"cannot record {path!r}; allowed: a .gif or .mp4 file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot record {path!r}: folder {folder!r} does not exist")


class Recorder:
    """Frames (H, W, 3) uint8 -> a .gif (kept in memory, written at close) or an .mp4 (streamed).

    Every ``every``-th frame is kept, at full size, so the window's text reads as on screen. A GIF
    frame is quantised to 128 colours (Pillow's fast octree) and held zlib-compressed (~20 kB for
    the 780 x 420 Pong window); a GIF plays each frame for ``every / fps`` seconds, rounded to
    GIF's 10 ms and at least 20 ms (browsers slow shorter delays down to 100 ms). GIFs suit short
    clips (at most GIF_MAX_FRAMES frames); use .mp4 for long ones.
    """

    GIF_MAX_FRAMES = 6000

    def __init__(self, path: str, fps: int, every: int = 1):
        check_record_path(path)
        self.path, self.fps, self.stride, self.frames, self.count = path, fps, max(1, int(every)), [], 0
        self.gif = path.lower().endswith(".gif")
        self.size = None
        self.writer = None
        if not self.gif:
            import imageio.v2 as imageio

            self.writer = imageio.get_writer(path, fps=max(1, round(fps / self.stride)), macro_block_size=2)

    def add(self, frame: np.ndarray) -> None:
        self.count += 1
        if (self.count - 1) % self.stride:
            return
        if self.writer is not None:
            self.writer.append_data(frame)
        elif len(self.frames) < self.GIF_MAX_FRAMES:
            import zlib

            from PIL import Image

            img = Image.fromarray(frame).quantize(colors=128, method=Image.Quantize.FASTOCTREE)
            self.size = img.size
            self.frames.append((zlib.compress(img.tobytes(), 1), img.getpalette()))

    def close(self) -> int:
        """Write the file; returns the number of frames in it."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            return (self.count + self.stride - 1) // self.stride
        if not self.frames:
            return 0
        import zlib

        from PIL import Image

        def image(data: bytes, palette: list[int]) -> Image.Image:
            img = Image.frombytes("P", self.size, zlib.decompress(data))
            img.putpalette(palette)
            return img

        images = (image(*f) for f in self.frames[1:])
        ms = max(20, int(round(1000 * self.stride / self.fps / 10)) * 10)
        image(*self.frames[0]).save(self.path, save_all=True, append_images=images, duration=ms, loop=0)
        n, self.frames = len(self.frames), []
        return n


GAME_MIN_H = 300  # a small game's frames (MinAtar's 10 x 10) are scaled up to at least this height, pixels


def as_rgb8(frame: np.ndarray) -> np.ndarray:
    """An ``rgb_array`` frame as uint8 RGB: float frames (MinAtar's, in [0, 1]) are scaled by 255."""
    if frame.dtype != np.uint8:
        frame = np.clip(np.asarray(frame, np.float64) * 255.0, 0, 255).astype(np.uint8)
    return frame[..., :3] if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=-1)


class GameView:
    """Draws one game on a pygame surface: its own ``draw(surface)`` where it has one (the bundled
    games), else its ``render()`` frames, scaled up by a whole factor where they are small; the env
    must be made with ``render_mode="rgb_array"``."""

    def __init__(self, env):
        frame = env.render()
        self.env = env
        self._draw = getattr(env.unwrapped, "draw", None)
        h, w = frame.shape[:2] if frame is not None else (0, 0)
        self.scale = 1 if self._draw is not None or h == 0 else max(1, -(-GAME_MIN_H // h))
        self.size = (w * self.scale, h * self.scale)

    def draw(self, surface) -> None:
        import pygame

        if self._draw is not None:
            self._draw(surface)
        else:
            frame = self.env.render()
            if frame is not None:
                rgb = as_rgb8(frame).repeat(self.scale, axis=0).repeat(self.scale, axis=1)
                pygame.surfarray.blit_array(surface, np.transpose(rgb, (1, 0, 2)))


class LiveWindow:
    """A pygame window with one lifetime's game and network; see the module docstring.

    Args:
        game: the shown game (:class:`GameView`).
        agent: the policy (its ``pi``, ``action`` and, for spiking agents, ``spikes`` are shown).
        lifetime: which of the agent's N lifetimes the game belongs to.
        env_id: for the action labels; title: the window caption.
        fps: frames per second at most; steps_per_frame: the starting speed (0: unthrottled).
        record: a .gif or .mp4 path, or None; record_every: keep every this many drawn frames.
        should_stop: polled while paused, so Ctrl-C still ends a paused run.
        notice: a line shown over the first frames until the first step arrives (train.py: that
            torch.compile is at work, which freezes the window for 15-60 s).
        label: the lifetime's number as shown (default ``lifetime``; watch.py plays lifetime K of
            a checkpoint as the only lifetime of its agent).
    """

    def __init__(self, game: GameView, agent, lifetime: int = 0, env_id: str = "", title: str = "tracerl",
                 fps: int = 60, steps_per_frame: int = 1, record: str | None = None,
                 should_stop: Callable[[], bool] | None = None, notice: str | None = None, record_every: int = 1,
                 label: int | None = None):
        import pygame

        self.game, self.agent, self.k, self.fps = game, agent, lifetime, fps
        self.label = lifetime if label is None else label
        self.steps_per_frame = steps_per_frame
        self.should_stop = should_stop or (lambda: False)
        self.paused, self.panel, self.closed = False, True, False
        self.notice = notice
        self.recorded = 0  # frames in the recording, once closed
        self.recorder = Recorder(record, fps, record_every) if record else None
        names = ACTION_NAMES.get(env_id, ())
        self.action_names = [names[a] if a < len(names) else str(a) for a in range(agent.n_actions)]
        spikes = getattr(agent, "spikes", None)
        self.raster = None if spikes is None else np.zeros((RASTER_TICKS, spikes.shape[-1]), bool)
        self.raster_i = 0
        encoder = getattr(agent, "encoder", None)
        self.seen_shape = getattr(encoder, "out_shape", None) if hasattr(agent, "x") else None
        if self.seen_shape is not None:
            self.seen_kinds = getattr(encoder, "channel_kinds", ("frame",) * self.seen_shape[0])
        self.trace: deque[float] = deque(maxlen=TRACE_POINTS)
        self.trace_sum, self.trace_n = 0.0, 0
        self.t, self.since_frame, self.last_frame = 0, 0, 0.0
        gw, gh = game.size
        w, h = gw + PANEL_W, max(gh, 420, self.trace_top() + TRACE_MIN_H + FOOTER_H)
        self.size = (w + w % 2, h + h % 2)  # even: video encoders need it
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption(title)
        self.window = pygame.display.set_mode(self.size)
        self.game_surface = pygame.Surface(game.size) if game.size[0] else None
        self.clock = pygame.time.Clock()
        self.draw()

    # -- called by the training loop after every step ------------------------------------------
    def step(self, t: int, reward: float) -> bool:
        """Take note of step ``t`` of the shown lifetime; draw when a frame is due. False once closed."""
        self.t, self.notice = t, None
        if self.raster is not None:  # every step: the raster shows every tick
            z = self.agent.spikes[:, self.k].detach().numpy()  # (K, H)
            i, k = self.raster_i, len(z)
            if i + k <= RASTER_TICKS:
                self.raster[i:i + k] = z
            else:
                self.raster[(i + np.arange(k)) % RASTER_TICKS] = z
            self.raster_i = (i + k) % RASTER_TICKS
        self.trace_sum += reward
        self.trace_n += 1
        if self.trace_n == TRACE_EVERY:
            self.trace.append(self.trace_sum / TRACE_EVERY)
            self.trace_sum, self.trace_n = 0.0, 0
        self.since_frame += 1
        if self.steps_per_frame:
            if self.since_frame < self.steps_per_frame:
                return True
        elif time.perf_counter() - self.last_frame < 1.0 / self.fps:
            return True
        self.since_frame = 0
        self.frame()
        while self.paused and not self.closed and not self.should_stop():
            self.frame()
        return not self.closed

    def frame(self) -> None:
        """Handle keys, draw, record, and keep to ``fps`` (unless unthrottled)."""
        self.handle_events()
        if self.closed:
            return
        self.draw()
        if self.steps_per_frame or self.paused:
            self.clock.tick(self.fps)
        self.last_frame = time.perf_counter()

    def handle_events(self) -> None:
        import pygame

        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.close()
                return
            if event.type != pygame.KEYDOWN:
                continue
            if event.key == pygame.K_ESCAPE:
                self.close()
                return
            if event.key == pygame.K_SPACE:
                self.paused = not self.paused
            elif event.key == pygame.K_n:
                self.panel = not self.panel
            elif event.unicode in ("+", "=") or event.key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
                self.speed(+1)
            elif event.unicode == "-" or event.key in (pygame.K_MINUS, pygame.K_KP_MINUS):
                self.speed(-1)

    def speed(self, direction: int) -> None:
        """One level faster (+1) or slower (-1) along SPEEDS."""
        ranks = [s if s else float("inf") for s in SPEEDS]
        now = self.steps_per_frame or float("inf")
        if direction > 0:
            faster = [s for s, r in zip(SPEEDS, ranks) if r > now]
            self.steps_per_frame = faster[0] if faster else self.steps_per_frame
        else:
            slower = [s for s, r in zip(SPEEDS, ranks) if r < now]
            self.steps_per_frame = slower[-1] if slower else self.steps_per_frame
        self.since_frame = 0

    # -- drawing ------------------------------------------------------------------------------
    def draw(self) -> None:
        import pygame

        self.window.fill(BG)
        if self.game_surface is not None:
            self.game.draw(self.game_surface)
            self.window.blit(self.game_surface, (0, 0))
        else:
            draw_text(self.window, "this environment has no rgb_array rendering", (10, 10), 20, DIM)
        x0 = self.game.size[0] + 10
        speed = f"{self.steps_per_frame} step/frame" if self.steps_per_frame else "unthrottled"
        draw_text(self.window, f"step {self.t:,}   lifetime {self.label}   {speed}" + ("   PAUSED" if self.paused else ""),
                  (x0, 8), 20)
        # The panel, top to bottom: raster, bars, trace and its caption, then the keys line (FOOTER_H);
        # the trace takes what is left, so its caption never reaches the keys.
        keys_y = self.size[1] - 22
        if self.panel:
            self.draw_raster(pygame.Rect(x0, 34, PANEL_W - 20, 150))
            self.draw_bars(pygame.Rect(x0, 200, PANEL_W - 20, 22 * self.agent.n_actions))
            if self.seen_shape is not None:
                self.draw_seen(pygame.Rect(x0, 206 + 22 * self.agent.n_actions, PANEL_W - 20, SEEN_H - 20))
            top = self.trace_top()
            self.draw_trace(pygame.Rect(x0, top, PANEL_W - 20, self.size[1] - FOOTER_H - top))
        draw_text(self.window, "space pause   + / - speed   n panel   Esc close", (x0, keys_y), 18, DIM)
        if self.notice:
            self.draw_notice(self.notice)
        pygame.display.flip()
        if self.recorder is not None:
            frame = pygame.surfarray.array3d(self.window)
            self.recorder.add(np.ascontiguousarray(np.transpose(frame, (1, 0, 2))))

    def trace_top(self) -> int:
        return 220 + 22 * self.agent.n_actions + (SEEN_H if self.seen_shape is not None else 0)

    def draw_notice(self, text: str) -> None:
        """``text`` on a dark band across the middle of the window."""
        import pygame

        band = pygame.Rect(0, self.size[1] // 2 - 30, self.size[0], 60)
        shade = pygame.Surface(band.size, pygame.SRCALPHA)
        shade.fill((0, 0, 0, 235))
        self.window.blit(shade, band.topleft)
        draw_text(self.window, text, (band.centerx, band.y + 10), 24, FG, align="center")
        draw_text(self.window, "the window answers again once the first step is done", (band.centerx, band.y + 36),
                  18, DIM, align="center")

    def draw_raster(self, rect) -> None:
        import pygame

        if self.raster is None:
            draw_text(self.window, "no spikes: not a spiking agent", rect.topleft, 18, DIM)
            return
        order = (self.raster_i + np.arange(RASTER_TICKS)) % RASTER_TICKS  # oldest tick first
        lit = self.raster[order]  # (ticks, neurons): x is time, y is the neuron
        img = np.empty(lit.shape + (3,), np.uint8)
        img[:] = (30, 34, 46)
        img[lit] = (250, 220, 120)
        self.window.blit(pygame.transform.scale(pygame.surfarray.make_surface(img), rect.size), rect.topleft)
        draw_text(self.window, f"spikes, last {RASTER_TICKS} ticks x {lit.shape[1]} neurons",
                  (rect.x, rect.bottom + 2), 16, DIM)

    def draw_bars(self, rect) -> None:
        import pygame

        pi = self.agent.pi[self.k].detach().numpy()
        chosen = int(self.agent.action[self.k])
        for a, p in enumerate(pi):
            y = rect.y + 22 * a
            draw_text(self.window, self.action_names[a][:8], (rect.x, y + 2), 18, FG if a == chosen else DIM)
            width = int((rect.w - 130) * float(p))
            pygame.draw.rect(self.window, ACCENT if a == chosen else DIM, (rect.x + 70, y + 3, width, 14))
            draw_text(self.window, f"{p:.2f}", (rect.right - 50, y + 2), 18)

    def draw_seen(self, rect) -> None:
        """The encoded input of this step, one tile per channel, as many to a row as fit."""
        import pygame

        c, h, w = self.seen_shape
        cols = min(c, 8)
        rows = -(-c // cols)
        s = max(1, min((rect.w - 4 * (cols - 1)) // (cols * w), (rect.h - 4 * (rows - 1)) // (rows * h)))
        x = np.clip(self.agent.x[self.k].detach().numpy().reshape(c, h, w), 0.0, 1.0)
        for i in range(c):
            colour = np.asarray(SEEN_COLOURS.get(self.seen_kinds[i], SEEN_COLOURS["frame"]), np.float64)
            img = ((30, 34, 46) + x[i].T[..., None] * (colour - (30, 34, 46))).astype(np.uint8)  # (W, H, 3)
            tile = pygame.transform.scale(pygame.surfarray.make_surface(img), (w * s, h * s))
            self.window.blit(tile, (rect.x + (i % cols) * (w * s + 4), rect.y + (i // cols) * (h * s + 4)))
        draw_text(self.window, f"what it sees: {c} x {h}x{w} (frame gray, ON green, OFF red)",
                  (rect.x, rect.y + rows * (h * s + 4)), 16, DIM)

    def draw_trace(self, rect) -> None:
        import pygame

        pygame.draw.rect(self.window, (30, 34, 46), rect)
        draw_text(self.window, f"reward rate (mean per {TRACE_EVERY} steps)", (rect.x, rect.bottom + 3), 16, DIM)
        if len(self.trace) < 2:
            return
        ys = np.asarray(self.trace)
        lo, hi = min(ys.min(), 0.0), max(ys.max(), 0.0)
        span = (hi - lo) or 1.0
        to_y = lambda v: rect.bottom - 4 - (v - lo) / span * (rect.h - 8)  # noqa: E731
        pygame.draw.line(self.window, DIM, (rect.x, to_y(0.0)), (rect.right, to_y(0.0)))
        xs = rect.right - 1 - np.arange(len(ys))[::-1] * (rect.w - 1) / (TRACE_POINTS - 1)  # newest on the right
        pygame.draw.lines(self.window, ACCENT, False, [(float(x), float(to_y(v))) for x, v in zip(xs, ys)], 2)
        draw_text(self.window, f"{ys[-1]:+.3f}", (rect.right - 60, rect.y + 4), 18)

    def close(self) -> None:
        """Close the window and write the recording (``recorded`` then holds its frame count)."""
        if self.closed:
            return
        import pygame

        self.closed = True
        if self.recorder is not None:
            self.recorded = self.recorder.close()
        pygame.display.quit()
