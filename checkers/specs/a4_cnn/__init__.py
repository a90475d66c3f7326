"""Assignment a4_cnn: every exercise declared once.

Configurations are drawn, not fixed: batch (from 1), channels, filters, non-square inputs and
kernels, strides above one, padding 0 and more, pooling windows that overlap. Sizes are drawn
through the OUTPUT size (at most 4 x 4), so a student's loops over output positions stay fast.
Max-pool inputs are distinct, at least a hundredth apart, so ties never decide a maximum.

The main properties draw strides that divide H + 2·pad − HH (as CS231n lets students assume);
strides that leave a remainder are checked by a minor property of their own, whose message names
the remainder.

The input strategies are in `inputs`, the known mistakes in `mistakes`, and the assignment's own
checks in `checks`.
"""

from __future__ import annotations

import dlgrade.reference.a4_cnn.conv as ref
from dlgrade.checkers.declare import Exercise, layer, mixed_scales, Property

from .inputs import (batchnorm_cases, batchnorm_spread_cases, conv_cases, cost_cases, global_pool_cases,
                     groupnorm_cases, groupnorm_spread_cases, pool_cases, rf_cases)
from .mistakes import (avg_mistakes, conv_backward_naive_mistakes, conv_cost_mistakes, conv_forward_naive_mistakes,
                       CONV_SHAPE_MISTAKES, global_avg_pool_backward_mistakes, global_avg_pool_forward_mistakes,
                       GLOBAL_SPREAD, max_mistakes, max_pool_forward_naive_mistakes, ONLY_MAX, POOL_SHAPE_MISTAKES,
                       receptive_field_mistakes, spatial_batchnorm_backward_mistakes,
                       spatial_batchnorm_forward_mistakes, spatial_groupnorm_backward_mistakes,
                       spatial_groupnorm_forward_mistakes, SPREAD)
from .checks import (_avg_pool_unit, _cost_types, _db_is_sum_of_dout, _global_pool_unit, _max_pool_unit,
                     _one_hot_gradient, _output_size, _overlapping_windows, _rf_types, _running_statistics,
                     _translation_equivariant, _value_function, A, conv_not_dividing, MODULE, pool_not_dividing)


# ---------------------------------------------------------------------------------------------
# The exercises

def spatial_batchnorm_layer(cases) -> list[Exercise]:
    """Spatial batchnorm's forward and backward exercises, drawing from `cases`."""
    return layer(A, MODULE, "spatial_batchnorm_forward", "spatial_batchnorm_backward", ref.spatial_batchnorm,
                 cases, ("x", "gamma", "beta"), mutable=("bn_param",),
                 summary="spatial batch normalisation (per channel over N, H, W)",
                 variants=[mixed_scales(batchnorm_spread_cases())],
                 forward_mistakes=spatial_batchnorm_forward_mistakes,
                 forward_extra=[Property("running_statistics",
                                         "train steps write momentum-averaged running statistics back into bn_param, "
                                         "and test mode normalises with them", _running_statistics,
                                         cases=batchnorm_cases(("train",)))],
                 backward_mistakes=spatial_batchnorm_backward_mistakes)


EXERCISES = [
    *layer(A, MODULE, "conv_forward_naive", "conv_backward_naive", ref.conv, conv_cases(), ("x", "w", "b"),
           summary="convolution (cross-correlation) with stride and zero padding", variants=[conv_not_dividing],
           sum_axes={"b": (0, 2, 3)},
           forward_mistakes=conv_forward_naive_mistakes,
           forward_extra=[_output_size("conv_forward_naive", ref.conv, CONV_SHAPE_MISTAKES,
                                       "H' = 1 + (H + 2·pad − HH) // stride"),
                          Property("translation_equivariant",
                                   "shifting the input by one stride shifts conv_forward_naive's output by one position",
                                   _translation_equivariant)],
           backward_mistakes=conv_backward_naive_mistakes,
           backward_extra=[Property("db_is_sum_of_dout", "conv_backward_naive's db is dout summed over batch and space",
                                    _db_is_sum_of_dout)]),
    *layer(A, MODULE, "max_pool_forward_naive", "max_pool_backward_naive", ref.max_pool, pool_cases(), ("x",),
           summary="max pooling, windows possibly overlapping", variants=[pool_not_dividing],
           forward_mistakes=max_pool_forward_naive_mistakes,
           forward_extra=[_output_size("max_pool_forward_naive", ref.max_pool, POOL_SHAPE_MISTAKES,
                                       "H' = 1 + (H − pool_height) // stride")],
           backward_mistakes=max_mistakes,
           backward_extra=[_one_hot_gradient("max_pool_forward_naive", "max_pool_backward_naive", ref.max_pool, _max_pool_unit,
                                             "gradient_lands_on_window_maximum",
                                             "one output unit's gradient lands on its window's maximum, nowhere else",
                                             ONLY_MAX),
                           _overlapping_windows("max_pool_forward_naive", "max_pool_backward_naive", ref.max_pool,
                                                max_mistakes)]),
    *layer(A, MODULE, "avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool, pool_cases(), ("x",),
           summary="average pooling, windows possibly overlapping", variants=[pool_not_dividing],
           forward_extra=[_output_size("avg_pool_forward_naive", ref.avg_pool, POOL_SHAPE_MISTAKES,
                                       "H' = 1 + (H − pool_height) // stride")],
           backward_mistakes=avg_mistakes,
           backward_extra=[_one_hot_gradient("avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool, _avg_pool_unit,
                                             "gradient_spreads_evenly",
                                             "one output unit's gradient spreads evenly over its window", SPREAD),
                           _overlapping_windows("avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool,
                                                avg_mistakes)]),
    *layer(A, MODULE, "global_avg_pool_forward", "global_avg_pool_backward", ref.global_avg_pool,
           global_pool_cases(), ("x",), summary="global average pooling",
           forward_mistakes=global_avg_pool_forward_mistakes,
           backward_mistakes=global_avg_pool_backward_mistakes,
           backward_extra=[_one_hot_gradient("global_avg_pool_forward", "global_avg_pool_backward", ref.global_avg_pool,
                                             _global_pool_unit,
                                             "gradient_spreads_evenly",
                                             "one output unit's gradient spreads evenly over its feature map",
                                             GLOBAL_SPREAD)]),
    # The forward meets both modes; the backward the train mode's cache only (CS231n's has no other).
    spatial_batchnorm_layer(batchnorm_cases())[0],
    spatial_batchnorm_layer(batchnorm_cases(("train",)))[1],
    *layer(A, MODULE, "spatial_groupnorm_forward", "spatial_groupnorm_backward", ref.spatial_groupnorm,
           groupnorm_cases(), ("x", "gamma", "beta"), summary="spatial group normalisation (per example and group)",
           variants=[mixed_scales(groupnorm_spread_cases())],
           forward_mistakes=spatial_groupnorm_forward_mistakes,
           backward_mistakes=spatial_groupnorm_backward_mistakes),
    _value_function("receptive_field", ref.receptive_field, rf_cases, _rf_types, mutable_args=True,
                    summary="receptive field of a stack of convolutions",
                    mistakes=receptive_field_mistakes),
    _value_function("conv_cost", ref.conv_cost, cost_cases(), _cost_types, summary="output shape, parameters, MACs",
                    mistakes=conv_cost_mistakes),
]
