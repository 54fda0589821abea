"""The aiohttp peer: aiohttp.web on uvloop with onnxruntime, serving
`POST /v2/models/risk/infer` and `POST /v1/embed` with the JSON shapes of kiln's
`inference serve` (the model code is peer_models.py).

    python3 aiohttp_peer.py --port 18302 --workers 2 --models examples/inference/models

Configuration (the best simple one found on 2 cores; the trials are in
benches/results/2026-12-01-inference.md):
`--workers` processes (default: one per core) sharing the port with SO_REUSEPORT (aiohttp
has no process manager of its own; this is what its deployment docs do with several
processes behind one port), each on uvloop, access log off, one onnxruntime session per
model on PEER_ORT_THREADS threads (default 1), called inline from the handler (CPU-bound,
one process per core). Started and stopped by the harness; listens on 127.0.0.1 only.
"""
import argparse
import multiprocessing
import os
import signal

from aiohttp import web

import peer_models

JSON = "application/json"


def make_app():
    models = peer_models.Models(*peer_models.settings())

    async def infer_risk(request):
        try:
            body = models.infer_risk(await request.read())
        except (ValueError, KeyError, TypeError) as error:
            return web.Response(body=peer_models.error_body(error), status=400, content_type=JSON)
        return web.Response(body=body, content_type=JSON)

    async def embed(request):
        try:
            body = models.embed(await request.read())
        except (ValueError, KeyError, TypeError) as error:
            return web.Response(body=peer_models.error_body(error), status=400, content_type=JSON)
        return web.Response(body=body, content_type=JSON)

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_post("/v2/models/risk/infer", infer_risk)
    app.router.add_post("/v1/embed", embed)
    return app


def serve(port):
    import uvloop
    uvloop.install()
    web.run_app(make_app(), host="127.0.0.1", port=port, reuse_port=True,
                access_log=None, print=None, handle_signals=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--models", required=True)
    args = parser.parse_args()
    os.environ["PEER_MODELS"] = os.path.abspath(args.models)
    children = [multiprocessing.Process(target=serve, args=(args.port,)) for _ in range(args.workers)]
    for child in children:
        child.start()

    def stop(_signum, _frame):
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()


if __name__ == "__main__":
    main()
