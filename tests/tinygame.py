"""A tiny game in a package of its own, registered on import, as other packages register theirs:
``train.py --env tinygame:TinyImage-v0`` imports this module and makes TinyImage-v0.

TinyImage-v0: a 16 x 16 uint8 image with one lit column; the action (0 left, 1 right) that names
the lit half of the image is rewarded +1, the other -1; 20 steps to an episode.
"""

import gymnasium as gym
import numpy as np
from gymnasium import spaces

ID = "TinyImage-v0"


class TinyImageEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self):
        self.observation_space = spaces.Box(0, 255, (16, 16), np.uint8)
        self.action_space = spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        img = np.zeros((16, 16), np.uint8)
        img[:, self.col] = 255
        return img

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.col, self.t = int(self.np_random.integers(16)), 0
        return self._obs(), {}

    def step(self, action):
        reward = 1.0 if int(action) == int(self.col >= 8) else -1.0
        self.col, self.t = int(self.np_random.integers(16)), self.t + 1
        return self._obs(), reward, False, self.t >= 20, {}


if ID not in gym.registry:
    gym.register(id=ID, entry_point=TinyImageEnv)
