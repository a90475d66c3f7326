"""Everything a spec author needs, in one place: the declarations, their parts, and helpers.

A spec (`checkers/specs/<assignment>/`) imports from this module, from `dlgrade.reference` (its
torch references) and from third-party libraries (numpy, hypothesis, torch), and from nothing
else of dlgrade; `tests/test_declare.py` checks that, and that every name below is documented.

Declarations (each returns a list of exercises; see their docstrings):
    layer, loss, function        a forward/backward pair, (loss, grads), one array
    update_rule                  a stateful rule `RULE(w, dw, config) -> (next_w, config)` over steps
    exercise                     any other exercise: its own properties, the hygiene ones included

Their parts: Case (one drawn input), Mistake (a known mistake and its hint), Property, Variant,
convention, stability, mixed_scales (variants on cases of their own), examples (explicit cases),
Target (how a function is called), Run and Call (what calls sent and got back, for the hygiene
properties unchanged_property, fresh_property, float32_property), Unchanged, ARGUMENTS and
UPSTREAM (how a modified argument is told).

Constants:
    CORRECTNESS_WEIGHT   weight of a comparison with the reference within an exercise's points
    HYGIENE_WEIGHT       weight of a hygiene property (minor)
    FLOAT32_WEIGHT       weight of preserves_float32 (0: advice unless the manifest weighs it)
    CONVENTION_WEIGHT    weight of a convention beyond CS231n's (minor)
    STABILITY_EXAMPLES   examples of the stability and configuration variants at most
    BACKWARD_NOT_CHECKED how a backward's failure begins when its forward cannot feed it
    INDEPENDENT_CACHES   the hint where two caches interfere
    UNSTABLE_EXP, ROW_MAXIMUM, LOG_SUM_EXP, SPREAD_SCALES   hints of the stability variants
    FLOAT32, FLOAT64     the comparison tolerances (Tolerance) of float32 and float64 values
    batch_sizes, dims, seeds   strategies of batch sizes, dimensions and seeds
    LOSSES               the losses the data-parallel step is run with, by name (a7)
"""

from __future__ import annotations

from dlgrade.checkers.compare import (FLOAT32, FLOAT64, Tolerance, assert_matches, count_text, require_array,
                                      require_scalar, values_close)
from dlgrade.checkers.contract import DeclarationError, in_call_order
from dlgrade.checkers.exercise import BACKWARD_NOT_CHECKED, Case, Context, Exercise, Mistake, Property, PropertyFailure
from dlgrade.checkers.hygiene import (FLOAT32_WEIGHT, HYGIENE_WEIGHT, Call, Run, Unchanged, float32_property,
                                      fresh_property, on_float32, unchanged_property)
from dlgrade.checkers.kinds import RuleWords, Step, sample, sampler, student_steps, trajectory, update_rule
from dlgrade.checkers.oracle import evaluate
from dlgrade.checkers.properties import (ARGUMENTS, UPSTREAM, CONVENTION_WEIGHT, CORRECTNESS_WEIGHT, INDEPENDENT_CACHES, LOG_SUM_EXP,
                                         ROW_MAXIMUM, SPREAD_SCALES, STABILITY_EXAMPLES, UNSTABLE_EXP, Called, Target,
                                         Variant, backward_properties, best_effort, call_target, convention, examples,
                                         explain_interference, forward_for_backward, function, gradient_names, layer,
                                         loss, mistake_hints, mixed_scales, output_properties, require_like, stability,
                                         unpack_gradients)
from dlgrade.checkers.strategies import (batch_sizes, cases, dims, elementwise_cases, labels, optional, seeds,
                                         spread_groups, spread_rows, spread_values, upstream, values)
from dlgrade.grader.boundary.submission import CallOutcome, SeededGenerator
from dlgrade.grader.boundary.tensor_driver import LOSSES

__all__ = [
    # declarations
    "layer", "loss", "function", "update_rule", "sampler",
    # their parts
    "Case", "Mistake", "Property", "Exercise", "Variant", "Target", "convention", "stability", "mixed_scales",
    "examples", "RuleWords", "Step", "student_steps", "trajectory", "sample",
    # hygiene, written once over a run
    "Run", "Call", "Unchanged", "ARGUMENTS", "UPSTREAM", "unchanged_property", "fresh_property", "float32_property",
    "on_float32",
    # property builders and helpers for an exercise's own checks
    "Context", "Called", "CallOutcome", "PropertyFailure", "DeclarationError", "call_target", "in_call_order",
    "output_properties", "backward_properties", "forward_for_backward", "unpack_gradients", "gradient_names",
    "mistake_hints", "best_effort", "explain_interference", "evaluate",
    # comparisons
    "Tolerance", "FLOAT32", "FLOAT64", "assert_matches", "values_close", "require_array", "require_scalar",
    "require_like", "count_text",
    # strategies
    "cases", "values", "labels", "upstream", "optional", "elementwise_cases", "spread_rows", "spread_values",
    "spread_groups", "batch_sizes", "dims", "seeds", "SeededGenerator",
    # constants
    "CORRECTNESS_WEIGHT", "HYGIENE_WEIGHT", "FLOAT32_WEIGHT", "CONVENTION_WEIGHT", "STABILITY_EXAMPLES",
    "BACKWARD_NOT_CHECKED", "INDEPENDENT_CACHES", "UNSTABLE_EXP", "ROW_MAXIMUM", "LOG_SUM_EXP", "SPREAD_SCALES",
    "LOSSES",
]
