"""The FastAPI peer: FastAPI on uvicorn (uvloop, httptools, access log off) with
onnxruntime, serving `POST /v2/models/risk/infer` and `POST /v1/embed` with the JSON
shapes of kiln's `inference serve` (the model code is peer_models.py).

    python3 fastapi_peer.py --port 18301 --workers 2 --models examples/inference/models

Configuration (the best simple one found on 2 cores; the trials are in
benches/results/2026-12-01-inference.md):
`--workers` uvicorn processes (default: one per core), each with one onnxruntime session
per model on PEER_ORT_THREADS threads (default 1). The handlers are `async def` and call
onnxruntime inline: the work is CPU-bound and there is one process per core, so a
thread-pool hop (a plain `def` handler) would only add cost. Bodies are read raw and
parsed with `json` (no pydantic model), and answered as raw bytes.
Started and stopped by the harness; listens on 127.0.0.1 only.
"""
import argparse
import contextlib
import os

from fastapi import FastAPI, Request
from fastapi.responses import Response

import peer_models

JSON = "application/json"
state = {}


@contextlib.asynccontextmanager
async def lifespan(_app):
    state["models"] = peer_models.Models(*peer_models.settings())
    yield
    state.clear()


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/v2/models/risk/infer")
async def infer_risk(request: Request):
    try:
        body = state["models"].infer_risk(await request.body())
    except (ValueError, KeyError, TypeError) as error:
        return Response(peer_models.error_body(error), status_code=400, media_type=JSON)
    return Response(body, media_type=JSON)


@app.post("/v1/embed")
async def embed(request: Request):
    try:
        body = state["models"].embed(await request.body())
    except (ValueError, KeyError, TypeError) as error:
        return Response(peer_models.error_body(error), status_code=400, media_type=JSON)
    return Response(body, media_type=JSON)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--models", required=True)
    args = parser.parse_args()
    os.environ["PEER_MODELS"] = os.path.abspath(args.models)
    import uvicorn
    uvicorn.run("fastapi_peer:app", host="127.0.0.1", port=args.port, workers=args.workers,
                loop="uvloop", http="httptools", access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
