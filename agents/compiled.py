"""Compile a per-step function once with torch.compile, then call the compiled code directly.

A tracerl step (the agent's forward, the learner's update) is a tensor-only function whose state
lives in module buffers: the same tensor objects on every call, changed in place. torch.compile
fuses it into one or two C++ kernels, but at one lifetime each call then spends most of its time in
Dynamo's entry (guards over every buffer and module attribute it touched: ~150 us of ~300 us
measured at N=1 on Pong). :class:`CompiledStep` compiles through Dynamo once, records which
graph inputs are the call's arguments and which are the fixed buffers, and from the second call on
calls Inductor's compiled graph with those same buffers and the new arguments:

    step = CompiledStep(learner._step)       # learner._step(r, terminal, done, obs) -> dict
    out = step(r, terminal, done, obs)       # first call: Dynamo traces and compiles
    out = step(r, terminal, done, obs)       # then: the compiled graph, no guards

What the guards would have caught is then the caller's promise, kept by tracerl's modules:
the arguments keep their shapes and dtypes, buffers are changed in place (``load_state_dict``
copies into them) and never replaced, and Python settings the step reads (lr, lambda, ...) do not
change after compiling; compile again after changing them. A step whose output does not map onto
its graph's outputs (a Python value computed outside the graph, say) keeps Dynamo's normal path.

Why not torch's public ways to skip guards (torch >= 2.6: ``torch.compile(options={"guard_filter_fn":
torch.compiler.skip_all_guards_unsafe})``, ``torch.compiler.set_stance(skip_guard_eval_unsafe=True)``)?
They skip the guards but every call still enters Dynamo's frame and the AOT runtime wrapper.
Measured on the eprop td learning step of Pong at N = 1 (act + learner.step, no env; one thread,
the 2-core machine, 2026-12-02, three interleaved rounds, medians of 5 x 2,000 steps): the direct
call 11.2k, 12.3k, 14.6k steps/s; the guard filter 7.5k, 8.7k, 9.8k; filter and stance 9.8k, 7.9k,
10.9k. The direct call stays; where this torch lacks the private entry points (``compile_fx``),
:class:`CompiledStep` falls back to the public guard filter (:data:`PUBLIC`, slower, the same values).
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch.utils import _pytree as pytree


# Inductor options for a step, measured on the spiking Pong step (N=64 lifetimes, one thread):
# - size_asserts: the shapes are fixed by the caller's promise; no per-call checks.
# - realize_opcount_threshold: a small pointwise result used by several loops (the encoded
#   observation, ~15 ops with a division and a sqrt) is stored once instead of recomputed inside
#   every (lifetime, neuron) iteration of the per-synapse loops (Inductor's CPU default: 50 ops).
# - cpp.enable_tiling_heuristics: the 8 x 8 transposing tiles Inductor picks for the forward's
#   W_in x reduction gather element by element; plain loops are faster.
# - realize_reads_threshold: a value read by more than one loop is stored once instead of recomputed
#   in each (Inductor's default: more than 4 reads). In td's step, where the forward on the next
#   observation and the update share one graph, a 1,200 -> 128 dense layer over 2 lifetimes took
#   6.8 ms a step with the default and 0.8 ms with 1 (MinAtar Breakout); Pong's features: the same.
# None changes a value: contraction to FMA is off, and no reduction changes its order.
# FALLBACK: where Inductor's C++ code generation fails on a graph with these options (torch 2.13,
# a convolution's step that reads the per-lifetime softmax temperature: KeyError in its outer-loop
# fusion), the step is compiled again with Inductor's own read threshold: possibly slower, the
# same values.
DEFAULT_OPTIONS = {"size_asserts": False, "realize_opcount_threshold": 10, "cpp.enable_tiling_heuristics": False,
                   "realize_reads_threshold": 1}
FALLBACK_OPTIONS = {"realize_reads_threshold": 4}
PUBLIC = False  # True: torch.compile's public guard filter instead of the direct call (see the module docstring)


def _compile_failed(e: Exception) -> bool:
    """Whether ``e`` is Inductor failing to compile (not the step's own error, raised while tracing)."""
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"InductorError", "BackendCompilerFailed"})


