"""The client against a hostile or misconfigured server (issue #21, item 7).

- The bearer token goes to the service's origin only: a redirect to another origin is
  followed without it, a redirect on the same origin keeps it, a redirect to another scheme
  is refused.
- Every array of a batch is checked against X-Audiofeed-Columns / -X-Shape / -Dtype and the
  batch against ``max_batch_bytes`` BEFORE it is allocated: a header claiming 10^12 elements
  is the client's BatchTooLargeError, not numpy's MemoryError; a wrong shape or dtype is a
  ProtocolError, never retried.
- A JSON answer is bounded too.

Fake servers on loopback ports (fakes.py); nothing else is needed.
"""
import time
import unittest

import numpy as np

from fakes import FakeServer, npy, npy_header, send, send_batches, send_json

from audiofeed_client import AudiofeedError, BatchTooLargeError, Client, IncompleteStreamError, ProtocolError

X_SHAPE = (98, 32, 1)


def batch(rows=4, x_dtype="<f4", y=None):
    x = np.zeros((rows,) + X_SHAPE, dtype=x_dtype)
    y = np.eye(3, dtype=x_dtype)[np.arange(rows) % 3] if y is None else y
    return x, y


class RedirectTest(unittest.TestCase):
    def test_a_redirect_to_another_origin_does_not_carry_the_token(self):
        with FakeServer(lambda r, h: send_json(h, 200, {"id": "kws", "where": "elsewhere"})) as other:
            target = other.base + "/v1/datasets/kws"
            with FakeServer(lambda r, h: send(h, 302, b"", None, {"Location": target})) as service:
                got = Client(service.base, token="s3cret").dataset("kws")
                self.assertEqual(service.requests[0].headers.get("Authorization"), "Bearer s3cret")
        self.assertEqual(got["where"], "elsewhere")
        self.assertEqual(len(other.requests), 1)
        self.assertIsNone(other.requests[0].headers.get("Authorization"))

    def test_a_batch_stream_redirected_to_another_origin_does_not_carry_the_token(self):
        x, y = batch()
        with FakeServer(lambda r, h: send_batches(h, npy(x) + npy(y))) as other:

            def redirect(r, h):
                send(h, 307, b"", None, {"Location": other.base + r.path + "?format=npy"})

            with FakeServer(redirect) as service:
                got = list(Client(service.base, token="s3cret").batches("kws"))
        self.assertEqual(len(got), 1)
        self.assertIsNone(other.requests[0].headers.get("Authorization"))

    def test_a_redirect_on_the_same_origin_keeps_the_token(self):
        def respond(r, h):
            if r.path == "/v1/datasets/old":
                send(h, 301, b"", None, {"Location": "/v1/datasets/new"})
            else:
                send_json(h, 200, {"id": "new"})

        with FakeServer(respond) as service:
            self.assertEqual(Client(service.base, token="s3cret").dataset("old")["id"], "new")
        self.assertEqual([r.path for r in service.requests], ["/v1/datasets/old", "/v1/datasets/new"])
        self.assertEqual([r.headers.get("Authorization") for r in service.requests], ["Bearer s3cret"] * 2)

    def test_a_redirect_away_and_back_carries_the_token_only_on_the_service(self):
        with FakeServer(None) as service:
            with FakeServer(lambda r, h: send(h, 302, b"", None, {"Location": service.base + "/v1/datasets/back"})) as other:

                def respond(r, h):
                    if r.path.endswith("/away"):
                        send(h, 302, b"", None, {"Location": other.base + "/bounce"})
                    else:
                        send_json(h, 200, {"id": "back"})

                service.respond = respond
                Client(service.base, token="s3cret").dataset("away")
        self.assertEqual([r.headers.get("Authorization") for r in service.requests], ["Bearer s3cret", "Bearer s3cret"])
        self.assertIsNone(other.requests[0].headers.get("Authorization"))

    def test_a_redirect_to_another_scheme_is_refused(self):
        for location in ("ftp://127.0.0.1/x", "file:///etc/passwd"):
            with self.subTest(location=location):
                with FakeServer(lambda r, h: send(h, 302, b"", None, {"Location": location})) as service:
                    with self.assertRaises(ProtocolError):
                        Client(service.base, token="s3cret").dataset("kws")


