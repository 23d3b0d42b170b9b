"""A scriptable fake of the service for the write-side and safety tests (http.server in a thread).

Not a test module itself. A test gives ``FakeServer`` a function ``respond(request, h)``
that writes the answer with the helpers below; every request is recorded (method, path,
query, headers, body), so a test can check what the client sent. Servers are context
managers: leaving the block shuts them down even when the test failed.
"""
import collections
import io
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

PROBLEMS = "https://audiofeed.dev/problems/"

Request = collections.namedtuple("Request", "method path query headers body")


class FakeServer:
    def __init__(self, respond):
        self.respond = respond
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, url.path, dict(urllib.parse.parse_qsl(url.query)), self.headers, body)
                server.requests.append(request)
                server.respond(request, self)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.base = "http://127.0.0.1:{}".format(self._httpd.server_address[1])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()


def send(h, status, body=b"", content_type="application/json", headers=None):
    h.send_response(status)
    if content_type:
        h.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def send_json(h, status, obj, headers=None):
    send(h, status, json.dumps(obj).encode(), "application/json", headers)


def send_problem(h, status, code, detail, headers=None, **extensions):
    body = dict({"type": PROBLEMS + code, "title": "Problem " + code, "status": status, "detail": detail, "instance": h.path}, **extensions)
    send(h, status, json.dumps(body).encode(), "application/problem+json", headers)


def npy(array):
    f = io.BytesIO()
    np.save(f, array)
    return f.getvalue()


def npy_header(shape, descr="<f4"):
    """Only the .npy header of an array (version 1.0): what a server claims, without the data."""
    header = "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}".format(descr, repr(tuple(shape)))
    pad = 64 - (10 + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def send_batches(h, body, batches=1, columns="x,y", x_shape=(98, 32, 1), dtype="float32", extra_headers=None):
    """A batch response: the X-Audiofeed-* headers as given (None leaves one out), then ``body``."""
    headers = {
        "X-Audiofeed-Batches": None if batches is None else str(batches),
        "X-Audiofeed-From-Batch": "0",
        "X-Audiofeed-Columns": columns,
        "X-Audiofeed-X-Shape": None if x_shape is None else json.dumps(list(x_shape)),
        "X-Audiofeed-Dtype": dtype,
    }
    headers.update(extra_headers or {})
    send(h, 200, body, "application/x-npy-stream", {k: v for k, v in headers.items() if v is not None})


def send_events(h, events):
    """A text/event-stream of ``(event, data)`` pairs (data is JSON-encoded), then the end."""
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream; charset=utf-8")
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(b": hello\n\n")
    for event, data in events:
        h.wfile.write("event: {}\ndata: {}\n\n".format(event, json.dumps(data)).encode())
        h.wfile.flush()
    h.close_connection = True


def progress(job_id, state, clips_done, clips_total=120, shards_total=6, **extra):
    """A JobProgress as GET /v1/jobs/{id} answers it."""
    shards = shards_total * clips_done // clips_total
    return dict(
        {
            "id": job_id,
            "dataset_id": "kws",
            "subset": "training",
            "state": state,
            "cancelled": state == "cancelled",
            "shards_total": shards_total,
            "shards_done": shards,
            "shards_failed": 0,
            "clips_total": clips_total,
            "clips_done": clips_done,
            "clips_per_second": 40.0 if clips_done else None,
            "eta_seconds": (clips_total - clips_done) / 40.0 if clips_done else None,
            "failures": [],
            "failed_reason": None,
            "created_at": "2026-12-06T00:00:00.000Z",
            "finished_at": None,
        },
        **extra
    )
