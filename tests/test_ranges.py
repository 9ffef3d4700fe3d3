"""agents/ranges.py: every numeric setting's range, one line naming the value and the range."""

import math

import pytest
from gymnasium import spaces

from tracerl.agents import make_agent
from tracerl.learners import make_learner
from tracerl.agents.ranges import RANGES, Range, check_range, check_ranges


@pytest.mark.parametrize("name, value, message", [
    ("lr", -1, "lr -1 is out of range; allowed: lr >= 0"),
    ("gamma", 1.5, "gamma 1.5 is out of range; allowed: 0 <= gamma <= 1"),
    ("trace_lambda", 1.0, "trace_lambda 1.0 is out of range; allowed: 0 <= trace_lambda < 1"),
    ("entropy", -0.1, "entropy -0.1 is out of range; allowed: entropy >= 0"),
    ("temperature", 0, "temperature 0 is out of range; allowed: temperature > 0"),
    ("lr", math.nan, "lr nan is out of range; allowed: lr >= 0"),
    ("ticks", 2.5, "ticks 2.5 is not an integer; allowed: ticks >= 1 (an integer)"),
    ("lr", "fast", "lr 'fast' is not a number; allowed: lr >= 0"),
    ("lifetimes", True, "lifetimes True is not an integer; allowed: lifetimes >= 1 (an integer)"),
])
def test_out_of_range_values_are_refused_in_one_line(name, value, message):
    with pytest.raises(ValueError) as e:
        check_range(name, value)
    assert str(e.value) == message


def test_values_in_range_and_unknown_names_pass():
    check_ranges({"lr": 0.0, "gamma": 1.0, "trace_lambda": 0.0, "entropy": 0.0, "temperature": 1e-3,
                  "ticks": 1, "seed": 0, "tau_mem": 10.0, "not_a_setting": -5, "lambda_end": None})


def test_the_label_names_the_flag_and_the_range_the_setting():
    with pytest.raises(ValueError, match=r"^--trace-lambda 1.5 is out of range; allowed: 0 <= trace_lambda < 1$"):
        check_range("trace_lambda", 1.5, "--trace-lambda")


def test_range_bounds_open_and_closed():
    r = Range(0, 1, open_high=True)
    assert r.holds(0) and r.holds(0.999) and not r.holds(1) and not r.holds(-1e-9) and not r.holds(math.nan)
    assert Range(0, open_low=True).text("tau") == "tau > 0"
    assert Range(0, 1, True, True).text("p") == "0 < p < 1"


@pytest.mark.parametrize("learner, kwargs, message", [
    ("reflect", {"lr": -1}, "lr -1 is out of range"),
    ("reflect", {"trace_lambda": 1.5}, "trace_lambda 1.5 is out of range"),
    ("bptt", {"gamma": 1.5}, "gamma 1.5 is out of range"),
    ("bptt", {"truncation": 0}, "truncation 0 is out of range"),
    ("eprop", {"lr": -1}, "lr -1 is out of range"),
    ("eprop", {"gamma": 1.5}, "gamma 1.5 is out of range"),
    ("eprop", {"entropy": -0.1}, "entropy -0.1 is out of range"),
])
def test_learner_constructors_check_their_ranges(learner, kwargs, message):
    agent = make_agent("spiking", spaces.Box(-1, 1, (3,)), spaces.Discrete(2), hidden=8)
    with pytest.raises(ValueError, match=message):
        make_learner(learner, agent, **kwargs)



@pytest.mark.parametrize("agent_name, kwargs, message", [
    ("spiking", {"temperature": 0}, "temperature 0 is out of range"),
    ("spiking", {"ticks": 0}, "ticks 0 is out of range"),
    ("spiking", {"tau_out": -1.0}, "tau_out -1.0 is out of range"),
    ("spiking", {"target_rate": 1.0}, "target_rate 1.0 is out of range"),
    ("mlp", {"temperature": -1.0}, "temperature -1.0 is out of range"),
    ("mlp", {"out_scale": -0.1}, "out_scale -0.1 is out of range"),
])
def test_agent_constructors_check_their_ranges(agent_name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_agent(agent_name, spaces.Box(-1, 1, (3,)), spaces.Discrete(2), hidden=8, **kwargs)


def test_the_layers_are_one_way_agents_and_envs_import_nothing_of_the_learners():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for folder in ("agents", "envs"):
        for path in (root / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names] if isinstance(node, ast.Import) else []
                assert not any(n.startswith("tracerl.learners") for n in names), f"{path.name} imports {names}"
