"""The onnxruntime side of the ceiling measurement (run by benches/inference/run.py in its
venv): times each model called directly, in this process, as the Python peers call it
(one session, PEER_ORT_THREADS threads), at batch sizes 1, 8 and 32 on the benchmark's
inputs, without HTTP or JSON: a risk row as a float32 array; a 16-token text, tokenised,
run, pooled and normalised as peer_models.py does (tokenising is included here, about 1%
of the call; `inference bench` starts from token ids). One warm-up call, then the median of ITERATIONS calls. Prints JSON lines:
{"engine": "onnxruntime", "model", "batch", "median_us"}.

    python3 ort_ceiling.py MODELS_DIR ITERATIONS
"""
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import peer_models  # noqa: E402

RISK_ROW = [950, 3, 5, 12, 6, 800, 1, 0]
TEXT = "The quick brown fox jumps over the lazy dog near the river bank."


def main():
    models_dir, iterations = sys.argv[1], int(sys.argv[2])
    models = peer_models.Models(models_dir, int(os.environ.get("PEER_ORT_THREADS", "1")))
    for batch in (1, 8, 32):
        features = np.array([RISK_ROW] * batch, dtype=np.float32)
        texts = [TEXT] * batch
        for model, call in (("risk", lambda: models.run_risk(features)),
                            ("minilm", lambda: models.run_embed(texts))):
            call()
            times = []
            for _ in range(iterations):
                started = time.perf_counter()
                call()
                times.append((time.perf_counter() - started) * 1e6)
            print(json.dumps({"engine": "onnxruntime", "model": model, "batch": batch,
                              "median_us": statistics.median(times)}), flush=True)


if __name__ == "__main__":
    main()
