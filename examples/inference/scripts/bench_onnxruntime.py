"""Times onnxruntime on the inputs `inference bench` gives tract, for comparison:
the risk model on rows of 0.5, the text models on 16-token texts ([CLS], 14 copies of one
word, [SEP]) with mean pooling and L2 normalisation, at batch sizes 1, 8 and 32; one warm-up
call, then the median of ITERATIONS calls. onnxruntime runs on one thread (tract does), and
again on its default thread count.

    python3 scripts/bench_onnxruntime.py [ITERATIONS]     # from examples/inference
needs onnxruntime and numpy; skips models whose file is not fetched. Prints a markdown table.
"""

import pathlib
import statistics
import sys
import time

import numpy as np
import onnxruntime

HERE = pathlib.Path(__file__).resolve().parent.parent
MODELS = HERE / "models"
TEXT = {
    "minilm": ("last_hidden_state", ["input_ids", "attention_mask", "token_type_ids"]),
    "paraphrase-minilm": ("onnx::Shape_422", ["input_ids", "attention_mask"]),
}


def session(path, threads):
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options)


def call_for(name, sess, batch):
    if name == "risk":
        x = np.full((batch, 8), 0.5, dtype=np.float32)
        return lambda: sess.run(None, {"features": x})
    output, inputs = TEXT[name]
    ids = np.array([[101] + [2023] * 14 + [102]] * batch, dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    feeds = {k: v for k, v in feeds.items() if k in inputs}

    def run():
        (hidden,) = sess.run([output], feeds)
        pooled = hidden.mean(axis=1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    return run


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"onnxruntime {onnxruntime.__version__}")
    print("| model | threads | batch | median per call (µs) | per item (µs) |")
    print("|---|---:|---:|---:|---:|")
    for name in ["minilm", "paraphrase-minilm", "risk"]:
        path = MODELS / name / "1" / "model.onnx"
        if not path.exists():
            print(f"{name}: skipped, {path} is missing", file=sys.stderr)
            continue
        for threads in (1, 0):
            sess = session(path, threads)
            for batch in (1, 8, 32):
                run = call_for(name, sess, batch)
                run()
                times = []
                for _ in range(iterations):
                    started = time.perf_counter()
                    run()
                    times.append((time.perf_counter() - started) * 1e6)
                median = statistics.median(times)
                label = threads or "default"
                print(f"| {name} | {label} | {batch} | {median:.0f} | {median / batch:.1f} |")


if __name__ == "__main__":
    main()
