"""The games of a run: N copies behind Gymnasium's vector API, the learning reward, and each
game's measure (one registry, :data:`GAMES`, read by train.py's logs, the progress bar, sweeps,
compare.py and the benchmarks).

    env = make_env("pong", n=5)                 # bundled games natively batched, same-step autoreset
    measures = Measures(5)
    measures.update(reward, terminated | truncated, info)
    measures.since_last()                       # reward rate since the last call, the games' measures
"""

from __future__ import annotations

from functools import partial
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from tracerl import envs

BUNDLED = set(envs.BUNDLED)


PREPROCESS = ("auto", "atari", "none")
# The usual Atari preprocessing (Machado et al. 2018; SB3's AtariWrapper): 30 random no-ops at a
# reset, each action held 4 frames with the last two max-pooled, grayscale, 84x84. No frame
# stacking: the encoder's ON / OFF events and the neurons' own memory carry the motion.
ATARI = dict(noop_max=30, frame_skip=4, screen_size=84, terminal_on_life_loss=False, grayscale_obs=True)


def make_env(name: str, n: int = 1, singles: bool = False, preprocess: str = "auto",
             **env_kwargs) -> gym.vector.VectorEnv:
    """N copies of an environment behind Gymnasium's vector API, with same-step autoreset.

    Bundled games run natively batched for N >= 4 (unless ``singles``: N single games, so that one
    can be drawn), else as N single games; other ids as a SyncVectorEnv. ``env.reset(seed=s)``
    seeds game i with ``s + i``, as lifetime i of an agent seeded s is. Every kind gives the same
    trajectories.

    ``preprocess`` (an env setting, ``--set env.preprocess=none``): ``"atari"`` wraps each game in
    Gymnasium's AtariPreprocessing with :data:`ATARI` (the game made with ``frameskip=1``, as the
    wrapper skips frames itself); ``"auto"`` does so for ALE ids (``ALE/Pong-v5``), ``"none"`` never.
    """
    if preprocess not in PREPROCESS:
        raise ValueError(f"unknown preprocess {preprocess!r}; allowed: {', '.join(map(repr, PREPROCESS))}")
    env_id = envs.resolve_id(name)
    ale = env_id.rpartition(":")[2].startswith("ALE/")
    if preprocess == "atari" and not ale:
        raise ValueError(f"preprocess 'atari' needs an ALE game (ale_py:ALE/Pong-v5, ...), not {name!r}")
    wrappers = []
    if ale and preprocess != "none":
        from gymnasium.wrappers import AtariPreprocessing

        wrappers = [partial(AtariPreprocessing, **ATARI)]
        env_kwargs = {"frameskip": 1, **env_kwargs}
    if env_id in BUNDLED and n >= 4 and not singles:
        return gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **env_kwargs)
    if env_id in BUNDLED:
        return SameStepSyncVectorEnv([partial(gym.make, env_id, **env_kwargs) for _ in range(n)],
                                     autoreset_mode=AutoresetMode.SAME_STEP)
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", wrappers=wrappers,
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **env_kwargs)


class SameStepSyncVectorEnv(gym.vector.SyncVectorEnv):
    """SyncVectorEnv with same-step autoreset over games with a Box observation, stepped with less
    generic work: the same returns, value for value, as ``SyncVectorEnv.step`` (~20 us less per step,
    a few per cent of a whole learning step at N=1)."""

    def step(self, actions):
        if self.autoreset_mode != AutoresetMode.SAME_STEP:
            return super().step(actions)
        infos = {}
        for i, env in enumerate(self.envs):
            obs, self._rewards[i], self._terminations[i], self._truncations[i], info = env.step(actions[i])
            if self._terminations[i] or self._truncations[i]:
                infos = self._add_info(infos, {"final_obs": obs, "final_info": info}, i)
                obs, info = env.reset()
            self._env_obs[i] = obs
            infos = self._add_info(infos, info, i)
        self._observations = np.stack(self._env_obs, out=self._observations)
        self._autoreset_envs = np.logical_or(self._terminations, self._truncations)
        return (self._observations.copy() if self.copy else self._observations, self._rewards.copy(),
                self._terminations.copy(), self._truncations.copy(), infos)


