"""Sweep train.py's settings on Ray Tune: each trial is one setting, its seeds one batch of lifetimes.

    python scripts/sweep.py --env pong --grid "lr=1e-3,3e-3 lambda=0.9,0.95" --seeds 5 --steps 200000
    python scripts/sweep.py --env pong --grid "lr=loguniform:1e-4:1e-2 lambda=uniform:0.8:0.99" --random 12 --asha
    python scripts/sweep.py --resume runs/sweeps/NAME           # an interrupted sweep goes on
    python scripts/sweep.py ... --address HEAD_NODE:6379        # join a running Ray cluster
    tensorboard --logdir runs/sweeps/NAME

--grid takes space-separated KEY=V1,V2,... entries: KEY is a train.py option (lr, trace_lambda or
lambda, entropy, gamma, hidden, ticks, ...) or any agent/learner keyword (tau_adapt, ...), or
agent.KEY / learner.KEY / env.KEY. A grid runs every combination. Random search, --random N,
draws N settings from distributions, KEY=loguniform:LOW:HIGH, uniform:LOW:HIGH, randint:LOW:HIGH
(HIGH excluded) or choice:V1,V2,...; listed values beside them stay a grid (N draws for each).

Each trial runs train.py's training in-process in a Ray worker: --seeds lifetimes (seeds --seed,
--seed+1, ...) as one batch, the same run directories, config.yaml, checkpoint and TensorBoard
tags as train.py, named {env}__{learner}__tNN,KEY=VALUE,...[__SEED | __mean] in the sweep's
directory (--logdir/--name). Trials run in parallel, --cpus-per-trial CPUs each. The measure is
the env's: Pong's hit rate, Flappy Bird's pipes per life, else the mean episodic return; per
lifetime, its mean over the last --tail of the steps. Each trial reports it to Tune every
--log-every steps (ASHA stops the weak ones early with --asha). At the end a table ranks the
settings by the mean over seeds, with a 95% bootstrap interval over seeds; it is printed and
written to results.csv in the sweep's directory.

A trial that fails (NaN, crash) is recorded as failed, with its error, and the others go on.
Ctrl-C stops the sweep; --resume DIR continues it through Ray Tune's restore: finished and failed
trials are kept as they are, unfinished ones start over. --max-concurrent 1 runs the same trials
one after another (the baseline for the wall-clock of a parallel sweep).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]  # the repository (agents, envs, learners) and train.py

import numpy as np  # noqa: E402

import train  # noqa: E402
from tracerl.learners.ranges import check_range  # noqa: E402

INSTALL = 'Ray Tune is not installed; pip install -e ".[sweep]"'
ALIASES = {"lambda": "trace_lambda"}
# Set by sweep.py itself for every trial: not a swept setting.
FIXED = ("env", "lifetimes", "seed", "steps", "log_every", "logdir", "run_name", "resume", "config", "threads",
         "compile", "render", "render_lifetime", "record", "record_every", "fps", "steps_per_frame")
DISTRIBUTIONS = ("loguniform", "uniform", "randint", "choice")
MEASURES = {"tracerl/Pong-v0": ("hit_rate", "pong/hit_rate"),
            "tracerl/FlappyBird-v0": ("pipes_per_life", "flappy/pipes_per_life")}
EPISODIC = ("episodic_return", "charts/episodic_return")
SWEEP_FILE, RESULTS_FILE = "sweep.json", "results.csv"


class UsageError(Exception):
    """A bad value from the user: main() prints it as one line and exits with code 2."""


# -- the search space -----------------------------------------------------------------------------
def split_values(text: str) -> list[str]:
    """``1e-3,3e-3`` -> two values; commas inside brackets stay (``[64,32],[128]`` -> two lists)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def parse_values(entry: str, text: str) -> list:
    values = [train.parse_value(v) for v in split_values(text)]
    if any(v == "" for v in values):
        raise UsageError(f"invalid --grid entry {entry!r}: an empty value")
    return values


