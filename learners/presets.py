"""Per-environment default settings, in one place: the ones the benchmarks measure.

Each preset has ``agent`` (SpikingPolicy / MLPPolicy keywords), ``learner`` (learner keywords),
``env`` (the game's own keywords, as ``--set env.KEY=VALUE`` gives them; ``{}`` if none) and
``reward``: "env" (the environment's reward) or "failure" (0 every step, -1 when the episode
terminates: CartPole's learning reward as a continuing lifetime). Values not given fall back to
the class defaults. A game may instead hold one preset per signal (Pong: greedy only).
``preset(env_id)`` returns DEFAULT for environments (or signals) without their own.
A game's preset is tuned for the observation its ``env`` names; a run that asks for another
(``env.obs_type``) gets the game's entry for that observation in PRESETS_BY_OBS, else DEFAULT.
"""

from __future__ import annotations

import copy

DEFAULT = {
    "agent": {"hidden": 128, "ticks": 4},
    # entropy None: 0.01, or 0.003 for greedy and for td from an image's dense layer (learners.common.default_entropy)
    "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": None, "reward_scale": True},
    "reward": "env",
    "env": {},
}

# What the greedy signal changes in DEFAULT. Without a critic only the trace carries credit back,
# so its horizon must reach from an action to the reward it earns; a short one learns fast and
# then stalls, a long one is slow and noisy. Widening it (lambda 0.9 -> 0.99, horizon 10 -> 100
# steps, over 50k steps) does best on CartPole's own reward: 475 at 100k in 4/5, fixed 0.98 in 3/5,
# fixed 0.9 in 0/5 (it stalls near 220). The larger step is safe because greedy's bound also sees
# the signal (EProp signal_bound). docs/greedy.md.
DEFAULT_GREEDY = {"trace_lambda": 0.9, "lambda_schedule": "linear", "lambda_end": 0.99, "lambda_steps": 50_000,
                  "lr": 0.03}
# Greedy's agent where no preset names one: ALIF neurons, whose threshold remembers the last ~25 steps'
# spikes. CartPole's own reward, 475 within 100k: 27 of 40 lifetimes against 18 of 40 with LIF (seeds
# 0-9, 100-109, 200-209, 300-309; 12 lifetimes reach it only with ALIF, 2 only with LIF); Acrobot at
# 300k, median of 5, -141.8 -> -112.0 (docs/greedy.md). A sharper softmax, T 0.7 (1): a sampled slip
# ends many CartPole lifetimes just short of 475; reached within 100k in 64 of 80 against 60 of 80 (seeds
# 0-9 ... 700-709: >= 8 of 10 on 6 sets of 8 against 3; level by lifetime), Acrobot level (2026-12-08, docs/greedy.md).
DEFAULT_GREEDY_AGENT = {"neuron": "alif", "temperature": 0.7}

FLAPPY = {
    "agent": {"hidden": 256, "ticks": 8, "tau_mem": 3.0, "tau_out": 1.5, "feedback": "random",
              "temperature": 0.05, "temperature_start": 0.1},
    "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.0, "bound_kappa": 1.0, "gamma": 0.98,
                "reward_scale": False},
    "reward": "env",
    "env": {"obs_type": "gap"},
}

