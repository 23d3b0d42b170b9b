"""Client tests against an in-process fake of the batch endpoint (http.server in a thread).

Run: python3 -m unittest discover -s clients/python/tests -v
"""
import io
import json
import socket
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from audiofeed_client import AudiofeedError, Client, IncompleteStreamError

X_SHAPE = (98, 32, 1)
K = 4
TOTAL = 5
BATCH = 3
LAST_ROWS = 2  # the last batch of an epoch is short


def batch_at(epoch, i, dtype="float32", class_mode="categorical"):
    """Batch ``i`` of ``epoch`` is derived from (epoch, i) so resumed batches can be checked."""
    rows = LAST_ROWS if i == TOTAL - 1 else BATCH
    base = np.arange(rows * int(np.prod(X_SHAPE)), dtype=np.int64)
    if dtype == "float32":
        x = (epoch * 1000 + i + base / 65536.0).astype("<f4")
    else:
        x = ((base + epoch * 7 + i) % 256 - 128).astype("|i1")
    x = x.reshape((rows,) + X_SHAPE)
    ids = (np.arange(rows) + i) % K
    if class_mode == "categorical":
        y = np.eye(K, dtype=x.dtype)[ids]
    elif class_mode in ("sparse", "binary"):
        y = ids.astype(x.dtype)
    elif class_mode == "input":
        y = x.copy()
    else:
        y = None
    w = (1 + np.arange(rows) / 4).astype("<f4")
    return x, y, w


def npy(array):
    f = io.BytesIO()
    np.save(f, array)
    return f.getvalue()


