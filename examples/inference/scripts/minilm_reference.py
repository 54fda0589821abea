"""Writes tests/fixtures/{minilm,paraphrase-minilm}_reference.json: for a few sentences,
the token ids of tokenizer.json (padding and truncation off) and the sentence embedding
computed with onnxruntime on the fetched models/{name}/1/model.onnx: mean pooling of the
last hidden state over the attention mask, then L2 normalisation (what sentence-transformers
does for both models). Each sentence is run alone (batch of one, no padding).

    python3 scripts/minilm_reference.py      # from examples/inference, after fetch-models
needs onnxruntime, numpy and tokenizers. Embeddings are rounded to 6 decimals (the Rust test's
tolerance is far above that). Not here: fetching the models (`inference fetch-models`).
"""

import json
import pathlib

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

HERE = pathlib.Path(__file__).resolve().parent.parent
SENTENCES = [
    "A man is eating food.",
    "The new movie is awesome!",
    "Kiln serves server-rendered htmx apps on io_uring.",
    "Café au lait, naïve résumé — ünïcödé text.",
    "short",
]


# The ONNX output holding each model's last hidden state (as in its config.json).
HIDDEN = {"minilm": "last_hidden_state", "paraphrase-minilm": "onnx::Shape_422"}


def main():
    for name, hidden_output in HIDDEN.items():
        write(name, hidden_output)


def write(name, hidden_output):
    tokenizer = Tokenizer.from_file(str(HERE / "models" / name / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    session = onnxruntime.InferenceSession(str(HERE / "models" / name / "1" / "model.onnx"))
    names = [i.name for i in session.get_inputs()]
    rows = []
    for sentence in SENTENCES:
        encoding = tokenizer.encode(sentence)
        ids = np.array([encoding.ids], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        (hidden,) = session.run([hidden_output], {n: feeds[n] for n in names})
        pooled = hidden[0].mean(axis=0)
        embedding = pooled / np.linalg.norm(pooled)
        rows.append(
            {
                "text": sentence,
                "ids": encoding.ids,
                "embedding": [round(float(v), 6) for v in embedding],
            }
        )
    fixture = {"model": name, "version": 1, "onnxruntime": onnxruntime.__version__, "sentences": rows}
    out = HERE / "tests" / "fixtures" / f"{name}_reference.json"
    out.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {out} ({len(rows)} sentences)")


if __name__ == "__main__":
    main()