PRESETS = {
    # Faster than the defaults: trailing-100 length 475 within 100k steps in 4 of 5 seeds (70k-90k),
    # the defaults (the game's +1 per step) in 2 of 5 by then, 5 of 5 by 150k (docs/robustness.md).
    # td only: greedy takes the defaults and the game's own reward, whose termination it credits.
    "CartPole-v1": {
        "td": {
            "agent": {"hidden": 128, "ticks": 4},
            "learner": {"signal": "td", "lr": 0.01, "trace_lambda": 0.9, "entropy": 0.001, "bound_kappa": 0.5,
                        "gamma": 0.99, "reward_scale": False},
            "reward": "failure",
        },
    },
    # Pong's td learns as well with the defaults (hit rate at 200k, median of 5: 0.950 vs 0.930 with
    # the td preset it had), so only greedy has a preset here. Greedy needs the trace to span the
    # ball's whole approach (~40 steps): with lambda 0.9 the trace holds only the last, late
    # corrections before a miss, and greedy learned to avoid moving toward the ball. Random feedback
    # reaches the hidden layer with useful updates. With the defaults and lambda 0.98 greedy reaches
    # a median of 0.140 at 200k; with this preset 0.890. 256 hidden neurons instead of 128 (2026-12-06,
    # seeds 0-9 and 100-109, 200k): lifetimes stalled below 0.5 5 of 20 -> 2 of 20, median 0.853 -> 0.904,
    # paired +0.114 [-0.041, 0.27], 14 of 20 higher (docs/greedy.md). A temperature that starts at 2 and
    # falls to 0.5 as the hit rate rises (the learner lowers it): lifetimes stalled below 0.5 2 of 20 -> 0
    # of 20, median 0.904 -> 0.909 (seeds 0-9 and 100-109, 200k); starting at 1 it stalls as before.
    # Homeostasis 10 times slower (1e-4; it pulls every neuron's rate toward 0.05 against what the
    # learner builds) with a baseline over ~1,000 steps (beta 0.999; ~100 before): each alone level,
    # together 200k, seeds 0-9 ... 600-609, median 0.90 -> 0.94, lowest 0.36 -> 0.82, paired +0.06
    # [+0.03, +0.09], 50 of 70 higher; issue 20's bar met on 7 sets of 7 against 3 (2026-12-08, docs/greedy.md).
    "tracerl/Pong-v0": {
        "greedy": {
            "agent": {"hidden": 256, "ticks": 4, "feedback": "random", "temperature": 0.5, "temperature_start": 2.0,
                      "homeostasis": 1e-4},
            "learner": {"signal": "greedy", "lr": 0.03, "trace_lambda": 0.98, "entropy": 0.01, "bound_kappa": 0.5,
                        "gamma": 0.98, "reward_scale": False, "baseline_beta": 0.999},
            "reward": "env",
            "env": {"obs_type": "features"},
        },
    },
    # Flappy Bird punishes every wrong flap: the scripted policy with 1% of its actions flipped
    # passes 4.4 pipes per life instead of 74. A sharper softmax (T = 0.3) and no entropy term
    # let the policy become that sure (median pipes per life at 300k 9.7; T = 1, entropy 0.001: 4.8).
    # It must also be quick: with tau_mem 10 / tau_out 5 ticks at 4 ticks per step the network
    # answers an observation about two steps late, while the bird moves up to 10 px a step. Time
    # constants of 3 / 1.5 ticks and 8 ticks per step: median 13.9 at 300k (scripts/bench_imitation.py:
    # taught the scripted action directly, agreement 0.950 -> 0.979 after 30k steps).
    # Sharper still, T = 0.1: median pipes per life at 200k 27.83 (T = 0.3: 11.76, 0.15: 16.69; 0.07 and 0.05
    # leave some lifetimes at 0 pipes). Against the defaults at 200k: 27.83 vs 6.88 (docs/robustness.md).
    # 256 hidden neurons instead of 128 (2026-12-06): pipes per life at 1M, seeds 100-104 and 200-204,
    # +11.9 [0.7, 23.1] paired (median 52.5 vs 39.3, 8 of 10 higher); at 200k no lifetime stalls
    # (lowest 10.9 of 20 against two at 0). Greedy: 128 neurons, as measured; the same otherwise
    # with lr 0.03 (200k: median 5.91, lowest 5.48; lr 0.01: 5.89 with one lifetime at 0 pipes).
    # The bird's place within the next two gaps as inputs (obs_type "gap") and a temperature the agent
    # lowers from 0.1 to 0.05 (td, 2026-12-06, seeds 100-104 and 200-204): pipes per life at 200k
    # 15.2 -> 34.0, paired +16.4 [8.8, 23.9], 9 of 10 higher; at 1M 52.5 -> 50.5, -0.9 [-13.6, 11.8].
    # Greedy takes the inputs (seeds 0-4: 200k 5.98 -> 11.82, 1M 11.35 -> 11.69). docs/results.md.
    # Greedy also: ALIF neurons, a step falling x0.8 from 0.03 to 0.003 at each new best reward rate (its
    # fixed-size bounded steps shook apart by 1M what it had learned by 300k), and T from 0.5 to 0.1 (no
    # lifetime sure of one action before it learns; from 0.3 one of 30 was): 1M, T from 0.3, 20 lifetimes,
    # 9.33 -> 26.62, 20 of 20 higher; from 0.5 rather than 0.3, 20 lifetimes, lowest 0.00 -> 17.92
    # (2026-12-07, docs/greedy.md). Its baseline over ~1,000 steps (beta 0.999), not ~100: a pipe's +1 every ~36
    # steps moves b by 0.01 about its mean of ~0.026; 1M, 50 lifetimes, +2.14 [+0.47, +3.81], median 28.48 -> 31.17.
    # T down to 0.05 (0.1), as td's: frozen at 1M the bird passes 39.2 pipes per life by its most probable action
    # against 30.9 sampled at 0.1; 1M, 50 lifetimes, +3.32 [+1.14, +5.49], median 31.17 -> 33.70 (2026-12-08).
    "tracerl/FlappyBird-v0": {
        "td": FLAPPY,
        "greedy": {**FLAPPY, "agent": {**FLAPPY["agent"], "hidden": 128,  # 256: -2.1, -4.2 at 1M (docs/greedy.md)
                                       "temperature_start": 0.5, "neuron": "alif"},
                   "learner": {**FLAPPY["learner"], "signal": "greedy", "lr": 0.03, "lr_end": 0.003, "lr_factor": 0.8,
                               "baseline_beta": 0.999}},
    },
}

