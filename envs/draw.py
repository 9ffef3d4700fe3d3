"""Drawing helpers shared by the bundled games.

Two independent pieces:

- :func:`raster_rects` turns axis-aligned rectangles into small grayscale images with numpy alone.
  It makes the ``obs_type="pixels"`` observations, for one game or a batch of N, without pygame,
  so a headless step never touches a display.
- :class:`PygameView` owns the pygame surface, window and clock behind ``render()``. pygame is
  imported lazily, on the first render, as in Gymnasium's classic-control games.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def raster_rects(rects: np.ndarray, shade: np.ndarray, height: int, width: int, scale: float) -> np.ndarray:
    """Rasterise rectangles into uint8 images of shape (N, height, width).

    Args:
        rects: (N, R, 4) float array of rectangles ``x0, y0, x1, y1`` in game pixels, one row per
            rectangle and game. A rectangle with x1 <= x0 draws nothing.
        shade: (R,) uint8 gray level of each rectangle; where rectangles overlap the brighter wins.
        height, width: size of the image in cells; one cell covers ``scale`` x ``scale`` game pixels.

    A cell is lit when its centre lies inside the rectangle.
    """
    cy = (np.arange(height) + 0.5) * scale
    cx = (np.arange(width) + 0.5) * scale
    rows = (cy >= rects[..., 1:2]) & (cy < rects[..., 3:4])  # (N, R, height)
    cols = (cx >= rects[..., 0:1]) & (cx < rects[..., 2:3])  # (N, R, width)
    lit = rows[..., :, None] & cols[..., None, :]  # (N, R, height, width)
    return (lit * shade[None, :, None, None]).max(axis=1).astype(np.uint8)


class PygameView:
    """The pygame side of ``render()``: one surface, and a window plus clock in "human" mode."""

    def __init__(self, size: tuple[int, int], render_mode: str, fps: int, title: str):
        self.size, self.render_mode, self.fps, self.title = size, render_mode, fps, title
        self.surface = None
        self.window = None
        self.clock = None

    def render(self, draw: Callable) -> np.ndarray | None:
        """Call ``draw(surface)``, then show it ("human") or return it as (H, W, 3) uint8 ("rgb_array")."""
        import pygame  # lazy: only rendering needs pygame

        if self.surface is None:
            self.surface = pygame.Surface(self.size)
        draw(self.surface)
        if self.render_mode == "human":
            if self.window is None:
                pygame.display.init()
                pygame.display.set_caption(self.title)
                self.window = pygame.display.set_mode(self.size)
                self.clock = pygame.time.Clock()
            pygame.event.pump()
            self.window.blit(self.surface, (0, 0))
            pygame.display.flip()
            self.clock.tick(self.fps)
            return None
        return np.transpose(pygame.surfarray.array3d(self.surface), (1, 0, 2)).copy()

    def close(self) -> None:
        if self.window is not None:
            import pygame

            pygame.display.quit()
            self.window = None


def draw_text(surface, text: str, pos: tuple[int, int], size: int = 24, color=(230, 230, 230),
              align: str = "left"):
    """Blit ``text`` with pygame's bundled default font; ``pos`` is its top-left corner (``align="left"``),
    top-right corner ("right") or top centre ("center"). Returns the rectangle drawn."""
    import pygame

    if not pygame.font.get_init():  # first use, or after pygame.quit() (Gymnasium's classic games call it)
        pygame.font.init()
        _fonts.clear()  # fonts of an earlier font module crash pygame when used
    font = _fonts.get(size) or _fonts.setdefault(size, pygame.font.Font(None, size))
    image = font.render(text, True, color)
    x, y = pos
    x -= {"left": 0, "center": image.get_width() // 2, "right": image.get_width()}[align]
    return surface.blit(image, (x, y))


_fonts: dict = {}