@dataclass(frozen=True)
class GameMeasure:
    """How a game is judged: the figure :class:`Measures` computes and where it is shown.

    key: the name in ``Measures.game()``; tag: its TensorBoard tag; first: its copy in the group
    that TensorBoard's first screen opens on; label: the progress bar's name; final_steps: the
    final figure of a run is the mean of the values logged over its last this many steps
    (compare.py, bench_learning.py; 0: the last value).
    """

    key: str
    tag: str
    first: str
    label: str
    final_steps: int = 0


# Each game's measure, the one table. Other envs are judged by their episodic return.
GAMES = {
    "tracerl/Pong-v0": GameMeasure("hit_rate", "pong/hit_rate", "1_game/hit_rate", "hit rate", 20_000),
    "tracerl/FlappyBird-v0": GameMeasure("pipes_per_life", "flappy/pipes_per_life", "1_game/pipes_per_life",
                                         "pipes/life", 50_000),
}
RETURN = GameMeasure("return_last100", "rollout/ep_rew_mean", "1_game/return_last100", "return")
EPISODIC = GameMeasure("episodic_return", "charts/episodic_return", "", "return")  # per log point (CleanRL's tag)
REWARD_RATE = GameMeasure("reward_rate", "charts/reward_rate", "1_game/reward_rate", "reward/step")
GAME_TAGS = {m.key: m.tag for m in GAMES.values()}  # Measures.game() key -> TensorBoard tag
# The measure compare.py picks for a set of runs: the first tag they all have.
AUTO_TAGS = (*(m.tag for m in GAMES.values()), RETURN.tag, EPISODIC.tag)


def measure_of(env_id: str) -> GameMeasure:
    """The game's measure; other envs: the episodic return (:data:`EPISODIC`)."""
    return GAMES.get(env_id, EPISODIC)


def final_steps(tag: str) -> int:
    """Over how many last steps a run's final figure of ``tag`` is taken (0: its last value)."""
    return next((m.final_steps for m in GAMES.values() if m.tag == tag), 0)

EPISODES = 100  # trailing means, and the first / best figures, are over 100 episodes
ARRIVALS = 100  # Pong: the hit rate is over each lifetime's last 100 ball arrivals at its paddle
LIVES = 20  # Flappy Bird: pipes per life are over each lifetime's last 20 lives


def ring_push(buf: np.ndarray, count: np.ndarray, mask: np.ndarray, values: np.ndarray) -> None:
    """Append ``values[i]`` to lifetime i's ring ``buf[i]`` (K slots, oldest overwritten) where ``mask[i]``.

    ``count`` (N,) is how many values each ring has taken in all; slot ``count % K`` is the next.
    """
    i = np.flatnonzero(mask)
    if i.size:
        buf[i, count[i] % buf.shape[1]] = values[i]
        count[i] += 1


