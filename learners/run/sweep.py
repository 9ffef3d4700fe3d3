"""A sweep of train.py's settings on Ray Tune (scripts/sweep.py's library): the search space,
checking every setting before Ray starts, one trial (a :func:`~tracerl.learners.run.train.train`
run with a :class:`Report` callback), and the results table.

    space = parse_grid("lr=1e-3,3e-3 lambda=0.9,0.95", random=False)
    sweep = plan(args, argv)                      # checked: every setting resolves and builds
    code = run_sweep(sweep, address=None, cpus=None, resume=False)

Ray is imported only where it is used; the measure of each game comes from the registry
(:data:`tracerl.learners.run.games.GAMES`), the bootstrap interval from :mod:`.stats`.
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
from typing import Any, Callable

import numpy as np

from tracerl import envs
from tracerl.agents.ranges import check_range
from tracerl.learners.run.build import build_agent, build_env, build_learner
from tracerl.learners.run.games import measure_of
from tracerl.learners.run.loop import Callback, LoopState
from tracerl.learners.run.settings import UsageError, one_line, parse_value, resolve
from tracerl.learners.run.stats import bootstrap_ci, trailing_mean
from tracerl.learners.run.train import train

INSTALL = 'Ray Tune is not installed; pip install -e ".[sweep]"'
ALIASES = {"lambda": "trace_lambda"}
# Set by sweep.py itself for every trial: not a swept setting.
FIXED = ("env", "lifetimes", "seed", "steps", "log_every", "logdir", "run_name", "resume", "config", "threads",
         "compile", "render", "render_lifetime", "record", "record_every", "fps", "steps_per_frame")
DISTRIBUTIONS = ("loguniform", "uniform", "randint", "choice")
SWEEP_FILE, RESULTS_FILE = "sweep.json", "results.csv"


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
    values = [parse_value(v) for v in split_values(text)]
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
            config = resolve(trial_given(base, setting))[0]
        except UsageError as e:
            raise UsageError(f"{e}{where(setting)}")
    for setting in corners(space, full=False):
        config = resolve(trial_given(base, setting))[0]
        env = None
        try:
            env = build_env(config, 1, singles=True, render=False)
            build_learner(config, build_agent(config, env, n=1))
        except UsageError as e:
            raise UsageError(f"{e}{where(setting)}")
        except Exception as e:  # what the agent or learner itself rejects
            raise UsageError(f"{type(e).__name__}: {one_line(e)}{where(setting)}")
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


def tail_points(base: dict) -> int:
    return max(1, math.ceil(base["tail"] * base["steps"] / base["log_every"]))


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

    report, errors = Report(base, tune.report), []
    code = train(trial_given(base, setting, name), train_argv(base, setting), callbacks=[report],
                 on_error=errors.append)
    if code != 0:
        raise RuntimeError(errors[0] if errors else f"train.py's training exited with code {code}")
    tune.report({**report.last, "wall_s": time.perf_counter() - report.t0})


class Report(Callback):
    """A sweep's reporting: at each logged point, each lifetime's measure over the last ``--tail``
    of the steps, their mean, and the step, sent to ``send`` (Ray Tune's ``tune.report``) before
    the last step; the last figures stay in ``self.last`` (reported once the run's checkpoint and
    logs are written)."""

    def __init__(self, base: dict, send: Callable[[dict], None]):
        self.base, self.send, self.tag = base, send, measure_of(base["env_id"]).tag
        self.history: list[np.ndarray] = []
        self.k, self.t0, self.last = tail_points(base), time.perf_counter(), {}

    def on_log(self, state: LoopState, figures: dict) -> None:
        self.history.append(np.asarray(figures.get(self.tag, np.full(self.base["seeds"], np.nan)), np.float64))
        per_seed = trailing_mean(self.history, self.k)
        ok = per_seed[np.isfinite(per_seed)]
        self.last.update(step=state.t, measure=float(ok.mean()) if len(ok) else float("nan"),
                         per_seed=[float(v) for v in per_seed], wall_s=time.perf_counter() - self.t0)
        if state.t < self.base["steps"]:
            self.send(dict(self.last))


def make_trainable(base: dict):
    from ray import tune

    def tracerl(config: dict) -> None:
        run_trial(config, base)

    return tune.with_resources(tracerl, {"cpu": base["cpus_per_trial"]})


# -- the results table ---------------------------------------------------------------------------
def error_line(error: BaseException | None) -> str:
    """The trial's own error, one line, from what Ray wraps it in."""
    if error is None:
        return ""
    cause = getattr(error, "cause", None) or error.__cause__ or error
    while getattr(cause, "cause", None) is not None or cause.__cause__ is not None:
        cause = getattr(cause, "cause", None) or cause.__cause__
    text = one_line(cause)
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
    name = measure_of(base["env_id"]).key
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
    # Finished trials first, then those ASHA stopped early (their figure is over fewer steps, so
    # not comparable with a finished one's), unfinished, failed; by the mean within each.
    rows.sort(key=lambda row: (ORDER[row["status"]], -row["mean"] if math.isfinite(row["mean"]) else math.inf))
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


RESUME_ALLOWED = ("address", "cpus", "resume")


def plan(args: argparse.Namespace, argv: list[str]) -> dict:
    """The sweep's settings (what sweep.json keeps), checked: every setting resolves in train.py."""
    try:  # every numeric option in its range (agents/ranges.py); the trials' settings: in check()
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
    base.update(env_id=env_id, env_short=envs.short_name(env_id))
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


def start_ray(address: str | None, cpus: int | None) -> None:
    """Join the cluster at ``address`` or start a local instance. The trials' workers import
    tracerl as installed (on a cluster of several machines, tracerl must be installed on each and
    the sweep directory be at the same path on each, e.g. a shared file system)."""
    import ray

    kwargs = {"address": address} if address else {"num_cpus": cpus, "include_dashboard": False}
    ray.init(log_to_driver=False, **kwargs)


def run_sweep(sweep: dict, address: str | None, cpus: int | None, resume: bool) -> int:
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
        start_ray(address, cpus)
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
