"""agents/compiled.py: a step compiled once and then called without Dynamo computes what eager does."""

import pytest
import torch

from tracerl.agents import compiled
from tracerl.agents.compiled import CompiledStep


class Counter(torch.nn.Module):
    """A tiny stateful step: a buffer changed in place, a dict of results."""

    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros(3))
        self.scale = 2.0

    def step(self, x: torch.Tensor, unused: torch.Tensor) -> dict:
        self.total.add_(x * self.scale)
        return {"total": self.total * 1.0, "norm": self.total.norm()}

    def step_returning_its_input(self, x: torch.Tensor) -> tuple:
        self.total.add_(x)
        return x, self.total.sum()  # x is passed through, not a graph output: Dynamo's path must stay


def test_direct_calls_match_eager_and_change_buffers_in_place():
    eager, compiled = Counter(), Counter()
    step = CompiledStep(compiled.step)
    for i in range(5):
        x = torch.arange(3.0) + i
        want = eager.step(x, torch.zeros(()))
        got = step(x, torch.zeros(()))
        assert got.keys() == want.keys()
        for k in want:
            torch.testing.assert_close(got[k], want[k])
    assert step.direct
    torch.testing.assert_close(compiled.total, eager.total)


def test_a_result_made_outside_the_graph_keeps_dynamos_path():
    eager, compiled = Counter(), Counter()
    step = CompiledStep(compiled.step_returning_its_input)
    for i in range(3):
        x = torch.full((3,), float(i))
        got = step(x)
        assert got[0] is x
        torch.testing.assert_close(got[1], eager.step_returning_its_input(x)[1])
    assert not step.direct
    torch.testing.assert_close(compiled.total, eager.total)


@pytest.mark.parametrize("public", [False, True])
def test_the_public_guard_filter_computes_the_same(monkeypatch, public):
    """Where torch lacks the private entry points, the public guard filter runs the step (more slowly)."""
    monkeypatch.setattr(compiled, "PUBLIC", public)
    eager, module = Counter(), Counter()
    step = CompiledStep(module.step)
    for i in range(4):
        x = torch.arange(3.0) * i
        want, got = eager.step(x, torch.zeros(())), step(x, torch.zeros(()))
        torch.testing.assert_close(got["total"], want["total"])
    assert step.direct is not public
    torch.testing.assert_close(module.total, eager.total)


def test_one_process_compiles_more_steps_of_the_same_code_than_dynamos_recompile_limit():
    """Every agent's step is the same code object; Dynamo refuses a ninth compile of one code unless
    a step that went direct gives its cache entry back."""
    limit = getattr(torch._dynamo.config, "recompile_limit", 8)
    modules = [Counter() for _ in range(limit + 2)]
    steps = [CompiledStep(m.step) for m in modules]
    x = torch.arange(3.0)
    for step in steps:
        step(x, torch.zeros(()))
        step(x, torch.zeros(()))
        assert step.direct
    for m, step in zip(modules, steps):  # the earlier ones still run, on their own buffers
        torch.testing.assert_close(step(x, torch.zeros(()))["total"], 6 * x)
        torch.testing.assert_close(m.total, 6 * x)


def test_a_step_inductor_cannot_compile_with_the_speed_options_is_compiled_again_without_them(monkeypatch):
    """torch 2.13's C++ code generation fails on some graphs with realize_reads_threshold 1 (a
    convolution's step reading the per-lifetime temperature): the step compiles again with
    FALLBACK_OPTIONS, warns once, and computes what eager does. A step's own error still raises."""
    from torch._inductor import compile_fx as cfx

    real = cfx.compile_fx
    InductorError = type("InductorError", (RuntimeError,), {})

    def failing(gm, example_inputs, config_patches=None, **kw):
        if (config_patches or {}).get("realize_reads_threshold") == 1:
            raise InductorError("KeyError: 'buf128'")
        return real(gm, example_inputs, config_patches=config_patches, **kw)

    monkeypatch.setattr(cfx, "compile_fx", failing)
    eager, module = Counter(), Counter()
    step = CompiledStep(module.step)
    with pytest.warns(UserWarning, match="compiling it again with"):
        got = step(torch.ones(3), torch.zeros(()))
    torch.testing.assert_close(got["total"], eager.step(torch.ones(3), torch.zeros(()))["total"])
    assert step.fell_back and step.options["realize_reads_threshold"] == 1
    got = step(torch.ones(3), torch.zeros(()))  # then the direct call, as usual
    torch.testing.assert_close(got["total"], eager.step(torch.ones(3), torch.zeros(()))["total"])
    assert step.direct

    broken = CompiledStep(lambda x: x @ torch.ones(4, 4))  # a shape error is the step's, not Inductor's
    with pytest.raises(Exception, match="size|shape"):
        broken(torch.ones(3))
    assert not broken.fell_back
