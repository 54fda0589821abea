"""Trains the `risk` model (fraud probability of a card transaction) and writes it as ONNX.

    python3 scripts/train_risk.py            # from examples/inference
needs scikit-learn, skl2onnx and onnxruntime (see the README's set-up step). Writes
models/risk/1/model.onnx and models/risk/1/metrics.json (AUC and accuracy on a held-out
25% split, both measured here with onnxruntime on the exported file, not on the sklearn
object). Seeded: the same versions give the same file.

The model: StandardScaler then an MLP (8 -> 16 -> 8 -> 2, ReLU, softmax); no trees (tree
ensembles run hundreds of times slower in tract than in onnxruntime). The ONNX graph has one
input `features` float32 [N, 8] and one output `probabilities` float32 [N, 2] (column 1 is
the fraud probability); skl2onnx's `label` output and ZipMap are left out, so the graph uses
only standard ONNX operators. Not here: the data (risk_data.py), the fixture
(risk_fixture.py).
"""

import json
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime
import sklearn
import skl2onnx
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from skl2onnx.helpers.onnx_helper import select_model_inputs_outputs
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from risk_data import FEATURES, transactions  # noqa: E402

SEED = 20261201
ROWS = 40_000
HERE = pathlib.Path(__file__).resolve().parent.parent
OUT = HERE / "models" / "risk" / "1"


def main():
    x, y = transactions(ROWS, SEED)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED % (2**31), stratify=y
    )
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(16, 8),
            max_iter=300,
            early_stopping=True,
            random_state=SEED % (2**31),
        ),
    )
    model.fit(x_train, y_train)

    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
        # "div": the scaler as Sub and Div (standard ONNX) instead of ai.onnx.ml's Scaler.
        options={
            id(model.steps[0][1]): {"div": "div"},
            id(model.steps[-1][1]): {"zipmap": False},
        },
        target_opset=17,
    )
    onx = select_model_inputs_outputs(onx, outputs=["probabilities"])
    used = {name for node in onx.graph.node for name in node.input}
    kept = [init for init in onx.graph.initializer if init.name in used]
    del onx.graph.initializer[:]
    onx.graph.initializer.extend(kept)
    onx.doc_string = "risk: fraud probability of a card transaction (synthetic data)"
    OUT.mkdir(parents=True, exist_ok=True)
    onnx.save(onx, OUT / "model.onnx")

    session = onnxruntime.InferenceSession(str(OUT / "model.onnx"))
    (probabilities,) = session.run(None, {"features": x_test})
    fraud = probabilities[:, 1]
    metrics = {
        "model": "risk",
        "version": 1,
        "features": FEATURES,
        "rows_train": int(len(y_train)),
        "rows_test": int(len(y_test)),
        "fraud_rate_test": round(float(y_test.mean()), 4),
        "auc_test": round(float(roc_auc_score(y_test, fraud)), 4),
        "accuracy_test": round(float(accuracy_score(y_test, fraud >= 0.5)), 4),
        "accuracy_always_legit": round(float(1.0 - y_test.mean()), 4),
        "sklearn_auc_test": round(
            float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])), 4
        ),
        "seed": SEED,
        "versions": {
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    }
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
