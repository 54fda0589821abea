"""Writes tests/fixtures/risk_reference.json: 40 transactions (seeded, from risk_data.py,
a different seed from training) and onnxruntime's `probabilities` for them, run on
models/risk/1/model.onnx. The Rust tests check tract's outputs against these rows
(`engine` unit tests and tests/cli/kserve.rs through HTTP).

    python3 scripts/risk_fixture.py          # from examples/inference, after train_risk.py
Floats are written with 9 significant digits, enough to round-trip a float32. Not here:
training (train_risk.py).
"""

import json
import pathlib
import sys

import numpy as np
import onnxruntime

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from risk_data import transactions  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent.parent
ROWS = 40
SEED = 7


def floats(array):
    return [float(f"{value:.9g}") for value in np.asarray(array, dtype=np.float32).ravel()]


def main():
    x, _ = transactions(ROWS, SEED)
    session = onnxruntime.InferenceSession(str(HERE / "models" / "risk" / "1" / "model.onnx"))
    (probabilities,) = session.run(None, {"features": x})
    fixture = {
        "model": "risk",
        "version": 1,
        "onnxruntime": onnxruntime.__version__,
        "rows": ROWS,
        "features": floats(x),
        "probabilities": floats(probabilities),
    }
    out = HERE / "tests" / "fixtures" / "risk_reference.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {out} ({ROWS} rows)")


if __name__ == "__main__":
    main()
