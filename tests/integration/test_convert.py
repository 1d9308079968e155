"""`int8_matmuls` on a small hand-built graph: weight-only int8 MatMuls, one inside an `If`
branch and one on a transposed weight (as Moonshine's decoder has them), become
`DynamicQuantizeMatMul`s on the int8 tensors, and the graph computes what it did."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from streamer.models.convert import int8_matmuls

RNG = np.random.default_rng(0)


def dequantized(name: str, values: np.ndarray, scale: float, zero_point: int) -> list[object]:
    """Initializers and nodes that turn int8 `values` into `name`, as the shipped files do:
    Cast, Mul by the scale, Add of -zero_point * scale."""
    return [
        numpy_helper.from_array(values.astype(np.int8), f"{name}_q"),
        numpy_helper.from_array(np.array([scale], np.float32), f"{name}_scale"),
        numpy_helper.from_array(np.array([-zero_point * scale], np.float32), f"{name}_offset"),
        helper.make_node("Cast", [f"{name}_q"], [f"{name}_cast"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [f"{name}_cast", f"{name}_scale"], [f"{name}_mul"]),
        helper.make_node("Add", [f"{name}_mul", f"{name}_offset"], [name]),
    ]


def model() -> onnx.ModelProto:
    parts = dequantized("w", RNG.integers(-100, 100, (16, 8)), 0.02, 3)
    parts += dequantized("e", RNG.integers(-100, 100, (12, 8)), 0.05, -2)
    inits = [p for p in parts if isinstance(p, onnx.TensorProto)]
    nodes = [p for p in parts if isinstance(p, onnx.NodeProto)]
    branch = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"]),
            helper.make_node("Transpose", ["e"], ["e_t"], perm=[1, 0]),
            helper.make_node("MatMul", ["h", "e_t"], ["y_then"]),
        ],
        "then",
        [],
        [helper.make_tensor_value_info("y_then", TensorProto.FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["y_else"], keepdims=1)],
        "else",
        [],
        [helper.make_tensor_value_info("y_else", TensorProto.FLOAT, None)],
    )
    nodes.append(helper.make_node("If", ["flag"], ["y"], then_branch=branch, else_branch=other))
    graph = helper.make_graph(
        nodes,
        "main",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16]),
            helper.make_tensor_value_info("flag", TensorProto.BOOL, [1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(proto: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x, "flag": np.array([True])})
    return np.asarray(y)


def ops(graph: onnx.GraphProto) -> list[str]:
    found = [node.op_type for node in graph.node]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                found += ops(attribute.g)
    return found


def test_int8_matmuls_replace_both_and_compute_the_same() -> None:
    original = model()
    x = RNG.standard_normal((2, 16)).astype(np.float32)
    expected = run(original, x)
    converted = onnx.ModelProto()
    converted.CopyFrom(original)
    assert int8_matmuls(converted) == 2
    assert ops(converted.graph).count("DynamicQuantizeMatMul") == 2
    assert "MatMul" not in ops(converted.graph) and "Cast" not in ops(converted.graph)
    found = run(converted, x)
    # the weights are exact; only the activations are quantized (to 8 bits, per call)
    assert np.abs(found - expected).max() <= 0.02 * np.abs(expected).max()


def test_a_weight_whose_offset_is_no_whole_zero_point_is_left_alone() -> None:
    original = model()
    for tensor in original.graph.initializer:
        if tensor.name == "w_offset":
            tensor.CopyFrom(numpy_helper.from_array(np.array([0.013], np.float32), "w_offset"))
    assert int8_matmuls(original) == 1  # only the transposed one
    assert ops(original.graph).count("MatMul") == 1
