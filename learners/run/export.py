"""A train.py checkpoint's lifetime as a NIR graph file, and a NIR file as a policy to play.

    notes = export("runs/.../checkpoint.pt", lifetime=0, out="policy.nir")   # scripts/export.py
    player, config = load_graph("policy.nir")                                # watch.py policy.nir

The graph and what it holds: :mod:`tracerl.agents.nirgraph`. The lifetime is exported as the
checkpoint holds it, with its own plasticity stopped (homeostatic biases, input statistics:
``agent.freeze()``) and its activity zeroed (the graph starts from rest). Needs the ``nir`` extra.
"""

from __future__ import annotations

import json
import os

import numpy as np

from tracerl.learners.run.build import build_env, build_lifetime
from tracerl.learners.run.checkpoint import load_checkpoint
from tracerl.learners.run.settings import UsageError, one_line

NEEDS_NIR = "needs the nir package: pip install -e \".[nir]\""


def _nirgraph():
    try:
        from tracerl.agents import nirgraph
    except ImportError as e:
        raise UsageError(f"NIR export and import {NEEDS_NIR} ({one_line(e)})")
    return nirgraph


def export(checkpoint: str, lifetime: int, out: str) -> list[str]:
    """Write lifetime ``lifetime`` of ``checkpoint`` to ``out``; returns the approximations made
    (empty: exact). Raises UsageError, one line, for bad input or a network NIR cannot express."""
    nirgraph = _nirgraph()
    import nir

    ckpt = load_checkpoint(checkpoint)
    config = ckpt["config"]
    n = config["lifetimes"]
    if not 0 <= lifetime < n:
        raise UsageError(f"--lifetime {lifetime} is not a lifetime of this checkpoint; allowed: 0 to {n - 1}")
    if config["agent"] != "spiking":
        raise UsageError(f"agent {config['agent']!r} is not spiking: only a spiking policy has a NIR form")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {out!r}: folder {folder!r} does not exist")
    env = build_env(config, 1, singles=True, render=False)
    agent, _ = build_lifetime(ckpt, checkpoint, env, lifetime)
    env.close()
    agent.freeze()
    agent.reset_state()
    try:
        graph, notes = nirgraph.to_nir(agent, 0, config["env"])
    except ValueError as e:
        raise UsageError(one_line(e))
    graph.metadata.update({"lifetime": lifetime, "env.kwargs": json.dumps(config["env_kwargs"]),
                           "checkpoint.step": int(ckpt["step"]), "reward": config["reward"]})
    nir.write(out, graph)
    return notes


def load_graph(path: str, seed: int | None = None):
    """A NIR file written by :func:`export` as a policy of one lifetime (no learning), and the run
    settings to build its game (``env``, ``env_kwargs``, ``reward``, ``seed``, ``lifetimes``)."""
    nirgraph = _nirgraph()
    import nir

    if not os.path.isfile(path):
        raise UsageError(f"NIR file {path!r} not found")
    try:
        graph = nir.read(path)
    except Exception as e:
        raise UsageError(f"cannot read NIR file {path!r}: corrupt or not a NIR graph ({one_line(e)})")
    meta = getattr(graph, "metadata", {}) or {}
    try:
        player = nirgraph.NIRPolicy(graph, seed=seed)
    except (KeyError, ValueError) as e:
        raise UsageError(f"{path!r}: {one_line(e)}")
    config = {"env": str(meta["env"]), "env_kwargs": json.loads(str(meta.get("env.kwargs", "{}"))),
              "reward": str(meta.get("reward", "env")), "seed": int(np.asarray(meta["seed"])), "lifetimes": 1,
              "step": int(np.asarray(meta.get("checkpoint.step", 0)))}
    return player, config
