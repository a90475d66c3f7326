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
from dlgrade.checkers.declare import evaluate, Exercise, layer, Mistake, mixed_scales, Property

from .inputs import (batchnorm_cases, batchnorm_spread_cases, conv_cases, cost_cases, global_pool_cases,
                     groupnorm_cases, groupnorm_spread_cases, pool_cases, rf_cases)
from .mistakes import (_avg_pool_assigned, _bn_model, _bn_reshape_without_transpose, _bn_with_batch_stats_in_test,
                       _cost_without_bias, _flipped_conv_grads, _gn_model, _groups_across_batch, _interleaved_groups,
                       _macs_without_channels, _max_pool_assigned, _max_pool_assigned_at_max, _norm_without_mean_terms,
                       _normalised, _one_group, _one_sided_conv, _rf_ignoring_strides, _rf_own_stride,
                       _stride_one_grads, _stride_one_output, _vjp, ACCUMULATE, BIAS_PARAMS, BOTH_SIDES, CHANNELS_LAST,
                       CONV_SHAPE_MISTAKES, CROSS_CORRELATION, DB_SUM, DW_AXES, FULL_NORM_BACKWARD, GLOBAL_SPREAD,
                       GROUPS, MACS, ONLY_MAX, POOL_SHAPE_MISTAKES, SPREAD, STRIDE, STRIDES_COMPOUND, TEST_MODE)
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
                 forward_mistakes=[Mistake(CHANNELS_LAST, "output", _bn_reshape_without_transpose),
                                   Mistake(CHANNELS_LAST, "output", _bn_model(lambda x, eps: _normalised(x, 0, eps))),
                                   Mistake(TEST_MODE, "output", _bn_with_batch_stats_in_test)],
                 forward_extra=[Property("running_statistics",
                                         "train steps write momentum-averaged running statistics back into bn_param, "
                                         "and test mode normalises with them", _running_statistics,
                                         cases=batchnorm_cases(("train",)))],
                 backward_mistakes=[Mistake(FULL_NORM_BACKWARD, "gradients", _norm_without_mean_terms())])


EXERCISES = [
    *layer(A, MODULE, "conv_forward_naive", "conv_backward_naive", ref.conv, conv_cases(), ("x", "w", "b"),
           summary="convolution (cross-correlation) with stride and zero padding", variants=[conv_not_dividing],
           sum_axes={"b": (0, 2, 3)},
           forward_mistakes=[Mistake(CROSS_CORRELATION, "output",
                                     lambda case, right, _: evaluate(ref.conv, case.with_args(w=case.args["w"][:, :, ::-1, ::-1].copy()).args).output),
                             Mistake(BOTH_SIDES, "output", _one_sided_conv),
                             Mistake(STRIDE, "output", _stride_one_output(ref.conv, "conv_param"))],
           forward_extra=[_output_size("conv_forward_naive", ref.conv, CONV_SHAPE_MISTAKES,
                                       "H' = 1 + (H + 2·pad − HH) // stride"),
                          Property("translation_equivariant",
                                   "shifting the input by one stride shifts conv_forward_naive's output by one position",
                                   _translation_equivariant)],
           backward_mistakes=[Mistake(CROSS_CORRELATION, "gradients", _flipped_conv_grads),
                              Mistake(STRIDE, "gradients", _stride_one_grads(ref.conv, ("x", "w", "b"), "conv_param")),
                              Mistake(DW_AXES, "gradients",
                                      lambda case, right, _: {**right, "w": right["w"] / len(case.args["x"])}),
                              Mistake(DW_AXES, "gradients",
                                      lambda case, right, dout: {**right, "w": _vjp(ref.conv, case.with_args(x=case.args["x"][-1:]), ("w",), dout[-1:])["w"]}),
                              Mistake(DB_SUM, "gradients", lambda case, right, _: {**right, "b": right["b"] / len(case.args["x"])})],
           backward_extra=[Property("db_is_sum_of_dout", "conv_backward_naive's db is dout summed over batch and space",
                                    _db_is_sum_of_dout)]),
    *layer(A, MODULE, "max_pool_forward_naive", "max_pool_backward_naive", ref.max_pool, pool_cases(), ("x",),
           summary="max pooling, windows possibly overlapping", variants=[pool_not_dividing],
           forward_mistakes=[Mistake(STRIDE, "output", _stride_one_output(ref.max_pool, "pool_param"))],
           forward_extra=[_output_size("max_pool_forward_naive", ref.max_pool, POOL_SHAPE_MISTAKES,
                                       "H' = 1 + (H − pool_height) // stride")],
           backward_mistakes=(max_mistakes := [
               Mistake(ACCUMULATE, "gradients", _max_pool_assigned),
               Mistake(ACCUMULATE, "gradients", _max_pool_assigned_at_max),
               Mistake(ONLY_MAX, "gradients", lambda case, right, dout: _vjp(ref.avg_pool, case, ("x",), dout)),
               Mistake(STRIDE, "gradients", _stride_one_grads(ref.max_pool, ("x",), "pool_param"))]),
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
           backward_mistakes=(avg_mistakes := [
               Mistake(ACCUMULATE, "gradients", _avg_pool_assigned),
               Mistake(SPREAD, "gradients", lambda case, right, _: {
                   "x": right["x"] * case.args["pool_param"]["pool_height"] * case.args["pool_param"]["pool_width"]}),
               Mistake(STRIDE, "gradients", _stride_one_grads(ref.avg_pool, ("x",), "pool_param"))]),
           backward_extra=[_one_hot_gradient("avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool, _avg_pool_unit,
                                             "gradient_spreads_evenly",
                                             "one output unit's gradient spreads evenly over its window", SPREAD),
                           _overlapping_windows("avg_pool_forward_naive", "avg_pool_backward_naive", ref.avg_pool,
                                                avg_mistakes)]),
    *layer(A, MODULE, "global_avg_pool_forward", "global_avg_pool_backward", ref.global_avg_pool,
           global_pool_cases(), ("x",), summary="global average pooling",
           forward_mistakes=[Mistake("Global average pooling is the MEAN over H and W: divide by H·W.", "output",
                                     lambda case, right, _: right * case.args["x"].shape[2] * case.args["x"].shape[3])],
           backward_mistakes=[Mistake(GLOBAL_SPREAD, "gradients", lambda case, right, _: {
               "x": right["x"] * case.args["x"].shape[2] * case.args["x"].shape[3]})],
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
           forward_mistakes=[Mistake(GROUPS, "output", _gn_model(_interleaved_groups)),
                             Mistake(GROUPS, "output", _gn_model(_groups_across_batch)),
                             Mistake(GROUPS, "output", _gn_model(_one_group))],
           backward_mistakes=[Mistake(FULL_NORM_BACKWARD, "gradients", _norm_without_mean_terms())]),
    _value_function("receptive_field", ref.receptive_field, rf_cases, _rf_types, mutable_args=True,
                    summary="receptive field of a stack of convolutions",
                    mistakes=[Mistake(STRIDES_COMPOUND, "output", _rf_ignoring_strides),
                              Mistake(STRIDES_COMPOUND, "output", _rf_own_stride)]),
    _value_function("conv_cost", ref.conv_cost, cost_cases(), _cost_types, summary="output shape, parameters, MACs",
                    mistakes=[Mistake(BIAS_PARAMS, "output", _cost_without_bias),
                              Mistake(MACS, "output", _macs_without_channels)]),
]
