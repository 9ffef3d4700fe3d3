"""scripts/bench_imitation.py: online imitation of the scripted policies through the agents' local gradients."""

import numpy as np
import pytest

from conftest import script

bench_imitation = script("bench_imitation")


@pytest.mark.parametrize("agent", ["spiking", "mlp"])
def test_imitation_learns_the_scripted_pong_policy(agent):
    """With the local gradient toward the scripted action the agent agrees with it, and plays, far better than untaught."""
    args = ["--env", "pong", "--agent", agent, "--steps", "600", "--seeds", "2", "--every", "600", "--no-compile"]
    taught = bench_imitation.main(args)
    untaught = bench_imitation.main([*args, "--lr", "0"])
    assert np.all(untaught["agreement"] < 0.5)  # three actions, about a third by chance
    assert np.all(taught["agreement"] > untaught["agreement"] + 0.2)
    assert np.all(taught["hit_rate"] > untaught["hit_rate"])


def test_frozen_steps_judge_what_the_weights_hold():
    """--frozen-steps plays on with every update stopped: a taught agent still plays far better than an untaught one."""
    args = ["--env", "pong", "--agent", "mlp", "--steps", "3000", "--seeds", "2", "--every", "3000", "--no-compile",
            "--lr", "0.003", "--frozen-steps", "2000"]
    taught = bench_imitation.main(args)
    untaught = bench_imitation.main([*args[:-4], "--lr", "0", "--frozen-steps", "2000"])
    assert set(taught) >= {"frozen_agreement", "frozen_hit_rate"}
    assert np.all(taught["frozen_hit_rate"] > untaught["frozen_hit_rate"] + 0.3)


@pytest.mark.parametrize("env_id", ["tracerl/Pong-v0", "tracerl/FlappyBird-v0"])
@pytest.mark.parametrize("n", [2, 4])  # single games, and the natively batched ones
def test_the_teacher_of_a_pixel_agent_reads_the_games_state(env_id, n):
    """With obs_type=pixels the scripted policy still gets the features of the very state the agent sees."""
    from tracerl.learners.run import make_env
    seen, felt = make_env(env_id, n, obs_type="pixels"), make_env(env_id, n)
    pixels, _ = seen.reset(seed=3)
    features, _ = felt.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        assert pixels.shape[1:] != features.shape[1:]
        np.testing.assert_array_equal(bench_imitation.teacher_view(seen), features)
        actions = rng.integers(0, seen.single_action_space.n, n)
        pixels, *_ = seen.step(actions)
        features, *_ = felt.step(actions)


@pytest.mark.parametrize("args, says", [
    (["--env", "cartpole"], "--env 'cartpole' has no scripted policy; allowed: 'pong', 'flappy'"),
    (["--set", "tau=3"], "--set 'tau' is not a keyword of the spiking agent; allowed: beta,"),
    (["--set", "tau_mem"], "invalid --set 'tau_mem'; expected KEY=VALUE, e.g. --set tau_adapt=200"),
    (["--env-kwarg", "pixels"], "invalid --env-kwarg 'pixels'; expected KEY=VALUE, e.g. --env-kwarg obs_type=pixels"),
])
def test_bad_input_is_one_line_and_exit_2(args, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench_imitation.main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err
