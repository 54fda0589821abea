"""The model side of the Python peer servers (fastapi_peer.py, aiohttp_peer.py): loads the
same ONNX files kiln's `inference serve` loads, with onnxruntime, and answers the same two
requests with the same JSON shapes, so one load client drives every server:

- `POST /v2/models/risk/infer`: KServe v2 JSON (`inputs[0]` named `features`, FP32,
  `data` flat or nested, row-major) to `{"model_name", "model_version", "outputs":
  [{"name": "probabilities", "datatype": "FP32", "shape": [N, 2], "data": [...]}]}`;
- `POST /v1/embed`: `{"texts": [...]}` to `{"model", "model_version", "dimensions",
  "embeddings"}`: MiniLM's last hidden state, mean-pooled over the attention mask and
  L2-normalised (as sentence-transformers and kiln), with the same `tokenizer.json`
  (its own padding off, truncation at the config's `max_tokens`, as kiln).

No batching across requests: each request is one model call (the simple configuration).
Each server process holds one session per model with `intra_op_num_threads` =
PEER_ORT_THREADS (default 1: one process per core, each with one model thread, is the
fastest simple layout on 2 cores; see benches/results/2026-12-01-inference.md). Errors
answer 400 with `{"error": ...}`. Not a general KServe server: only what the benchmark sends.
"""
import json
import os
import pathlib

import numpy as np
import onnxruntime
from tokenizers import Tokenizer


def _session(path, threads):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Models:
    """Both models of one server process."""

    def __init__(self, models_dir, threads):
        models_dir = pathlib.Path(models_dir)
        self.risk = _session(models_dir / "risk" / "1" / "model.onnx", threads)
        config = json.loads((models_dir / "minilm" / "config.json").read_text())
        text = config["text"]
        self.minilm = _session(models_dir / "minilm" / "1" / "model.onnx", threads)
        self.minilm_inputs = {i.name for i in self.minilm.get_inputs()}
        self.minilm_hidden = text["hidden_output"]
        self.tokenizer = Tokenizer.from_file(str(models_dir / "minilm" / text["tokenizer"]))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=text["max_tokens"])

    def infer_risk(self, body):
        """A KServe v2 JSON request body (bytes) to the response body (bytes)."""
        request = json.loads(body)
        (tensor,) = request["inputs"]
        if tensor["name"] != "features" or tensor["datatype"] != "FP32":
            raise ValueError("expected one FP32 input named features")
        features = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        probabilities = self.run_risk(features)
        return json.dumps({
            "model_name": "risk",
            "model_version": "1",
            "outputs": [{
                "name": "probabilities",
                "datatype": "FP32",
                "shape": list(probabilities.shape),
                "data": probabilities.ravel().tolist(),
            }],
        }).encode()

    def run_risk(self, features):
        """The risk model on an [N, 8] float32 array: [N, 2] probabilities."""
        (probabilities,) = self.risk.run(["probabilities"], {"features": features})
        return probabilities

    def embed(self, body):
        """A `/v1/embed` request body (bytes) to the response body (bytes)."""
        request = json.loads(body)
        texts = request["texts"]
        if request.get("model", "minilm") != "minilm" or not texts:
            raise ValueError("expected texts for the model minilm")
        pooled = self.run_embed(texts)
        return json.dumps({
            "model": "minilm",
            "model_version": "1",
            "dimensions": int(pooled.shape[1]),
            "embeddings": pooled.tolist(),
        }).encode()

    def run_embed(self, texts):
        """MiniLM on a list of texts: [N, 384] unit vectors (tokenised, mean-pooled)."""
        encodings = self.tokenizer.encode_batch(texts)
        columns = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), columns), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {name: value for name, value in feeds.items() if name in self.minilm_inputs}
        (hidden,) = self.minilm.run([self.minilm_hidden], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.where(norms > 0, norms, 1.0)


def error_body(error):
    return json.dumps({"error": f"{type(error).__name__}: {error}"}).encode()


def settings():
    """(models dir, onnxruntime threads) from the environment the harness sets."""
    return os.environ["PEER_MODELS"], int(os.environ.get("PEER_ORT_THREADS", "1"))
