"""Reset to zero, and a learned lifetime exported as a NIR graph and played back (issue 22)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from conftest import script
from tracerl.agents import make_agent, neurons
from tracerl.learners import make_learner
from tracerl.learners.run.build import build_agent, build_env
from tracerl.learners.run.checkpoint import load_checkpoint, one_lifetime
from tracerl.learners.run.loop import Callback, loop

nir = pytest.importorskip("nir")
from tracerl.agents.nirgraph import NIRPolicy, to_nir  # noqa: E402
from tracerl.learners.run.export import load_graph  # noqa: E402

train, watch, export_script = script("train"), script("watch"), script("export")


# -- the reset ---------------------------------------------------------------------------------
@pytest.mark.parametrize("neuron", ["lif", "alif"])
def test_reset_zero_starts_the_next_tick_from_zero_and_subtract_from_v_minus_theta(neuron):
    make = (lambda r: neurons.LIFParams.from_tau(10.0, reset=r)) if neuron == "lif" else \
        (lambda r: neurons.ALIFParams.from_tau(10.0, 200.0, reset=r))
    step = neurons.lif_step if neuron == "lif" else neurons.alif_step
    state = (lambda v, z: neurons.LIFState(v, z)) if neuron == "lif" else \
        (lambda v, z: neurons.ALIFState(v, z, torch.zeros_like(v)))
    v, z, current = torch.tensor([[1.5, 0.4]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.2, 0.2]])
    for reset in ("zero", "subtract"):
        p = make(reset)
        _, st = step(current, state(v, z), p)
        spiked = 0.0 if reset == "zero" else p.alpha * 1.5 - p.theta
        assert torch.allclose(st.v, torch.tensor([[spiked + 0.2, p.alpha * 0.4 + 0.2]]))


def trained(kw: dict, n: int = 3, steps: int = 300, seed: int = 5):
    """A spiking agent after some e-prop learning on CartPole, frozen, at rest."""
    env = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="sync")
    agent = make_agent("spiking", env.single_observation_space, env.single_action_space, n=n, seed=seed, **kw)
    learner = make_learner("eprop", agent)
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(agent.act(obs))
        learner.step(r, term, obs, trunc)
    agent.freeze()
    agent.reset_state()
    return agent, env


def one_of(agent, k: int):
    """Lifetime k of an agent as an agent of one lifetime, same state (its random stream from the start)."""
    one = make_agent("spiking", agent.observation_space, agent.action_space, n=1, seed=agent.seeds[k],
                     **{key: agent.config[key] for key in ("hidden", "recurrent", "reset")})
    one.load_state_dict({key: (t[k:k + 1] if t.dim() and t.shape[0] == agent.n and key != "rng_counter" else t)
                         for key, t in agent.state_dict().items()} | {"rng_counter": torch.zeros(1, dtype=torch.int64)})
    return one.freeze()


def layer_spikes(agent):
    """Every hidden layer's spikes of the last step, by the exported node names."""
    out = {}
    for i, layer in enumerate(agent.layers):
        layer.register_forward_hook(lambda m, args, z, i=i: out.__setitem__(f"layer{i}.lif", z.clone()))
    return out