def parse_grid(text: str, random: bool) -> dict[str, dict]:
    """``"lr=1e-3,3e-3 lambda=loguniform:0.8:0.99"`` -> {key: {"values": [...]} (a grid),
    {"dist": "choice", "values": [...]} or {"dist": name, "low": x, "high": y}}, keys with aliases
    resolved. Raises UsageError."""
    space: dict[str, dict] = {}
    for entry in text.split():
        key, eq, rest = entry.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key or not rest:
            raise UsageError(f"invalid --grid entry {entry!r}; expected KEY=V1,V2,... e.g. lr=1e-3,3e-3 "
                             f"(or KEY=loguniform:LOW:HIGH with --random N)")
        key = ALIASES.get(key, key)
        if key in FIXED:
            raise UsageError(f"--grid cannot sweep {key!r}: sweep.py sets it for every trial (--env, --seeds, "
                             f"--seed, --steps, --log-every, ...)")
        if key in space:
            raise UsageError(f"--grid names {key!r} twice")
        name, colon, bounds = rest.partition(":")
        if colon and name in DISTRIBUTIONS and not random:
            raise UsageError(f"--grid {entry!r} is a distribution; it needs --random N (random search); "
                             f"a grid lists values: {key}=V1,V2,...")
        if colon and name == "choice":
            space[key] = {"dist": "choice", "values": parse_values(entry, bounds)}
        elif colon and name in DISTRIBUTIONS:
            low, colon2, high = bounds.partition(":")
            try:
                low, high = float(low), float(high)
            except ValueError:
                colon2 = ""
            if not colon2 or not low < high or (name == "loguniform" and low <= 0) or \
                    (name == "randint" and not (low.is_integer() and high.is_integer())):
                raise UsageError(f"invalid --grid {entry!r}; expected {key}={name}:LOW:HIGH with LOW < HIGH"
                                 + (", both > 0" if name == "loguniform" else "")
                                 + (", both integers" if name == "randint" else ""))
            if name == "randint":
                low, high = int(low), int(high)
            space[key] = {"dist": name, "low": low, "high": high}
        else:
            space[key] = {"values": parse_values(entry, rest)}
    return space


def corners(space: dict[str, dict], full: bool = True) -> list[dict]:
    """Settings that together hold every listed value and every bound of a distribution: the grid
    itself (``full``, up to 1000 settings), else each key's values with the others at their first."""
    lists = {k: s["values"] if "values" in s else [s["low"], s["high"] - (s["dist"] == "randint")]
             for k, s in space.items()}
    first = {k: v[0] for k, v in lists.items()}
    if full and math.prod(len(v) for v in lists.values()) <= 1000:
        out = [{}]
        for key, values in lists.items():
            out = [{**o, key: v} for o in out for v in values]
        return out
    return [first] + [{**first, k: v} for k, values in lists.items() for v in values[1:]]


def check(base: dict, space: dict[str, dict]) -> str:
    """Every setting must resolve in train.py, and each swept value must build its agent and learner;
    returns the env's id. Raises UsageError naming the setting."""
    def where(setting: dict) -> str:
        return f" (in --grid setting {tag(setting)})" if setting else ""

    for setting in corners(space):
        try:
            config = train.resolve(trial_given(base, setting))[0]
        except train.UsageError as e:
            raise UsageError(f"{e}{where(setting)}")
    for setting in corners(space, full=False):
        config = train.resolve(trial_given(base, setting))[0]
        env = None
        try:
            env = train.build_env(config, 1, singles=True, render=False)
            train.build_learner(config, train.build_agent(config, env, n=1))
        except train.UsageError as e:
            raise UsageError(f"{e}{where(setting)}")
        except Exception as e:  # what the agent or learner itself rejects
            raise UsageError(f"{type(e).__name__}: {train.one_line(e)}{where(setting)}")
        finally:
            if env is not None:
                env.close()
    return config["env"]


def tune_space(space: dict[str, dict]) -> dict:
    """Tune's search space: lists are grids, distributions are drawn (--random N draws per grid point)."""
    from ray import tune

    out = {}
    for key, s in space.items():
        if "dist" not in s:
            out[key] = tune.grid_search(s["values"])
        elif s["dist"] == "choice":
            out[key] = tune.choice(s["values"])
        else:
            out[key] = getattr(tune, s["dist"])(s["low"], s["high"])
    return out


def tag(setting: dict) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return "-".join(map(fmt, v))
        return str(v)

    return ",".join(f"{k}={fmt(v)}" for k, v in setting.items())


