"""One home for a run: what scripts/train.py, watch.py, sweep.py, compare.py and the benchmarks do,
as a library they call.

    from tracerl.learners.run import make_env
    from tracerl.learners.run.loop import Callback, loop
    env = make_env("pong", n=5)                      # N games, same-step autoreset
    obs, _ = env.reset(seed=0)
    state = loop(agent, learner, env, obs, steps=200_000, callbacks=[...])

    from tracerl.learners.run.train import train     # a whole train.py run, settings to exit code
    code = train({"env": "pong", "lifetimes": 5})

The modules, each with its tests:

- :mod:`.settings`: presets < config file < flags < --set, checked (``resolve``, ``UsageError``).
- :mod:`.build`: the games, agent and learner of a run's settings, and compiling them.
- :mod:`.games`: N games behind Gymnasium's vector API (``make_env``), the learning reward, the
  per-lifetime ``Measures`` and each game's measure in one registry (``GAMES``).
- :mod:`.loop`: the act / env step / learn loop, written once, with SB3-style callbacks.
- :mod:`.callbacks`: train.py's callbacks: logging, progress, checkpoints, live window, signals.
- :mod:`.checkpoint`: save and load what continues the same lifetimes.
- :mod:`.runlog`: run folders and the TensorBoard log (one run per lifetime, an aggregate).
- :mod:`.live`: the pygame live window (imports pygame only when opened).
- :mod:`.stats`: bootstrap intervals and the IQM that compare.py and sweep.py share.
- :mod:`.compare`, :mod:`.sweep`: reading TensorBoard runs into figures; a sweep's trials and table.
- :mod:`.train`: a whole run.

Why under learners/: a run is an agent learning in games, so it needs all three packages;
agents and envs need nothing of it, and learners already build on agents. Placed here it keeps
every import pointing one way (envs, agents <- learners <- learners.run), inside the folders the
package installs (``tracerl.learners.run``), while ``import tracerl.learners`` alone stays light
(this subpackage, with TensorBoard, YAML and tqdm, loads only when asked for).
"""

from __future__ import annotations

from tracerl.learners.run.games import (BUNDLED, GAMES, GameMeasure, Measures, SameStepSyncVectorEnv, counts_events,
                                        learning_reward, make_env, measure_of)
from tracerl.learners.run.loop import Callback, LoopState, run

# (the loop itself: tracerl.learners.run.loop.loop; the name ``loop`` here is that module)
__all__ = ["BUNDLED", "GAMES", "Callback", "GameMeasure", "LoopState", "Measures", "SameStepSyncVectorEnv",
           "counts_events", "learning_reward", "make_env", "measure_of", "run"]