def observations(env, count: int = 1000, seed: int = 0) -> np.ndarray:
    """Observations of the game, made more varied with noise."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(0.0, 1.0, (count, *env.single_observation_space.shape)).astype(np.float32)
    return obs * np.array([1.0, 1.5, 0.1, 1.5], np.float32)


@pytest.mark.parametrize("kw", [dict(hidden=[32, 16], reset="zero"), dict(hidden=[24], recurrent=True, reset="zero")],
                         ids=["feed-forward", "recurrent"])
def test_tracerls_importer_reproduces_every_hidden_spike_and_every_action(tmp_path, kw):
    agent, env = trained(kw)
    graph, notes = to_nir(agent, lifetime=1, env_id="CartPole-v1")
    assert notes == []
    nir.write(tmp_path / "p.nir", graph)
    player = NIRPolicy(nir.read(tmp_path / "p.nir"))
    assert ("layer0.rec", "layer0.lif") in player.back if kw.get("recurrent") else not player.back
    original = one_of(agent, 1)
    seen = layer_spikes(original)
    fired, actions = 0.0, set()
    for obs in observations(env):
        a, b = original.act(obs), player.act(obs)
        assert torch.equal(original.x, player.x)
        for name, z in seen.items():
            assert torch.equal(z, player.layer_spikes[name]), name
            fired += float(z.mean())
        assert torch.allclose(original.pi, player.pi, atol=1e-5)
        assert a == b
        actions.add(a)
    assert fired > 1.0 and actions == {0, 1}  # the comparison saw spikes and both actions


@pytest.mark.parametrize("convs", [dict(conv_channels=8), dict(conv_channels=[8, 8], conv_kernel=[4, 3], conv_stride=[2, 1]),
                                   dict(conv_channels=8, readout_skip=True)],
                         ids=["one-convolution", "two-convolutions", "direct-path"])
def test_a_picture_agent_exports_its_convolutions_and_plays_move_for_move(tmp_path, convs):
    """A convolution is exported as its Toeplitz matrix (the second reads the first's spikes); the
    event encoder's state, a 0-d flag among arrays, travels in the metadata."""
    space = gym.spaces.Box(0, 1, (10, 10, 4), np.uint8)
    agent = make_agent("spiking", space, gym.spaces.Discrete(3), n=1, seed=2, hidden=16, reset="zero", out_scale=1.0,
                       homeostasis=0.0, **convs).freeze()
    if convs.get("readout_skip"):  # the direct path starts at zero: give it weights worth exporting
        agent.w_out[:, :, agent.hidden_out:] = torch.randn(1, 3, agent.encoder.out_dim, generator=torch.Generator().manual_seed(0))
    graph, notes = to_nir(agent, lifetime=0, env_id="grid")
    assert ("readout.skip" in graph.nodes) == bool(convs.get("readout_skip"))
    assert notes == [] and len(agent.layers) == (3 if isinstance(convs["conv_channels"], list) else 2)
    nir.write(tmp_path / "p.nir", graph)
    player = NIRPolicy(nir.read(tmp_path / "p.nir"))
    rng, actions = np.random.default_rng(0), set()
    for _ in range(100):
        obs = (rng.random((1, 10, 10, 4)) < 0.15).astype(np.uint8)
        a, b = agent.act(obs), player.act(obs)
        assert torch.allclose(agent.pi, player.pi, atol=1e-5) and a == b
        actions.add(int(a[0]))
    assert len(actions) > 1 and all(layer.rate.mean() > 0.01 for layer in agent.layers)


def test_a_lifetime_exports_the_temperature_it_has_lowered_itself_to():
    agent, _ = trained(dict(hidden=[16], reset="zero", temperature=0.5, temperature_start=2.0), n=2, steps=50)
    agent.temp.copy_(torch.tensor([[2.0], [0.7]]))
    graph, _ = to_nir(agent, lifetime=1)
    assert graph.metadata["temperature"] == pytest.approx(0.7)
    assert NIRPolicy(graph).temperature == pytest.approx(0.7)


def test_subtractive_reset_is_exported_as_zero_with_a_note_and_its_spikes_differ(tmp_path):
    agent, env = trained(dict(hidden=[24], reset="subtract"), n=1)
    graph, notes = to_nir(agent, 0)
    assert len(notes) == 1 and "reset 'subtract' exported as reset to zero" in notes[0]
    assert graph.metadata["approximations"] == notes[0]
    player = NIRPolicy(graph)
    original = one_of(agent, 0)
    seen = layer_spikes(original)
    differ = 0
    for obs in observations(env, 200):
        original.act(obs), player.act(obs)
        differ += int((seen["layer0.lif"] != player.layer_spikes["layer0.lif"]).sum())
    assert differ > 100


def test_alif_is_refused_in_one_line():
    env = gym.make("CartPole-v1")
    agent = make_agent("spiking", env.observation_space, env.action_space, n=1, seed=0, hidden=8, neuron="alif")
    with pytest.raises(ValueError, match="^neuron 'alif' has an adaptive threshold that NIR's LIF cannot express; "
                                         "export needs neuron 'lif'$"):
        to_nir(agent)


def hidden_part(graph, last: str, size: int):
    """The graph up to the last LIF layer (snnTorch's importer has no LI node for the readout)."""
    nodes = {k: v for k, v in graph.nodes.items() if not k.startswith("readout") and k != "output"}
    nodes["output"] = nir.Output(output_type={"output": np.array([size])})
    edges = [e for e in graph.edges if "readout" not in e[0] + e[1] and e[1] != "output"] + [(last, "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_snntorch_imports_a_feed_forward_reset_to_zero_policy_exactly_and_not_subtraction(reset):
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    agent, env = trained(dict(hidden=[32, 16], reset=reset), n=1)
    graph, _ = to_nir(agent, 0)
    net = import_from_nir(hidden_part(graph, "layer1.lif", 16))
    seen = layer_spikes(agent)
    differ, fired = 0, 0.0
    for obs in observations(env):
        agent.act(obs)
        for tick in range(agent.ticks):
            z = net(agent.x)
            z = (z[0] if isinstance(z, tuple) else z).detach()
            differ += int((z != seen["layer1.lif"][tick]).sum())
            fired += float(z.mean())
    assert fired > 1.0
    assert differ == 0 if reset == "zero" else differ > 100  # subtraction through snnTorch is the negative control


class Moves(Callback):
    """The action of every step."""

    def __init__(self, agent):
        self.agent, self.moves = agent, []

    def on_step(self, state) -> bool:
        self.moves.append(int(self.agent.action[0]))
        return True


def test_an_exported_lifetime_plays_move_for_move_as_the_frozen_checkpoint(tmp_path):
    assert train.main(["--env", "pong", "--hidden", "16", "--lifetimes", "2", "--steps", "600", "--no-compile",
                       "--set", "reset=zero", "--logdir", str(tmp_path), "--run-name", "z", "--hist-every", "0"]) == 0
    ckpt_path = str(tmp_path / "z__mean" / "checkpoint.pt")
    assert export_script.main([ckpt_path, "--lifetime", "1", "--out", str(tmp_path / "p.nir")]) == 0
    assert watch.main([str(tmp_path / "p.nir"), "--env", "flappy"]) == 2  # the graph's game only
    assert watch.main([str(tmp_path / "p.nir"), "--env", "pong", "--steps", "20", "--steps-per-frame", "0"]) == 0
    player, config = load_graph(str(tmp_path / "p.nir"))
    assert config["env"] == "tracerl/Pong-v0" and config["seed"] == 1 and config["step"] == 600
    ckpt = load_checkpoint(ckpt_path)
    agent = None
    runs = []
    for kind in ("checkpoint", "nir"):
        env = build_env(config if kind == "nir" else ckpt["config"], 1, singles=True, render=False)
        obs, _ = env.reset(seed=1)  # as watch.py plays either: a fresh game seeded as the lifetime was
        if kind == "nir":
            agent = player
        else:
            agent = build_agent(ckpt["config"], env, n=1, seed=1)
            state = one_lifetime(ckpt["agent"], agent.state_dict(), 2, 1)
            state["rng_counter"] = torch.zeros(1, dtype=torch.int64)  # the graph samples from its seed's start
            agent.load_state_dict(state)
            agent.freeze()
            agent.reset_state()
        moves = Moves(agent)
        loop(agent, None, env, obs, 1500, callbacks=[moves])
        runs.append(moves.moves)
    assert runs[0] == runs[1] and len(set(runs[0])) == 3


def test_export_and_watch_errors_are_one_line_exit_2(tmp_path, capsys):
    assert train.main(["--env", "cartpole", "--hidden", "8", "--neuron", "alif", "--steps", "20", "--no-compile",
                       "--logdir", str(tmp_path), "--run-name", "a", "--hist-every", "0"]) == 0
    capsys.readouterr()
    ckpt = str(tmp_path / "a" / "checkpoint.pt")
    cases = [
        (export_script, [ckpt, "--out", str(tmp_path / "a.nir")],
         "export.py: error: neuron 'alif' has an adaptive threshold that NIR's LIF cannot express; export needs "
         "neuron 'lif'"),
        (export_script, [ckpt, "--lifetime", "2"],
         "export.py: error: --lifetime 2 is not a lifetime of this checkpoint; allowed: 0 to 0"),
        (export_script, [str(tmp_path / "missing.pt")],
         f"export.py: error: checkpoint '{tmp_path / 'missing.pt'}' not found"),
        (watch, [str(tmp_path / "missing.nir")], f"watch.py: error: NIR file '{tmp_path / 'missing.nir'}' not found"),
        (watch, [str(tmp_path / "missing.nir"), "--learn"],
         "watch.py: error: a NIR graph does not learn: --learn needs a train.py checkpoint"),
    ]
    for module, argv, line in cases:
        assert module.main(argv) == 2
        assert capsys.readouterr().err.strip().splitlines() == [line]
    (tmp_path / "bad.nir").write_bytes(b"not hdf5")
    assert watch.main([str(tmp_path / "bad.nir")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"watch.py: error: cannot read NIR file '{tmp_path / 'bad.nir'}'")
    assert not (tmp_path / "a.nir").exists()
