"""Re-save an ONNX Runtime `.ort` model as plain ONNX, optionally with its int8 weights used
as int8.

Moonshine ships as `.ort` files saved for a minimal runtime, with most graph optimizations
unavailable to them; loaded from ONNX, the runtime fuses the decoder fully and a decoder step
runs about four times faster with identical output. Its weights are stored as int8 and
dequantized (`Cast`, `Mul` by a scale, `Add` of an offset), which the runtime folds into
float32 at load: every decoder step then reads 4 bytes per weight, and a step at batch 1 is
bound by memory. `int8_matmuls` makes those MatMuls `DynamicQuantizeMatMul`s on the int8
weights themselves (the offsets are whole multiples of the scales, so the weights are exact;
only the activations are quantized, per call). The conversion is deterministic for a given
onnxruntime version, so its result is checked against the manifest's sha256.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper


def ort_to_onnx(source: Path, destination: Path, int8: bool = False) -> None:
    options = ort.SessionOptions()
    # BASIC keeps the graph runnable on any provider; the loader applies the rest.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(destination)
    ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(destination))
    _name_graphs(model.graph, "main")
    if int8:
        int8_matmuls(model)
    onnx.save(model, str(destination))


def _name_graphs(graph: onnx.GraphProto, name: str) -> None:
    """ONNX requires every graph to have a name; the `.ort` format drops subgraph names (the
    decoder's `If` branches), so give them their node and attribute names."""
    if not graph.name:
        graph.name = name
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _name_graphs(attribute.g, f"{node.name or node.op_type}_{attribute.name}")


@dataclass(frozen=True, slots=True)
class _Int8Weight:
    values: onnx.TensorProto
    scale: float
    zero_point: int


def int8_matmuls(model: onnx.ModelProto) -> int:
    """Replace each MatMul whose weight (or its transpose) is a dequantized int8 tensor of the
    main graph by a `DynamicQuantizeMatMul` on the int8 tensor, in every subgraph; drop what
    nothing reads any more. The number of MatMuls replaced."""
    graph = model.graph
    weights = _dequantized_weights(graph)
    operands: dict[tuple[str, bool], list[str]] = {}

    def int8_operands(weight: str, transposed: bool) -> list[str]:
        if (weight, transposed) not in operands:
            found = weights[weight]
            name = found.values.name + ("_transposed" if transposed else "") + "_int8"
            values = numpy_helper.to_array(found.values)
            graph.initializer.extend(
                [
                    numpy_helper.from_array(
                        np.ascontiguousarray(values.T if transposed else values), name
                    ),
                    numpy_helper.from_array(np.array(found.scale, np.float32), name + "_scale"),
                    numpy_helper.from_array(np.array(found.zero_point, np.int8), name + "_zero"),
                ]
            )
            operands[(weight, transposed)] = [name, name + "_scale", name + "_zero"]
        return operands[(weight, transposed)]

    replaced = 0
    for subgraph in list(_graphs(graph)):
        transposes = {
            node.output[0]: node.input[0]
            for node in subgraph.node
            if node.op_type == "Transpose" and node.input[0] in weights and _swaps_axes(node)
        }
        for node in subgraph.node:
            if node.op_type != "MatMul":
                continue
            weight = node.input[1]
            if weight in weights:
                inputs = int8_operands(weight, transposed=False)
            elif weight in transposes:
                inputs = int8_operands(transposes[weight], transposed=True)
            else:
                continue
            node.CopyFrom(
                helper.make_node(
                    "DynamicQuantizeMatMul",
                    [node.input[0], *inputs],
                    list(node.output),
                    name=f"{node.name or node.output[0]}_int8",  # names must be unique
                    domain="com.microsoft",
                )
            )
            replaced += 1
    _drop_unread(graph)
    if replaced and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return replaced


def _dequantized_weights(graph: onnx.GraphProto) -> dict[str, _Int8Weight]:
    """Outputs of `Add(Mul(Cast(int8 matrix), scale), offset)` with scalar scale and an offset
    that is a whole int8 multiple of it: the weight is `scale * (values - zero_point)`."""
    made = {output: node for node in graph.node for output in node.output}
    constants = {tensor.name: tensor for tensor in graph.initializer}

    def scalar(name: str) -> float | None:
        tensor = constants.get(name)
        if tensor is None or int(np.prod(tensor.dims)) != 1:
            return None
        return float(numpy_helper.to_array(tensor).reshape(-1)[0])

    found: dict[str, _Int8Weight] = {}
    for add in graph.node:
        mul = made.get(add.input[0]) if add.op_type == "Add" else None
        if mul is None or mul.op_type != "Mul":
            continue
        cast = made.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in constants:
            continue
        values = constants[cast.input[0]]
        scale, offset = scalar(mul.input[1]), scalar(add.input[1])
        if values.data_type != onnx.TensorProto.INT8 or len(values.dims) != 2:
            continue
        if not scale or offset is None:
            continue
        zero_point = -offset / scale
        if abs(zero_point - round(zero_point)) > 1e-3 or not -128 <= round(zero_point) <= 127:
            continue
        found[add.output[0]] = _Int8Weight(values, scale, round(zero_point))
    return found


def _swaps_axes(transpose: onnx.NodeProto) -> bool:
    perms = [list(a.ints) for a in transpose.attribute if a.name == "perm"]
    return perms in ([], [[1, 0]])


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attribute.g)


def _drop_unread(graph: onnx.GraphProto) -> None:
    """Remove nodes and initializers that no node and no graph output reads."""
    while True:
        read = _read_names(graph)
        dead = [
            (subgraph, node)
            for subgraph in _graphs(graph)
            for node in subgraph.node
            if not any(output in read for output in node.output)
        ]
        if not dead:
            break
        for subgraph, node in dead:
            subgraph.node.remove(node)
    read = _read_names(graph)
    for subgraph in _graphs(graph):
        kept = [tensor for tensor in subgraph.initializer if tensor.name in read]
        del subgraph.initializer[:]
        subgraph.initializer.extend(kept)


def _read_names(graph: onnx.GraphProto) -> set[str]:
    read: set[str] = set()
    for subgraph in _graphs(graph):
        read.update(output.name for output in subgraph.output)
        read.update(name for node in subgraph.node for name in node.input)
    return read