# -- one trial ---------------------------------------------------------------------------------
def trial_given(base: dict, setting: dict, run_name: str | None = None) -> dict:
    """train.train()'s settings for one trial: the sweep's own, --set, then the swept values."""
    given = {"env": base["env"], "agent": base["agent"], "learner": base["learner"], "lifetimes": base["seeds"],
             "seed": base["seed"], "steps": base["steps"], "log_every": base["log_every"],
             "threads": base["cpus_per_trial"], "compile": base["compile"], "set": list(base["set"])}
    given.update(setting)
    if run_name is not None:
        given.update(logdir=base["dir"], run_name=run_name)
    return given


def train_argv(base: dict, setting: dict) -> list[str]:
    """The train.py command line of a trial's settings (its hyperparameters text in TensorBoard)."""
    argv = []
    for key in ("env", "agent", "learner", "seeds", "seed", "steps", "log_every"):
        argv += ["--lifetimes" if key == "seeds" else f"--{key.replace('_', '-')}", str(base[key])]
    if not base["compile"]:
        argv.append("--no-compile")
    for item in base["set"]:
        argv += ["--set", item]
    for key, value in setting.items():
        argv += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return argv


def measure_of(env_id: str) -> tuple[str, str]:
    """(name, TensorBoard tag) of the env's measure."""
    return MEASURES.get(env_id, EPISODIC)


def tail_windows(base: dict) -> int:
    return max(1, math.ceil(base["tail"] * base["steps"] / base["log_every"]))


def trailing(history: list[np.ndarray], k: int) -> np.ndarray:
    """(N,) mean of the last k windows, per lifetime, ignoring windows without a value (nan if none)."""
    block = np.stack(history[-k:])
    ok = np.isfinite(block)
    return np.where(ok.any(0), np.where(ok, block, 0).sum(0) / np.maximum(ok.sum(0), 1), np.nan)


def plain(value: Any) -> Any:
    """numpy scalars (from Tune's samplers) -> Python numbers, which config.yaml can hold."""
    return value.item() if isinstance(value, np.generic) else value


def trial_name(trial_id: str) -> str:
    """Tune's trial id ``4788c_00003`` -> ``t03``."""
    return f"t{int(trial_id.rsplit('_', 1)[1]):02d}"


def run_name(base: dict, trial_id: str, setting: dict) -> str:
    """train.py's --run-name of a trial: {env}__{learner}__tNN,KEY=VALUE,..."""
    learner = setting.get("learner", base["learner"])
    return f"{base['env_short']}__{learner}__{trial_name(trial_id)}" + (f",{tag(setting)}" if setting else "")


def run_trial(config: dict, base: dict) -> None:
    """A Ray Tune trainable: one setting, its seeds as one batch of lifetimes, train.py's runs."""
    from ray import tune

    setting = {k: plain(config[k]) for k in base["keys"]}
    name = run_name(base, tune.get_context().get_trial_id(), setting)
    # An unfinished trial of an interrupted sweep starts over: what it left is removed first.
    seeds = range(base["seed"], base["seed"] + base["seeds"])
    for run in [name] if base["seeds"] == 1 else [f"{name}__{s}" for s in seeds] + [f"{name}__mean"]:
        shutil.rmtree(os.path.join(base["dir"], run), ignore_errors=True)

    given = trial_given(base, setting, name)
    _, tb_tag = measure_of(base["env_id"])
    history: list[np.ndarray] = []
    k, t0 = tail_windows(base), time.perf_counter()
    errors: list[str] = []
    last: dict = {}

    def on_log(t: int, figures: dict) -> None:
        history.append(np.asarray(figures.get(tb_tag, np.full(base["seeds"], np.nan)), dtype=np.float64))
        per_seed = trailing(history, k)
        ok = per_seed[np.isfinite(per_seed)]
        last.update(step=t, measure=float(ok.mean()) if len(ok) else float("nan"),
                    per_seed=[float(v) for v in per_seed], wall_s=time.perf_counter() - t0)
        if t < base["steps"]:  # the last is reported once train.py has written its checkpoint and logs
            tune.report(dict(last))

    code = train.train(given, train_argv(base, setting), on_log=on_log, on_error=errors.append)
    if code != 0:
        raise RuntimeError(errors[0] if errors else f"train.py's training exited with code {code}")
    tune.report({**last, "wall_s": time.perf_counter() - t0})


def make_trainable(base: dict):
    from ray import tune

    def tracerl(config: dict) -> None:
        run_trial(config, base)

    return tune.with_resources(tracerl, {"cpu": base["cpus_per_trial"]})