class CompiledStep:
    """``fn`` compiled with torch.compile (fullgraph, static shapes), called without Dynamo's guards.

    Args:
        fn: a tensor-only function of tensor arguments; it may mutate module buffers in place and
            returns None, a tensor, or a (nested) tuple / list / dict of tensors.
        options: Inductor options, on top of :data:`DEFAULT_OPTIONS`.
    """

    def __init__(self, fn: Callable, options: dict | None = None):
        options = {**DEFAULT_OPTIONS, **(options or {})}
        self.fn, self.direct, self._tried = fn, False, False
        self.options, self.fell_back = options, False
        self._build(options)

    def _build(self, options: dict) -> None:
        fn = self.fn
        self._graph = None  # Inductor's compiled graph: called with the flat inputs, returns the outputs
        self._first: tuple[list, tuple] | None = None  # the first call's (inputs, outputs)
        try:
            from torch._inductor.compile_fx import compile_fx
        except ImportError:
            compile_fx = None
        if compile_fx is None or PUBLIC:  # torch's public way: Dynamo on every call, no guards evaluated
            self._tried = True
            self._dynamo = torch.compile(fn, fullgraph=True, dynamic=False,
                                         options={**options, "guard_filter_fn": torch.compiler.skip_all_guards_unsafe})
            return

        def backend(gm: torch.fx.GraphModule, example_inputs: list) -> Callable:
            compiled = compile_fx(gm, example_inputs, config_patches=dict(options))
            self._graph = compiled

            def call(*args):
                out = compiled(*args)
                if not self._tried and self._first is None:
                    self._first = (list(args), tuple(out) if isinstance(out, (tuple, list)) else (out,))
                return out

            return call

        self._dynamo = torch.compile(fn, backend=backend, fullgraph=True, dynamic=False)

    def __call__(self, *args: torch.Tensor):
        if self.direct:
            inputs = self._template.copy()
            for i, a in zip(self._arg_slots, args):
                if i is not None:
                    inputs[i] = a
            outs = self._graph(*inputs)
            if self._keys is not None:  # a flat dict of tensors, the common case: no pytree walk
                return {k: outs[i] for k, i in zip(self._keys, self._out_slots)}
            if self._spec is None:  # the step returns nothing (it only changes buffers)
                return None
            return pytree.tree_unflatten([outs[i] for i in self._out_slots], self._spec)
        try:
            result = self._dynamo(*args)
        except Exception as e:  # Dynamo traces on fake tensors: a failed compile changed no buffer
            if self.fell_back or self._graph is not None or not _compile_failed(e):
                raise
            warnings.warn(f"torch.compile failed on this step ({type(e).__name__}); compiling it again with "
                          f"{FALLBACK_OPTIONS} (possibly slower, the same values)")
            self.fell_back = True
            self._build({**self.options, **FALLBACK_OPTIONS})
            result = self._dynamo(*args)
        if not self._tried and self._first is not None:
            self._tried = True
            self._go_direct(args, result)
        return result

    def _go_direct(self, args: tuple, result) -> None:
        """Map the call's arguments to graph inputs and the result's leaves to graph outputs, by identity."""
        inputs, outputs = self._first
        self._first = None  # do not keep the first call's tensors alive
        arg_slots = []
        for a in args:
            slots = [i for i, t in enumerate(inputs) if t is a]
            if not isinstance(a, torch.Tensor) or len(slots) > 1:
                return  # a non-tensor or duplicated argument: keep Dynamo's path
            arg_slots.append(slots[0] if slots else None)  # None: the graph does not read it
        leaves, spec = pytree.tree_flatten(result) if result is not None else ([], None)
        out_slots = []
        for leaf in leaves:
            slots = [i for i, t in enumerate(outputs) if t is leaf]
            if not slots:
                return  # a value made outside the graph: keep Dynamo's path
            out_slots.append(slots[0])
        self._template = [None if i in arg_slots else t for i, t in enumerate(inputs)]
        self._arg_slots, self._out_slots, self._spec = arg_slots, out_slots, spec
        flat_dict = isinstance(result, dict) and all(isinstance(v, torch.Tensor) for v in result.values())
        self._keys = list(result) if flat_dict else None
        # Dynamo wraps the graph so that it is not traced again from inside a compiled frame; called
        # from plain Python, the wrapper only costs time
        self._graph = getattr(self._graph, "__wrapped__", self._graph)
        self.direct = True
        # Dynamo keeps a cache entry per compile of the same code (every agent's advance is one code
        # object) and refuses the ninth (its recompile limit, 8). This step no longer enters Dynamo:
        # its entry goes, so that one process may compile any number of agents and learners.
        code = getattr(self.fn, "__code__", None)
        if code is not None and hasattr(torch._dynamo, "reset_code"):
            torch._dynamo.reset_code(code)
