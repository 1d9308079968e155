"""Re-save an ONNX Runtime `.ort` model as plain ONNX.

Moonshine ships as `.ort` files saved for a minimal runtime, with most graph optimizations
unavailable to them; loaded from ONNX, the runtime fuses the decoder fully and a decoder step
runs about four times faster with identical output. The conversion is deterministic for a
given onnxruntime version, so its result is checked against the manifest's sha256.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort


def ort_to_onnx(source: Path, destination: Path) -> None:
    options = ort.SessionOptions()
    # BASIC keeps the graph runnable on any provider; the loader applies the rest.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(destination)
    ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(destination))
    _name_graphs(model.graph, "main")
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