# Flappy Bird from its picture (128 x 72): the features' sharp softmax (T 0.05-0.1, no entropy) leaves
# a picture agent sure of one action before it has learned (1M, seeds 0-2, the features' preset:
# 0.87 0.00 0.77 pipes per life, entropy 0.000-0.003). T = 1 and the convolution's default entropy
# (0.01): 200k 0.41 0.48 0.43; with the convolution's stride 4 (32 x 18 places, 3.6 times faster),
# this preset: 1M, seeds 0-4, 0.63 1.24 0.56 0.50 1.16 (median 0.63, none at 0; docs/images.md). It names
# the convolution, measured here, where an image's default front end is the dense layer.
PRESETS_BY_OBS = {
    ("tracerl/FlappyBird-v0", "pixels"): {
        "agent": {**FLAPPY["agent"], "temperature": 1.0, "temperature_start": None, "frontend": "conv",
                  "conv_stride": 4},
        "learner": {**FLAPPY["learner"], "entropy": None},
        "reward": "env",
        "env": {"obs_type": "pixels"},
    },
}


# The presets are written for eprop; the other learners take these on top (and ignore what does
# not apply to them, such as bound_kappa for bptt).
LEARNER_OVERRIDES = {
    "eprop": {},
    "reflect": {"signal": "greedy"},  # reflect's signal is the greedy advantage
    "bptt": {"lr": 0.001, "truncation": 100},  # Adam on the gradient of each 100 steps
}
# Learners that keep the softmax's T fixed (bptt's graph holds T over its window): a preset's falling
# T (temperature_start) plays at its start there.
FIXED_TEMPERATURE = ("bptt",)


def preset(env_id: str, learner: str = "eprop", signal: str | None = None, tuned: bool = True,
           obs_type: str | None = None) -> dict:
    """A deep copy of the preset for ``env_id``, ``learner``, ``signal`` and ``obs_type`` (the
    observation asked for, None: the preset's own), DEFAULT where the game has none, or ``tuned``
    is False.

    A game's entry is either one preset or, keyed by signal name, a preset per signal (a signal
    missing there gets DEFAULT).
    """
    signal = signal or LEARNER_OVERRIDES.get(learner, {}).get("signal")

    def for_signal(entry: dict | None) -> dict | None:
        if entry is not None and "agent" not in entry:  # per signal
            entry = entry.get(signal or DEFAULT["learner"]["signal"])
        return entry

    entry = for_signal(PRESETS.get(env_id)) if tuned else None
    if entry is not None and obs_type is not None and entry.get("env", {}).get("obs_type") != obs_type:
        entry = for_signal(PRESETS_BY_OBS.get((env_id, obs_type)))
    cfg = copy.deepcopy(entry or DEFAULT)
    cfg.setdefault("env", {})
    if entry is None and signal == "greedy":
        cfg["learner"].update(DEFAULT_GREEDY)
        if learner == "eprop":  # measured there; reflect's stand-in and bptt's window keep LIF
            cfg["agent"].update(DEFAULT_GREEDY_AGENT)
    cfg["learner"].update(LEARNER_OVERRIDES.get(learner, {}))
    if learner in FIXED_TEMPERATURE and cfg["agent"].get("temperature_start") is not None:
        cfg["agent"]["temperature"] = cfg["agent"].pop("temperature_start")
    if signal:
        cfg["learner"]["signal"] = signal
    return cfg