def ring_sum(buf: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) sum and number of the values each ring holds (unwritten slots are 0 and not counted)."""
    return buf.sum(1), np.minimum(count, buf.shape[1])


class Measures:
    """Per-lifetime running counts: episodes, rewards, and the bundled games' measures.

    ``since_last()`` returns the figures since its last call. Finished episodes are kept as
    (length, return) in fixed arrays: the last ``EPISODES`` (a ring, for trailing means), the
    first ``EPISODES``, their sums over the lifetime, and the best mean return of ``EPISODES``
    consecutive episodes, so memory stays constant however many episodes a lifetime plays.

    The games' measures are over each lifetime's last events, not over the steps between two log
    points, so they read right at any skill and hold steady (1,000 steps see ~11 Pong arrivals,
    and a Flappy bird that passes 100 pipes a life crashes in few of them at all):

    - Pong ``hit_rate``: hits / arrivals over the last ``ARRIVALS`` ball arrivals (hit or miss).
    - Flappy Bird ``pipes_per_life``: the mean pipes of the last ``LIVES`` lives (a life ends at a
      crash). The life going on counts too once it has passed more pipes than that mean (and alone
      before the first crash), so a bird that stops crashing shows a growing figure, not the pipe
      count of some stretch of steps: with lives p_1..p_k and the current life's c pipes,
      ``mean(p) if c <= mean(p) else (sum(p) + c) / (k + 1)``.

    Both are (N, K) ring buffers updated with array operations: memory constant over a lifetime.
    ``game_events=False`` (any game not bundled, :func:`counts_events`) reads no events at all, so a
    game of someone else's that puts ``event="hit"`` in its info is not judged as Pong.
    """

    def __init__(self, n: int, game_events: bool = True):
        self.n, self.game_events = n, game_events
        self.ep_len = np.zeros(n, np.int64)
        self.ep_ret = np.zeros(n)
        self.n_episodes = np.zeros(n, np.int64)
        self.recent = np.zeros((n, EPISODES, 2))  # (length, return) of the last episodes, a ring
        self.first = np.zeros((n, EPISODES, 2))  # of the first ones
        self.totals = np.zeros((n, 2))  # summed over every episode
        self.best = np.full(n, -np.inf)  # best mean return of EPISODES consecutive episodes
        self.arrivals = np.zeros((n, ARRIVALS))  # 1 hit, 0 miss
        self.n_arrivals = np.zeros(n, np.int64)
        self.lives = np.zeros((n, LIVES))  # pipes of each finished life
        self.n_lives = np.zeros(n, np.int64)
        self.life_pipes = np.zeros(n)  # pipes of the life going on
        self._zero()

    def _zero(self) -> None:
        self.steps = 0
        self.reward = np.zeros(self.n)

    def update(self, reward: np.ndarray, done: np.ndarray, info: dict) -> None:
        self.steps += 1
        self.reward += reward
        self.ep_len += 1
        self.ep_ret += reward
        ev = info.get("event") if self.game_events else None  # (N,) names or None (falsy)
        if self.game_events and "_final_info" in info:  # same-step autoreset: a finished game's event is in final_info
            ev = np.where(info["_final_info"], info["final_info"].get("event", None), ev)
        if ev is not None and np.count_nonzero(ev):  # most steps have no event
            self.events(ev)
        if not np.count_nonzero(done):  # most steps end no episode
            return
        self.finish(done, np.stack([self.ep_len, self.ep_ret], 1).astype(np.float64))
        self.ep_len[done] = 0
        self.ep_ret[done] = 0.0

    def finish(self, done: np.ndarray, episode: np.ndarray) -> None:
        """Record the (N, 2) (length, return) of the lifetimes whose episode ended (``done``)."""
        i = np.flatnonzero(done & (self.n_episodes < EPISODES))
        self.first[i, self.n_episodes[i]] = episode[i]
        self.totals[done] += episode[done]
        ring_push(self.recent, self.n_episodes, done, episode)
        full = done & (self.n_episodes >= EPISODES)
        self.best[full] = np.maximum(self.best[full], self.recent[full, :, 1].mean(1))

    def load_state(self, state: dict) -> None:
        """Take a checkpoint's ``vars(measures)``; one written before the fixed arrays (a list of
        every episode per lifetime, ``episodes``) is replayed into them."""
        state = dict(state)
        old = state.pop("episodes", None)
        self.__dict__.update(state)
        if old is not None:
            for j in range(max(map(len, old), default=0)):
                done = np.array([j < len(eps) for eps in old])
                episode = np.array([eps[j] if j < len(eps) else (0, 0.0) for eps in old], np.float64)
                self.finish(done, episode)

    def events(self, ev: np.ndarray) -> None:
        """Take the step's (N,) event names: Pong's hit / miss, Flappy Bird's pipe / crash."""
        hit, miss = ev == "hit", ev == "miss"
        ring_push(self.arrivals, self.n_arrivals, hit | miss, hit.astype(np.float64))
        crash = ev == "crash"
        self.life_pipes += ev == "pipe"
        ring_push(self.lives, self.n_lives, crash, self.life_pipes)
        self.life_pipes[crash] = 0.0

    def game(self) -> dict[str, np.ndarray]:
        """(N,) game measures so far: hit_rate (Pong), pipes_per_life (Flappy); see the class docstring."""
        out = {}
        if self.n_arrivals.any():
            hits, k = ring_sum(self.arrivals, self.n_arrivals)
            out["hit_rate"] = np.where(k > 0, hits / np.maximum(k, 1), np.nan)
        if self.n_lives.any() or self.life_pipes.any():
            pipes, k = ring_sum(self.lives, self.n_lives)
            c = self.life_pipes
            done_lives = np.where(k > 0, pipes / np.maximum(k, 1), -np.inf)
            out["pipes_per_life"] = np.where(c > done_lives, (pipes + c) / (k + 1), done_lives)
        return out

    def since_last(self) -> dict[str, np.ndarray]:
        """(N,) figures: reward_rate since the last call, and the game's measures (:meth:`game`)."""
        out = {"reward_rate": self.reward / max(self.steps, 1), **self.game()}
        self._zero()
        return out

    def trailing(self, k: int = EPISODES) -> tuple[np.ndarray, np.ndarray]:
        """Mean length and return of each lifetime's last k <= EPISODES episodes (nan before its first)."""
        back = np.arange(k)[None, :]
        idx = (self.n_episodes[:, None] - 1 - back) % EPISODES
        return self._mean(self.recent[np.arange(self.n)[:, None], idx], back < self.n_episodes[:, None])

    def opening(self, k: int = EPISODES) -> tuple[np.ndarray, np.ndarray]:
        """Mean length and return of each lifetime's first k <= EPISODES episodes (nan before its first)."""
        return self._mean(self.first[:, :k], np.arange(k)[None, :] < self.n_episodes[:, None])

    @staticmethod
    def _mean(episodes: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = valid.sum(1)
        sums = (episodes * valid[..., None]).sum(1)
        mean = np.where(count[:, None] > 0, sums / np.maximum(count, 1)[:, None], np.nan)
        return mean[:, 0], mean[:, 1]

    def episodic_summary(self) -> dict[str, np.ndarray]:
        """Per lifetime: the mean return of its first and of its last EPISODES episodes, and the
        best mean of EPISODES consecutive ones (of all its episodes where fewer finished; nan where none did)."""
        final = self.trailing()[1]
        best = np.where(self.n_episodes >= EPISODES, self.best, final)
        return {"first100_return": self.opening()[1], "final100_return": final, "best100": best}


def counts_events(env_or_id) -> bool:
    """Whether a game's info events (hit, miss, pipe, crash) are a bundled game's: an id, or a vector
    env (its spec's id, else its first game's)."""
    if isinstance(env_or_id, str):
        return env_or_id in GAMES
    spec = getattr(env_or_id, "spec", None) or getattr((getattr(env_or_id, "envs", None) or [None])[0], "spec", None)
    return spec is not None and spec.id in GAMES


def endless(config: dict) -> bool:
    """Whether a run's game is one never-ending life (a bundled game without ``episodic=True``): it
    never terminates, so it is measured by its game figures and has no failure to learn from."""
    return config["env"] in GAMES and not config["env_kwargs"].get("episodic", False)


def learning_reward(kind: str, reward: np.ndarray, terminated: np.ndarray) -> np.ndarray:
    """"env": the environment's reward; "failure": -1 when an episode terminates, else 0."""
    if kind == "env":
        return reward
    if kind == "failure":
        return -terminated.astype(np.float64)
    raise ValueError(f"unknown reward {kind!r}; allowed: 'env', 'failure'")
