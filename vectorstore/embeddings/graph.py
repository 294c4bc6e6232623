"""all-MiniLM-L6-v2 (BERT) as an ONNX graph built from its safetensors weights with the `onnx` package, no torch."""

from __future__ import annotations

from vectorstore.config import DEFAULT_EMBED_MODEL


def bert_graph(w: dict, head: bool = False):
    """all-MiniLM-L6-v2 (BERT: 6 layers, 12 heads, hidden 384) as an ONNX graph, with sentence-transformers' mean
    pooling over the attention mask and L2 normalisation at the end. Plain ONNX ops: onnxruntime fuses attention,
    LayerNorm and GELU itself when it loads the graph (emitting its fused contrib ops here measured no faster).
    `head`: the cross-encoder (bot/answering/cross_encoder.py): the mean-pooled vector goes through w["head.weight"] and
    w["head.bias"] to one logit per row ("score", (batch, 1)) instead of being normalised."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    heads, hidden, layers, eps = 12, 384, 6, 1e-12
    nodes: list = []
    inits: list = []
    names: set[str] = set()

    def const(name, value):
        if name not in names:
            names.add(name)
            arr = np.asarray(value)
            inits.append(
                numpy_helper.from_array(
                    np.ascontiguousarray(arr.astype(np.float32) if arr.dtype == np.float64 else arr), name
                )
            )
        return name

    def node(op, inputs, **attrs):
        out = f"{op}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def layer_norm(x, prefix):
        return node(
            "LayerNormalization",
            [x, const(prefix + "w", w[prefix + "weight"]), const(prefix + "b", w[prefix + "bias"])],
            axis=-1,
            epsilon=eps,
        )

    def dense(x, prefix, scale=1.0):
        return node(
            "Add",
            [
                node("MatMul", [x, const(prefix + "wT", w[prefix + "weight"].T * scale)]),
                const(prefix + "b", w[prefix + "bias"] * scale),
            ],
        )

    e = "embeddings."
    # token_type_ids are always 0 for one sentence: their embedding folds into the position table
    const("positions", w[e + "position_embeddings.weight"] + w[e + "token_type_embeddings.weight"][0])
    seq_len = node("Slice", [node("Shape", ["input_ids"]), const("i1", np.array([1])), const("i2", np.array([2]))])
    positions = node("Slice", ["positions", const("i0", np.array([0])), seq_len, "i0"])
    x = node("Add", [node("Gather", [const("words", w[e + "word_embeddings.weight"]), "input_ids"]), positions])
    x = layer_norm(x, e + "LayerNorm.")
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    # padding gets -10000 before the softmax, as BERT does
    mask_bias = node(
        "Unsqueeze",
        [
            node("Mul", [node("Sub", [mask, const("one", np.array(1.0))]), const("big", np.array(10000.0))]),
            const("axes12", np.array([1, 2])),
        ],
    )
    split_heads = const("split_heads", np.array([0, 0, heads, hidden // heads]))
    merge_heads = const("merge_heads", np.array([0, 0, hidden]))
    scale = 1 / np.sqrt(hidden // heads)  # folded into the query projection
    for i in range(layers):
        p = f"encoder.layer.{i}."
        a = p + "attention.self."
        q, k, v = (
            node("Reshape", [dense(x, a + name + ".", s), split_heads])
            for name, s in (("query", scale), ("key", 1.0), ("value", 1.0))
        )
        scores = node("MatMul", [node("Transpose", [q], perm=[0, 2, 1, 3]), node("Transpose", [k], perm=[0, 2, 3, 1])])
        probs = node("Softmax", [node("Add", [scores, mask_bias])], axis=-1)
        context = node("MatMul", [probs, node("Transpose", [v], perm=[0, 2, 1, 3])])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        x = layer_norm(
            node("Add", [dense(context, p + "attention.output.dense."), x]), p + "attention.output.LayerNorm."
        )
        h = dense(x, p + "intermediate.dense.")
        # exact (erf) GELU, as BERT's "gelu"
        h = node(
            "Mul",
            [
                node("Mul", [h, const("half", np.array(0.5))]),
                node("Add", [node("Erf", [node("Div", [h, const("sqrt2", np.array(np.sqrt(2.0)))])]), "one"]),
            ],
        )
        x = layer_norm(node("Add", [dense(h, p + "output.dense."), x]), p + "output.LayerNorm.")
    mask3 = node("Unsqueeze", [mask, const("axis2", np.array([2]))])
    axis1 = const("axis1", np.array([1]))
    summed = node("ReduceSum", [node("Mul", [x, mask3]), axis1], keepdims=0)
    mean = node(
        "Div", [summed, node("Max", [node("ReduceSum", [mask3, axis1], keepdims=0), const("eps9", np.array(1e-9))])]
    )
    if head:
        logit = node("MatMul", [mean, const("head.wT", w["head.weight"].T)])
        nodes.append(helper.make_node("Add", [logit, const("head.b", w["head.bias"])], ["score"]))
    else:
        norm = node("Max", [node("ReduceL2", [mean], axes=[1], keepdims=1), const("eps12", np.array(1e-12))])
        nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))
    output, width = ("score", 1) if head else ("sentence_embedding", hidden)
    graph = helper.make_graph(
        nodes,
        DEFAULT_EMBED_MODEL,
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
            for n in ("input_ids", "attention_mask")
        ],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", width])],
        inits,
    )
    # The newest onnx writes IR version 14, which onnxruntime 1.30 and older refuse to load; IR 8 is the lowest that
    # carries opset 17, and every onnxruntime since 1.10 reads it.
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="articlebot", ir_version=8
    )