class BatchCheckTest(unittest.TestCase):
    def stream(self, body, client_args=None, **headers):
        with FakeServer(lambda r, h: send_batches(h, body, **headers)) as service:
            client = Client(service.base, **(client_args or {}))
            try:
                return list(client.batches("kws"))
            finally:
                self.requests = service.requests

    def test_a_header_claiming_a_trillion_elements_is_refused_before_allocating(self):
        # x claims 10^12 rows of (98, 32, 1) float32 and y as many labels; no data follows.
        body = npy_header((10**12,) + X_SHAPE) + npy_header((10**12, 3))
        started = time.monotonic()
        with self.assertRaises(BatchTooLargeError) as ctx:
            self.stream(body)
        self.assertLess(time.monotonic() - started, 30)  # refused, not allocated and filled
        self.assertEqual(ctx.exception.size, 10**12 * 98 * 32 * 4)
        self.assertEqual(ctx.exception.limit, Client.DEFAULT_MAX_BATCH_BYTES)
        self.assertIn("max_batch_bytes", str(ctx.exception))

    def test_max_batch_bytes_counts_every_column_of_the_batch(self):
        x, y = batch(rows=4)
        body = npy(x) + npy(y)
        exact = x.nbytes + y.nbytes
        got = self.stream(body, {"max_batch_bytes": exact})
        self.assertEqual([a.shape for a in got[0]], [x.shape, y.shape])
        with self.assertRaises(BatchTooLargeError) as ctx:
            self.stream(body, {"max_batch_bytes": exact - 1})
        self.assertEqual((ctx.exception.size, ctx.exception.limit), (exact, exact - 1))

    def test_x_must_have_the_announced_shape(self):
        x = np.zeros((4, 98, 40, 1), dtype="<f4")
        with self.assertRaises(ProtocolError) as ctx:
            self.stream(npy(x) + npy(batch()[1]))
        self.assertIn("[98, 32, 1]", str(ctx.exception))
        with self.assertRaises(ProtocolError):
            self.stream(npy(np.zeros((4, 98, 32), dtype="<f4")) + npy(batch()[1]))

    def test_arrays_must_have_the_announced_dtype(self):
        x, y = batch(x_dtype="<f8")
        with self.assertRaises(ProtocolError) as ctx:
            self.stream(npy(x) + npy(y))
        self.assertIn("float32", str(ctx.exception))
        x, _ = batch()
        with self.assertRaises(ProtocolError):
            self.stream(npy(x) + npy(np.zeros((4, 3), dtype="<i8")))
        w = np.ones(4, dtype="<f8")
        with self.assertRaises(ProtocolError):
            self.stream(npy(x) + npy(batch()[1]) + npy(w), columns="x,y,sample_weight")

    def test_every_column_must_have_the_rows_of_x(self):
        x, _ = batch(rows=4)
        with self.assertRaises(ProtocolError) as ctx:
            self.stream(npy(x) + npy(np.zeros((5, 3), dtype="<f4")))
        self.assertIn("4 rows", str(ctx.exception))

    def test_object_arrays_are_refused(self):
        with self.assertRaises(ProtocolError):
            self.stream(npy_header((4,) + X_SHAPE, "|O") + b"\x00" * 64)

    def test_int8_and_input_mode_batches_pass_the_checks(self):
        x = (np.arange(2 * 98 * 32) % 100).astype("|i1").reshape((2,) + X_SHAPE)
        got = self.stream(npy(x) + npy(x), dtype="int8")
        self.assertEqual(got[0][1].tobytes(), x.tobytes())
        sparse = self.stream(npy(x) + npy(np.array([1, 2], dtype="|i1")), dtype="int8")
        self.assertEqual(sparse[0][1].tolist(), [1, 2])

    def test_malformed_or_missing_headers_are_refused_before_reading(self):
        x, y = batch()
        body = npy(x) + npy(y)
        for headers in (
            {"x_shape": None},
            {"x_shape": "[98, -32, 1]"},
            {"dtype": "float64"},
            {"dtype": None},
            {"columns": "y,x"},
            {"columns": "x,x"},
            {"columns": "x,labels"},
        ):
            with self.subTest(**headers):
                if isinstance(headers.get("x_shape"), str):
                    with FakeServer(lambda r, h: send_batches(h, body, extra_headers={"X-Audiofeed-X-Shape": headers["x_shape"]})) as s:
                        with self.assertRaises(ProtocolError):
                            list(Client(s.base).batches("kws"))
                    continue
                with self.assertRaises(ProtocolError):
                    self.stream(body, **headers)

    def test_a_protocol_error_is_not_retried(self):
        x = np.zeros((4, 98, 40, 1), dtype="<f4")
        with FakeServer(lambda r, h: send_batches(h, npy(x) + npy(batch()[1]), batches=3)) as service:
            with self.assertRaises(ProtocolError):
                list(Client(service.base).epochs("kws", retries=5, retry_delay=0))
        self.assertEqual(len(service.requests), 1)

    def test_a_missing_batch_count_is_still_an_incomplete_stream(self):
        with self.assertRaises(IncompleteStreamError) as ctx:
            self.stream(b"", batches=None)
        self.assertIsNone(ctx.exception.expected)


class JsonBoundTest(unittest.TestCase):
    def test_a_json_answer_over_max_json_bytes_is_refused(self):
        big = {"id": "kws", "pad": "x" * 5000}
        with FakeServer(lambda r, h: send_json(h, 200, big)) as service:
            self.assertEqual(Client(service.base).dataset("kws")["id"], "kws")
            with self.assertRaises(ProtocolError) as ctx:
                Client(service.base, max_json_bytes=4096).dataset("kws")
        self.assertIn("max_json_bytes", str(ctx.exception))

    def test_a_problem_that_is_not_json_is_still_an_audiofeed_error(self):
        with FakeServer(lambda r, h: send(h, 502, b"<html>bad gateway</html>", "text/html")) as service:
            with self.assertRaises(AudiofeedError) as ctx:
                Client(service.base).dataset("kws")
        self.assertEqual((ctx.exception.status, ctx.exception.type), (502, "about:blank"))
        self.assertIn("bad gateway", ctx.exception.detail)


if __name__ == "__main__":
    unittest.main()
