"""Drives the inference server with the stock `tritonclient[http]`, in JSON and binary
modes (its defaults send and ask for Triton's binary tensor extension).

    python3 triton_client.py HOST:PORT FIXTURES_DIR [with-text|tabular-only]
run by tests/cli/triton.rs against a server it started. Exits non-zero (with the failing
check) on the first problem; prints "all tritonclient checks passed" at the end.
"""

import json
import pathlib
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

RISK_TOLERANCE = 1e-5
TEXT_TOLERANCE = 1e-5


def check(condition, what):
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def risk_checks(client, fixtures):
    risk = json.loads((fixtures / "risk_reference.json").read_text())
    rows = risk["rows"]
    x = np.array(risk["features"], dtype=np.float32).reshape(rows, 8)
    expected = np.array(risk["probabilities"], dtype=np.float32).reshape(rows, 2)

    check(client.is_server_live(), "server live")
    check(client.is_server_ready(), "server ready")
    check(client.get_server_metadata()["name"] == "kiln-inference", "server metadata")
    check(client.is_model_ready("risk"), "risk ready")
    check(client.is_model_ready("risk", "1"), "risk version 1 ready")
    metadata = client.get_model_metadata("risk")
    check(metadata["inputs"][0]["name"] == "features", "risk metadata")

    # JSON both ways.
    tensor = httpclient.InferInput("features", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=False)
    out = httpclient.InferRequestedOutput("probabilities", binary_data=False)
    result = client.infer("risk", [tensor], outputs=[out], request_id="json-1")
    got = result.as_numpy("probabilities")
    check(got.shape == (rows, 2), "JSON mode shape")
    check(np.abs(got - expected).max() <= RISK_TOLERANCE, "JSON mode matches onnxruntime")
    check(result.get_response()["id"] == "json-1", "request id echoed")

    # The defaults: binary input, no outputs named (binary_data_output).
    tensor = httpclient.InferInput("features", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    result = client.infer("risk", [tensor])
    got = result.as_numpy("probabilities")
    check(np.abs(got - expected).max() <= RISK_TOLERANCE, "binary defaults match onnxruntime")

    # Binary output asked by name, JSON input, a version and a timeout.
    tensor = httpclient.InferInput("features", [2, 8], "FP32")
    tensor.set_data_from_numpy(x[:2], binary_data=False)
    out = httpclient.InferRequestedOutput("probabilities", binary_data=True)
    result = client.infer("risk", [tensor], outputs=[out], model_version="1", timeout=5_000_000)
    check(np.abs(result.as_numpy("probabilities") - expected[:2]).max() <= RISK_TOLERANCE,
          "binary output, JSON input, version 1")

    try:
        client.infer("nope", [tensor])
        check(False, "unknown model refused")
    except InferenceServerException as error:
        check("unknown model" in str(error), "unknown model refused")
    bad = httpclient.InferInput("features", [1, 4], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32))
    try:
        client.infer("risk", [bad])
        check(False, "wrong shape refused")
    except InferenceServerException as error:
        check("shape" in str(error), "wrong shape refused")

    index = client.get_model_repository_index()
    check(any(m["name"] == "risk" and m["state"] == "READY" for m in index), "repository index")
    client.unload_model("risk")
    check(not client.is_model_ready("risk"), "unloaded")
    client.load_model("risk")
    check(client.is_model_ready("risk"), "loaded again")


def text_checks(client, fixtures):
    reference = json.loads((fixtures / "minilm_reference.json").read_text())
    short = [s for s in reference["sentences"] if len(s["text"]) < 30][:2]
    texts = np.array([s["text"].encode() for s in short], dtype=np.object_)
    expected = np.array([s["embedding"] for s in short], dtype=np.float32)
    for binary in (True, False):
        tensor = httpclient.InferInput("text", [len(short)], "BYTES")
        tensor.set_data_from_numpy(texts, binary_data=binary)
        out = httpclient.InferRequestedOutput("embedding", binary_data=binary)
        got = client.infer("minilm", [tensor], outputs=[out]).as_numpy("embedding")
        check(got.shape == (len(short), 384), f"text shape (binary={binary})")
        check(np.abs(got - expected).max() <= TEXT_TOLERANCE,
              f"MiniLM matches onnxruntime (binary={binary})")


def main():
    address, fixtures, mode = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    client = httpclient.InferenceServerClient(url=address, network_timeout=120.0)
    risk_checks(client, fixtures)
    if mode == "with-text":
        text_checks(client, fixtures)
    print("all tritonclient checks passed")


if __name__ == "__main__":
    main()
