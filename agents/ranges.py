"""The allowed range of every numeric setting, in one table, and the check that enforces it.

    from tracerl.agents.ranges import check_range, check_ranges
    check_range("gamma", 1.5)                    # ValueError: gamma 1.5 is out of range; allowed: 0 <= gamma <= 1
    check_ranges({"lr": 0.01, "ticks": 4})       # every named setting in the table; others pass

train.py and sweep.py check every setting (run options, agent and learner keywords) before anything
starts, and turn the ValueError into one line and exit code 2; the learners' constructors call
:func:`check_ranges` on their own keywords. A setting missing from the table is not checked.
It lives in agents/, the lowest layer, so that the agents check their own settings without importing
the learners (which import the agents).

Why the bounds: a step size below 0 climbs the loss; a discount or trace decay above 1 grows without
bound (and the lambda schedule divides by 1 - lambda, so lambda = 1 is out too); a softmax
temperature of 0 divides by zero; time constants are decay factors exp(-1/tau), so tau > 0; a
negative entropy coefficient rewards collapse to one action; seeds are numpy seeds (>= 0).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping

INF = math.inf


@dataclass(frozen=True)
class Range:
    """low <= x <= high (``open_low`` / ``open_high``: strict); ``integer``: a whole number."""

    low: float = -INF
    high: float = INF
    open_low: bool = False
    open_high: bool = False
    integer: bool = False

    def holds(self, x: float) -> bool:
        if math.isnan(x):
            return False
        above = x > self.low if self.open_low else x >= self.low
        below = x < self.high if self.open_high else x <= self.high
        return above and below

    def text(self, name: str) -> str:
        """``0 <= gamma <= 1``, ``lr >= 0``, ``ticks >= 1 (an integer)``."""
        lo = None if self.low == -INF else f"{self.low:g} {'<' if self.open_low else '<='} "
        hi = None if self.high == INF else f" {'<' if self.open_high else '<='} {self.high:g}"
        if lo and hi:
            out = f"{lo}{name}{hi}"
        elif lo:
            out = f"{name} {'>' if self.open_low else '>='} {self.low:g}"
        elif hi:
            out = f"{name}{hi}"
        else:
            out = f"{name} finite"
        return out + (" (an integer)" if self.integer else "")


POSITIVE, NON_NEGATIVE = Range(0, open_low=True), Range(0)
UNIT, UNIT_OPEN_HIGH, UNIT_OPEN = Range(0, 1), Range(0, 1, open_high=True), Range(0, 1, True, True)


def count(low: int) -> Range:
    return Range(low, integer=True)


RANGES: dict[str, Range] = {
    # run options (train.py, sweep.py)
    "lifetimes": count(1), "seed": count(0), "steps": count(0), "log_every": count(1), "hist_every": count(0),
    "checkpoint_every": count(0), "threads": count(1), "render_lifetime": count(0), "fps": count(1),
    "steps_per_frame": count(0), "record_every": count(1), "eval_every": count(0), "eval_episodes": count(1),
    "eval_steps": count(1),
    # sweep.py's own options
    "seeds": count(1), "tail": Range(0, 1, open_low=True), "cpus_per_trial": count(1), "cpus": count(1),
    "random": count(0), "max_concurrent": count(0), "reduction_factor": count(2), "grace_period": count(1),
    "search_seed": count(0),
    # the benchmarks' own options
    "every": count(1),
    # agents (agents/spiking.py, agents/mlp.py, agents/policy.py)
    "ticks": count(1), "tau_mem": POSITIVE, "conv_tau_mem": POSITIVE, "tau_out": POSITIVE, "tau_adapt": POSITIVE,
    "beta": NON_NEGATIVE, "gamma_pd": NON_NEGATIVE, "input_scale": POSITIVE, "out_scale": NON_NEGATIVE,
    "target_rate": UNIT_OPEN, "homeostasis": NON_NEGATIVE, "temperature": POSITIVE, "temperature_start": POSITIVE,
    "conv_channels": count(1), "conv_kernel": count(1), "conv_stride": count(1), "input_smooth": NON_NEGATIVE,
    # learners (learners/eprop.py, reflect.py, bptt.py)
    "lr": NON_NEGATIVE, "hidden_lr": NON_NEGATIVE, "trace_lambda": UNIT_OPEN_HIGH, "lambda_end": UNIT_OPEN_HIGH,
    "lambda_steps": count(1), "gamma": UNIT, "critic_lr": NON_NEGATIVE, "critic_lambda": UNIT, "critic_hidden": count(1),
    "critic_torso": NON_NEGATIVE, "lr_end": NON_NEGATIVE, "lr_factor": UNIT_OPEN,
    "entropy": NON_NEGATIVE, "entropy_target": UNIT_OPEN, "entropy_rate": NON_NEGATIVE, "baseline_beta": UNIT_OPEN_HIGH, "bound_kappa": NON_NEGATIVE,
    "rms_beta": UNIT_OPEN_HIGH, "truncation": count(1), "clip": POSITIVE,
}


# Settings that may also be a list, one entry per convolution of a stack (agents/spiking.py, conv_stack).
PER_CONVOLUTION = ("conv_channels", "conv_kernel", "conv_stride")


def check_range(name: str, value: Any, label: str | None = None) -> None:
    """Raise ValueError (one line: the value and the allowed range) unless ``value`` is in ``name``'s range.

    ``label`` is how the message names the setting (default ``name``, e.g. ``--lr`` from the command
    line). None passes (the class default applies); names without a range pass.
    """
    r = RANGES.get(name)
    if r is None or value is None:
        return
    if isinstance(value, (list, tuple)) and name in PER_CONVOLUTION:  # a stack of convolutions: each entry
        for v in value:
            check_range(name, v, label)
        return
    label = label or name
    kind = numbers.Integral if r.integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{label} {value!r} is not {'an integer' if r.integer else 'a number'}; "
                         f"allowed: {r.text(name)}")
    if not r.holds(float(value)):
        raise ValueError(f"{label} {value!r} is out of range; allowed: {r.text(name)}")


def check_ranges(settings: Mapping[str, Any], prefix: str = "") -> None:
    """:func:`check_range` on every item (labels ``prefix + name``)."""
    for name, value in settings.items():
        check_range(name, value, prefix + name if prefix else None)
