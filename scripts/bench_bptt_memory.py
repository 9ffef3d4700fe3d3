"""Memory and time per step: the same spiking agent learning online (eprop) or with truncated BPTT.

    python scripts/bench_bptt_memory.py            # eprop; bptt truncated every 100, 1000, 10000 steps; 20k steps
    python scripts/bench_bptt_memory.py --truncations 100 1000 --steps 5000
    python scripts/bench_bptt_memory.py --no-compile                  # eprop eager too

Each learner runs in a fresh process (so one's peak memory does not hide another's): Pong, one
lifetime, the spiking agent of Pong's preset (128 LIF neurons, 4 ticks), one torch thread. After
--warmup steps (eprop compiles in them; bptt's partial stretch is then learned and dropped, so the
measured steps start at a truncation boundary) the process's resident memory is read (start) and its
peak is reset (/proc/self/clear_refs); then --steps steps are timed one by one. Reported: mean
and slowest time per step (the slowest is bptt's backward pass over its T steps), RSS at the start
and end of the measured steps, their peak, and the peak's growth over the start. --steps should
cover at least two of the longest truncation: the default, 20,000, covers two of 10,000.

Online learning keeps its memory flat (start = end = peak, up to allocator noise); BPTT holds
the autograd graph of all T steps until their end, so its peak grows with T.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time


def status_mb(field: str) -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(learner_name: str, truncation: int, steps: int, warmup: int, hidden: int, compile_: bool,
          env_name: str) -> dict:
    import numpy as np
    import torch

    from tracerl import envs
    from tracerl.agents import make_agent
    from tracerl.learners import LEARNERS, make_learner
    from tracerl.learners.presets import preset
    from tracerl.learners.run import make_env
    from tracerl.learners.run.settings import applicable
    from tracerl.learners.run.loop import Callback, loop

    torch.set_num_threads(1)
    env_id = envs.resolve_id(env_name)
    cfg = preset(env_id, learner_name)
    cfg["agent"]["hidden"] = hidden
    if learner_name == "bptt":
        cfg["learner"]["truncation"] = truncation
    env = make_env(env_id, 1)
    obs, _ = env.reset(seed=0)
    agent = make_agent("spiking", env.single_observation_space, env.single_action_space, n=1, seed=0, **cfg["agent"])
    learner = make_learner(learner_name, agent, **applicable(LEARNERS[learner_name], cfg["learner"]))
    if compile_:
        learner.compile()
    state = loop(agent, learner, env, obs, warmup, reward=cfg["reward"])
    if learner_name == "bptt" and learner._r:  # learn the partial stretch: the measured steps start anew
        learner._learn()
    gc.collect()
    start = status_mb("VmRSS")
    exact = reset_peak()
    times = np.empty(steps)
    samples = []
    every = max(1, steps // 100)

    class Clock(Callback):  # the time of each step, from the end of the one before
        def on_start(self, s) -> None:
            self.last = time.perf_counter()

        def on_step(self, s) -> bool:
            now = time.perf_counter()
            times[s.t - 1 - warmup] = now - self.last
            if (s.t - 1 - warmup) % every == 0:
                samples.append(status_mb("VmRSS"))
            self.last = time.perf_counter()
            return True

    loop(agent, learner, env, state.obs, warmup + steps, t=warmup, reward=cfg["reward"], measures=state.measures,
         callbacks=[Clock()])
    end = status_mb("VmRSS")
    peak = status_mb("VmHWM") if exact else max(samples + [end])
    return {"learner": learner_name, "truncation": truncation if learner_name == "bptt" else None, "steps": steps,
            "compiled": bool(compile_ and learner_name != "bptt"), "ms_mean": 1000 * float(times.mean()),
            "ms_max": 1000 * float(times.max()), "rss_start": start, "rss_end": end, "peak": peak,
            "growth": peak - start, "peak_exact": exact}


def table(rows: list[dict]) -> str:
    lines = ["| learner | truncation | steps | time per step, ms (mean) | slowest step, ms | RSS at start MB | "
             "RSS at end MB | peak RSS MB | peak growth MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = f"{r['learner']} ({'compiled' if r['compiled'] else 'eager'})"
        truncation = f"{r['truncation']:,}" if r["truncation"] else "online"
        lines.append(f"| {name} | {truncation} | {r['steps']:,} | {r['ms_mean']:.3f} | {r['ms_max']:.1f} | "
                     f"{r['rss_start']:.1f} | {r['rss_end']:.1f} | {r['peak']:.1f}{'' if r['peak_exact'] else '*'} | "
                     f"{r['growth']:+.1f} |")
    if not all(r["peak_exact"] for r in rows):
        lines.append("\n\\* the peak could not be reset here (/proc/self/clear_refs): the largest of 100 RSS samples")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--truncations", "--windows", type=int, nargs="+", default=[100, 1000, 10_000],
                   help="bptt's truncation T, env steps (--windows: the old name)")
    p.add_argument("--steps", type=int, default=20_000, help="measured steps per learner (default: 20000)")
    p.add_argument("--warmup", type=int, default=300, help="steps before measuring (default: 300)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--env", default="pong")
    p.add_argument("--no-compile", action="store_true", help="eprop eager as well (bptt always runs eager)")
    p.add_argument("--out", default=None, metavar="FILE.md", help="also write the table here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        name, _, truncation = args.child.partition(":")
        result = child(name, int(truncation or 0), args.steps, args.warmup, args.hidden, not args.no_compile, args.env)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    for name in ("steps", "hidden"):
        if getattr(args, name) < 1:
            print(f"bench_bptt_memory.py: error: --{name} must be >= 1", file=sys.stderr)
            return 2
    if min(args.truncations) < 1 or args.warmup < 0:
        print("bench_bptt_memory.py: error: --truncations must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    if args.steps < 2 * max(args.truncations):
        print(f"note: {args.steps:,} steps cover fewer than two truncations of {max(args.truncations):,}",
              file=sys.stderr)
    rows = []
    for spec in ["eprop"] + [f"bptt:{w}" for w in args.truncations]:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", spec, "--steps", str(args.steps), "--warmup",
               str(args.warmup), "--hidden", str(args.hidden), "--env", args.env] + ["--no-compile"] * args.no_compile
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if out.returncode != 0 or line is None:
            print(f"bench_bptt_memory.py: {spec} failed (exit {out.returncode}): {out.stderr.strip()[-2000:]}",
                  file=sys.stderr)
            return 1
        rows.append(json.loads(line[len("RESULT "):]))
        r = rows[-1]
        print(f"{spec}: {r['ms_mean']:.3f} ms/step, RSS {r['rss_start']:.1f} -> {r['rss_end']:.1f} MB, peak "
              f"{r['peak']:.1f} MB ({time.perf_counter() - t0:.0f}s)", flush=True)
    text = table(rows)
    print(f"\n{args.env}, spiking {args.hidden} hidden, one lifetime, one torch thread, {args.steps:,} measured steps "
          f"after {args.warmup} warm-up steps\n\n{text}")
    if args.out:
        with open(args.out, "w") as f:
            f.write("python scripts/bench_bptt_memory.py " + " ".join(sys.argv[1:] if argv is None else argv)
                    + "\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