# -- the results table ---------------------------------------------------------------------------
def bootstrap_ci(values, level: float = 0.95, samples: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over seeds and its percentile-bootstrap interval (resampling seeds); nan where not defined
    (no finite value; a single seed has no interval)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    if len(v) == 1:
        return float(v[0]), math.nan, math.nan
    means = v[np.random.default_rng(seed).integers(0, len(v), (samples, len(v)))].mean(1)
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(v.mean()), float(low), float(high)


def error_line(error: BaseException | None) -> str:
    """The trial's own error, one line, from what Ray wraps it in."""
    if error is None:
        return ""
    cause = getattr(error, "cause", None) or error.__cause__ or error
    while getattr(cause, "cause", None) is not None or cause.__cause__ is not None:
        cause = getattr(cause, "cause", None) or cause.__cause__
    text = train.one_line(cause)
    return text if isinstance(cause, RuntimeError) else f"{type(cause).__name__}: {text}"


def status_of(metrics: dict, error: BaseException | None, steps: int) -> str:
    if error is not None:
        return "failed"
    if not metrics.get("done"):
        return "unfinished"
    return "done" if metrics.get("step", 0) >= steps else "stopped early"


ORDER = {"done": 0, "stopped early": 1, "unfinished": 2, "failed": 3}


def table_rows(results, base: dict) -> list[dict]:
    """One row per trial, best first: settings, status, measure and its interval, seeds, steps, wall."""
    name, _ = measure_of(base["env_id"])
    rows = []
    for r in results:
        m = r.metrics or {}
        per_seed = m.get("per_seed") or []
        mean, low, high = bootstrap_ci(per_seed)
        trial_id = m.get("trial_id") or os.path.basename(r.path).removeprefix("tune_")
        setting = {k: (r.config or {}).get(k) for k in base["keys"]}
        row = {"trial": trial_name(trial_id), **setting,
               "status": status_of(m, r.error, base["steps"]), "measure": name, "mean": mean,
               "ci95_low": low, "ci95_high": high, "per_seed": " ".join(f"{v:.4g}" for v in per_seed),
               "steps": m.get("step", 0), "wall_s": round(m.get("wall_s", math.nan), 1),
               "run": run_name(base, trial_id, setting), "error": error_line(r.error)}
        rows.append(row)
    rows.sort(key=lambda row: (ORDER[row["status"]] >= 2, -row["mean"] if math.isfinite(row["mean"]) else math.inf,
                               ORDER[row["status"]]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return [{"rank": row.pop("rank"), **row} for row in rows]


def write_csv(rows: list[dict], path: str) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["rank"])
        writer.writeheader()
        writer.writerows(rows)


def format_table(rows: list[dict]) -> str:
    def cell(key: str, v: Any) -> str:
        if isinstance(v, float):
            return "-" if not math.isfinite(v) else f"{v:.4g}" if key != "wall_s" else f"{v:.1f}"
        return "" if v is None else str(v)

    keys = [k for k in (rows[0] if rows else {}) if k != "run"]
    cells = [[cell(k, row[k]) for k in keys] for row in rows]
    widths = [max([len(k)] + [len(c[i]) for c in cells]) for i, k in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


# -- the sweep --------------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def build_parser() -> Parser:
    p = Parser(prog="sweep.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("what is swept")
    g.add_argument("--env", default="pong", help="as train.py's --env (default: pong)")
    g.add_argument("--agent", default="spiking", help="policy network (default: spiking)")
    g.add_argument("--learner", default="eprop", help="learning rule (default: eprop)")
    g.add_argument("--grid", default="", metavar='"KEY=V1,V2 ..."',
                   help="settings to sweep, e.g. \"lr=1e-3,3e-3 lambda=0.9,0.95\" (default: none, one trial)")
    g.add_argument("--random", type=int, default=0, metavar="N",
                   help="random search: N settings drawn from --grid's distributions, for each combination "
                   "of its listed values (default: 0, a grid search)")
    g.add_argument("--search-seed", type=int, default=0, help="seed of the random search (default: 0)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for every trial, as train.py's --set (repeatable)")
    g = p.add_argument_group("each trial")
    g.add_argument("--seeds", type=int, default=3, metavar="S",
                   help="lifetimes per trial, run as one batch (default: 3)")
    g.add_argument("--seed", type=int, default=0, help="seed of the first lifetime (default: 0)")
    g.add_argument("--steps", type=int, default=200_000, help="env steps per lifetime (default: 200000)")
    g.add_argument("--log-every", type=int, default=1000, metavar="STEPS",
                   help="steps per logged point and per report to Tune (default: 1000)")
    g.add_argument("--tail", type=float, default=0.1, metavar="FRACTION",
                   help="the measure is each lifetime's mean over this last fraction of its steps (default: 0.1)")
    g.add_argument("--no-compile", dest="compile", action="store_false",
                   help="run eager instead of torch.compile (default: compile)")
    g = p.add_argument_group("early stopping")
    g.add_argument("--asha", action="store_true", help="stop weak trials early with ASHA (default: off)")
    g.add_argument("--grace-period", type=int, default=None, metavar="STEPS",
                   help="ASHA: steps before a trial can be stopped (default: a tenth of --steps)")
    g.add_argument("--reduction-factor", type=int, default=3, help="ASHA: keep 1 in this many at each rung "
                   "(default: 3)")
    g = p.add_argument_group("Ray")
    g.add_argument("--address", default=None, help="join this running Ray cluster (default: start a local one)")
    g.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    g.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs (and torch threads) per trial (default: 1)")
    g.add_argument("--max-concurrent", type=int, default=0, metavar="K",
                   help="trials at a time at most; 1 runs them one after another (default: 0, as many as fit)")
    g = p.add_argument_group("where")
    g.add_argument("--logdir", default=os.path.join("runs", "sweeps"), metavar="DIR",
                   help="where sweeps are written (default: runs/sweeps)")
    g.add_argument("--name", default=None, help="the sweep's directory in --logdir (default: "
                   "{env}__{learner}__{unix time})")
    g.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the interrupted sweep in DIR (its settings are kept)")
    return p


RESUME_ALLOWED = ("address", "cpus", "resume")


def plan(args: argparse.Namespace, argv: list[str]) -> dict:
    """The sweep's settings (what sweep.json keeps), checked: every setting resolves in train.py."""
    try:  # every numeric option in its range (learners/ranges.py); the trials' settings: in check()
        for key in ("seeds", "seed", "steps", "log_every", "tail", "cpus_per_trial", "cpus", "random",
                    "max_concurrent", "reduction_factor", "grace_period", "search_seed"):
            check_range(key, getattr(args, key), f"--{key.replace('_', '-')}")
    except ValueError as e:
        raise UsageError(str(e))
    if args.steps < 1:
        raise UsageError("--steps 0: a sweep needs at least one step per trial; allowed: steps >= 1")
    space = parse_grid(args.grid, bool(args.random))
    fixed = {item.partition("=")[0].strip().replace("-", "_") for item in args.set}
    if fixed & set(space):
        raise UsageError(f"{', '.join(sorted(fixed & set(space)))} is both in --grid and --set; keep one")
    base = {"env": args.env, "agent": args.agent, "learner": args.learner, "seeds": args.seeds, "seed": args.seed,
            "steps": args.steps, "log_every": args.log_every, "tail": args.tail, "compile": args.compile,
            "cpus_per_trial": args.cpus_per_trial, "set": args.set, "keys": list(space)}
    env_id = check(base, space)
    base.update(env_id=env_id, env_short=train.envs.short_name(env_id))
    name = args.name or f"{base['env_short']}__{args.learner}__{int(time.time())}"
    if not name or os.sep in name or name in (".", ".."):
        raise UsageError(f"invalid --name {name!r}; allowed: a directory name")
    base["dir"] = os.path.abspath(os.path.join(args.logdir, name))
    if os.path.exists(base["dir"]):
        raise UsageError(f"sweep {base['dir']!r} already exists; choose another --name, or --resume it")
    grace = args.grace_period if args.grace_period is not None else max(args.log_every, args.steps // 10)
    if args.asha and not 1 <= grace <= args.steps:
        raise UsageError(f"--grace-period must be between 1 and --steps ({args.steps}); got {grace}")
    return {"version": 1, "argv": argv, "base": base, "space": space, "random": args.random,
            "search_seed": args.search_seed, "asha": {"grace_period": grace, "reduction_factor": args.reduction_factor}
            if args.asha else None, "max_concurrent": args.max_concurrent}


def read_plan(path: str) -> dict:
    file = os.path.join(path, SWEEP_FILE)
    if not os.path.isfile(file):
        raise UsageError(f"{path!r} is not a sweep directory (no {SWEEP_FILE})")
    with open(file) as f:
        return json.load(f)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
        try:
            import ray  # noqa: F401
            from ray import tune  # noqa: F401
        except ImportError:
            raise UsageError(INSTALL)
        if args.resume:
            given = {a.dest for a in build_parser()._actions
                     if any(o in argv or any(x.startswith(o + "=") for x in argv) for o in a.option_strings)}
            extra = sorted(given - set(RESUME_ALLOWED) - {"help"})
            if extra:
                raise UsageError(f"--resume continues a sweep with its own settings; drop "
                                 f"{', '.join('--' + e.replace('_', '-') for e in extra)}")
            sweep = read_plan(args.resume)
            sweep["base"]["dir"] = os.path.abspath(args.resume)
        else:
            sweep = plan(args, argv)
        return run_sweep(sweep, args, resume=bool(args.resume))
    except UsageError as e:
        print(f"sweep.py: error: {e}", file=sys.stderr)
        return 2


def start_ray(address: str | None, cpus: int | None) -> None:
    """Join the cluster at ``address`` or start a local instance; the trials' workers get the
    repository and scripts/ on their path (on a cluster of several machines, the repository and
    the sweep directory must be at the same paths on each, e.g. a shared file system)."""
    import ray

    pythonpath = os.pathsep.join([ROOT, HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    kwargs = {"address": address} if address else {"num_cpus": cpus, "include_dashboard": False}
    ray.init(runtime_env={"env_vars": {"PYTHONPATH": pythonpath}}, log_to_driver=False, **kwargs)


def run_sweep(sweep: dict, args: argparse.Namespace, resume: bool) -> int:
    import ray
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    base, path = sweep["base"], sweep["base"]["dir"]
    if resume and not tune.Tuner.can_restore(path):
        raise UsageError(f"{path!r} holds no Ray Tune state to restore")
    # Tune's own TensorBoard files would mix with the runs' in the sweep directory: CSV and JSON only.
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    started_ray = not ray.is_initialized()
    if started_ray:
        start_ray(args.address, args.cpus)
    try:
        trainable = make_trainable(base)
        if resume:
            tuner = tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=False,
                                       restart_errored=False)
        else:
            os.makedirs(path)
            with open(os.path.join(path, SWEEP_FILE), "w") as f:
                json.dump(sweep, f, indent=1)
            asha = sweep["asha"]
            scheduler = ASHAScheduler(time_attr="step", max_t=base["steps"], grace_period=asha["grace_period"],
                                      reduction_factor=asha["reduction_factor"]) if asha else None
            tuner = tune.Tuner(
                trainable,
                param_space=tune_space(sweep["space"]),
                tune_config=tune.TuneConfig(
                    metric="measure", mode="max", scheduler=scheduler, num_samples=sweep["random"] or 1,
                    # the generator's own limit: Tune ignores max_concurrent_trials beside a generator
                    search_alg=BasicVariantGenerator(random_state=sweep["search_seed"],
                                                     max_concurrent=sweep["max_concurrent"]),
                    trial_name_creator=lambda trial: trial_name(trial.trial_id),
                    trial_dirname_creator=lambda trial: f"tune_{trial.trial_id}"),
                run_config=tune.RunConfig(
                    name=os.path.basename(path), storage_path=os.path.dirname(path),
                    failure_config=tune.FailureConfig(max_failures=0),
                    callbacks=[CSVLoggerCallback(), JsonLoggerCallback()]))
        t0 = time.perf_counter()
        results = tuner.fit()
        wall = time.perf_counter() - t0
    finally:
        if started_ray:
            ray.shutdown()

    rows = table_rows(list(results), base)
    write_csv(rows, os.path.join(path, RESULTS_FILE))
    counts = {s: sum(r["status"] == s for r in rows) for s in ORDER}
    print()
    print(format_table(rows))
    print(f"\n{len(rows)} trials ({', '.join(f'{n} {s}' for s, n in counts.items() if n)}) in {wall:.1f} s"
          f"{' (this part)' if resume else ''}; table {os.path.join(path, RESULTS_FILE)}; runs: tensorboard "
          f"--logdir {path}")
    if counts["unfinished"]:
        print(f"sweep.py: interrupted; continue with: python scripts/sweep.py --resume {path}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