class FakeService(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests = []
    drops = {}  # dataset id -> list of ("mid-array" | "boundary", after_n_batches)
    slow_released = threading.Event()
    slow_saw_release = []

    def log_message(self, *args):
        pass

    def _json(self, status, body, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        FakeService.requests.append((url.path, query, self.headers.get("Authorization")))
        parts = url.path.split("/")
        dataset_id = parts[3] if len(parts) > 3 else None
        if dataset_id in (None, "missing"):
            return self._json(
                404,
                {
                    "type": "https://audiofeed.dev/problems/dataset-not-found",
                    "title": "Dataset not found",
                    "status": 404,
                    "detail": "no dataset {}".format(dataset_id),
                },
                "application/problem+json",
            )
        if len(parts) == 4:
            return self._json(200, {"id": dataset_id, "audio_input_shape": list(X_SHAPE), "audio_classes": ["a", "b", "c", "d"]})
        self._batches(dataset_id, query)

    def _batches(self, dataset_id, query):
        start = int(query.get("from_batch", "0"))
        epoch = int(query.get("epoch", "0"))
        dtype = query.get("dtype", "float32")
        class_mode = query.get("class_mode", "categorical")
        weighted = query.get("class_weight") == "true"
        columns = ["x"] + ([] if class_mode == "none" else ["y"]) + (["sample_weight"] if weighted else [])
        drop = FakeService.drops.get(dataset_id, [])
        kind, after = drop.pop(0) if drop else (None, None)

        self.send_response(200)
        self.send_header("Content-Type", "application/x-npy-stream")
        self.send_header("X-Audiofeed-Batches", str(TOTAL - start))
        self.send_header("X-Audiofeed-From-Batch", str(start))
        self.send_header("X-Audiofeed-Columns", ",".join(columns))
        self.send_header("X-Audiofeed-X-Shape", json.dumps(list(X_SHAPE)))
        self.send_header("X-Audiofeed-Dtype", dtype)
        if kind == "boundary":
            # No framing: the body ends where the connection closes, so a cut on a batch
            # boundary looks like a clean end and only the announced count reveals it.
            self.send_header("Connection", "close")
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        for i in range(start, TOTAL):
            x, y, w = batch_at(epoch, i, dtype, class_mode)
            arrays = {"x": x, "y": y, "sample_weight": w}
            data = b"".join(npy(arrays[c]) for c in columns)
            if kind is not None and i - start == after:
                if kind == "mid-array":
                    self._chunk(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if kind == "boundary":
                self.wfile.write(data)
                self.wfile.flush()
            else:
                self._chunk(data)
            if dataset_id == "slow" and i == start:
                FakeService.slow_saw_release.append(FakeService.slow_released.wait(5))
        if kind != "boundary":
            self.wfile.write(b"0\r\n\r\n")


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), FakeService)
        cls.server.daemon_threads = True
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.base = "http://127.0.0.1:{}".format(cls.server.server_address[1])

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        FakeService.requests.clear()
        FakeService.drops.clear()

    def assert_batch(self, got, epoch, i, dtype="float32", class_mode="categorical", weighted=False):
        x, y, w = batch_at(epoch, i, dtype, class_mode)
        want = (x,) + ((y,) if y is not None else ()) + ((w,) if weighted else ())
        self.assertEqual(len(got), len(want))
        for a, b in zip(got, want):
            self.assertEqual(a.dtype, b.dtype)
            self.assertEqual(a.shape, b.shape)
            self.assertEqual(a.tobytes(), b.tobytes())

    def test_dataset_returns_json_and_sends_token(self):
        ds = Client(self.base + "/", token="s3cret").dataset("kws")
        self.assertEqual(ds["audio_input_shape"], [98, 32, 1])
        self.assertEqual(FakeService.requests[-1][2], "Bearer s3cret")

    def test_batches_yield_x_y_tuples_in_order(self):
        got = list(Client(self.base).batches("kws", epoch=2, batch_size=BATCH, shuffle=False))
        self.assertEqual(len(got), TOTAL)
        for i, b in enumerate(got):
            self.assert_batch(b, 2, i)
        _, query, _ = FakeService.requests[-1]
        self.assertEqual(
            query,
            {"subset": "training", "epoch": "2", "batch_size": "3", "shuffle": "false", "from_batch": "0", "format": "npy"},
        )

    def test_columns_header_decides_the_tuple(self):
        c = Client(self.base)
        weighted = list(c.batches("kws", class_weight=True, dtype="int8", class_mode="sparse"))
        self.assert_batch(weighted[4], 0, 4, "int8", "sparse", weighted=True)
        x_only = list(c.batches("kws", class_mode="none"))
        self.assertEqual([len(b) for b in x_only], [1] * TOTAL)
        self.assert_batch(x_only[0], 0, 0, class_mode="none")

    def test_from_batch_starts_mid_epoch(self):
        got = list(Client(self.base).batches("kws", from_batch=3))
        self.assertEqual(len(got), 2)
        self.assert_batch(got[1], 0, 4)

    def test_batches_are_read_incrementally_from_the_response(self):
        FakeService.slow_released.clear()
        FakeService.slow_saw_release.clear()
        it = Client(self.base).batches("slow")
        first = next(it)  # the server holds the rest until this returns
        FakeService.slow_released.set()
        self.assert_batch(first, 0, 0)
        self.assertEqual(len(list(it)), TOTAL - 1)
        self.assertEqual(FakeService.slow_saw_release, [True])

    def test_problem_json_raises_audiofeed_error(self):
        c = Client(self.base)
        with self.assertRaises(AudiofeedError) as ctx:
            list(c.batches("missing"))
        self.assertEqual(ctx.exception.status, 404)
        self.assertEqual(ctx.exception.type, "https://audiofeed.dev/problems/dataset-not-found")
        self.assertEqual(ctx.exception.detail, "no dataset missing")
        with self.assertRaises(AudiofeedError):
            c.dataset("missing")

    def test_batches_raise_incomplete_stream_on_a_drop(self):
        FakeService.drops["flaky"] = [("mid-array", 2)]
        got = []
        with self.assertRaises(IncompleteStreamError) as ctx:
            for b in Client(self.base).batches("flaky"):
                got.append(b)
        self.assertEqual(len(got), 2)
        self.assertEqual((ctx.exception.received, ctx.exception.expected), (2, TOTAL))

    def test_epochs_resume_after_a_drop_mid_array(self):
        FakeService.drops["flaky"] = [("mid-array", 2)]
        got = list(Client(self.base).epochs("flaky", retry_delay=0))
        self.assertEqual(len(got), TOTAL)
        for i, b in enumerate(got):
            self.assert_batch(b, 0, i)
        self.assertEqual([q["from_batch"] for _, q, _ in FakeService.requests], ["0", "2"])

    def test_epochs_resume_after_a_cut_on_a_batch_boundary(self):
        FakeService.drops["flaky"] = [("boundary", 3)]
        got = list(Client(self.base).epochs("flaky", retry_delay=0))
        self.assertEqual(len(got), TOTAL)
        self.assert_batch(got[3], 0, 3)
        self.assertEqual([q["from_batch"] for _, q, _ in FakeService.requests], ["0", "3"])

    def test_epochs_run_consecutive_epochs(self):
        got = list(Client(self.base).epochs("kws", start_epoch=4, num_epochs=2, retry_delay=0))
        self.assertEqual(len(got), 2 * TOTAL)
        self.assert_batch(got[TOTAL], 5, 0)
        self.assertEqual([q["epoch"] for _, q, _ in FakeService.requests], ["4", "5"])

    def test_epochs_give_up_when_retries_make_no_progress(self):
        FakeService.drops["broken"] = [("mid-array", 0)] * 10
        with self.assertRaises(IncompleteStreamError) as ctx:
            list(Client(self.base).epochs("broken", retries=2, retry_delay=0))
        self.assertEqual((ctx.exception.received, ctx.exception.expected), (0, TOTAL))
        self.assertEqual(len(FakeService.requests), 3)

    def test_epochs_do_not_retry_client_errors(self):
        with self.assertRaises(AudiofeedError):
            list(Client(self.base).epochs("missing", retry_delay=0))
        self.assertEqual(len(FakeService.requests), 1)


if __name__ == "__main__":
    unittest.main()
