"""A batch stream that ends early never looks like a clean end (issue #11, item 5).

A real epoch is captured from the live service (AUDIOFEED_URL, AUDIOFEED_DATASET) and
replayed by a local server cut at many byte offsets: inside an array's header, inside its
data, between x and y, exactly on a batch boundary, one byte short of the end; with the
connection dropped inside a chunked body, with a body that just stops when the connection
closes (HTTP cannot see that cut), and with a body that ends properly after fewer batches
than X-Audiofeed-Batches announced. Skipped, like test_live.py, without a live service.
"""
import unittest

from support import DATASET, LIVE, SKIP_REASON, TOKEN, URL, ReplayServer, capture

from audiofeed_client import Client, IncompleteStreamError  # noqa: E402

BATCH = 16
FRAMINGS = ("chunked", "close", "ended")


def same_arrays(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))


@unittest.skipUnless(LIVE, SKIP_REASON)
class TruncatedStreamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.capture = capture(subset="training", epoch=0, batch_size=BATCH)
        cls.batches = list(Client(URL, token=TOKEN, timeout=120.0).batches(DATASET, epoch=0, batch_size=BATCH))
        cls.n = len(cls.capture.boundaries) - 1

    def cut_offsets(self):
        """Offsets into the body, each with the number of whole batches before it."""
        b = self.capture.boundaries
        x_len = len(self.batches[0][0].tobytes())
        offsets = {
            1,  # inside the first array's magic string
            40,  # inside the first array's header
            b[0] + 128 + x_len // 2,  # inside x's data
            b[1] - 3,  # inside y's data, the end of the first batch in sight
            b[1],  # exactly on the first batch boundary
            b[1] + 7,  # inside the second batch's first header
            b[self.n - 1],  # on the last boundary before the end
            b[self.n] - 1,  # one byte short of the whole epoch
        }
        return sorted((o, max(i for i in range(self.n + 1) if b[i] <= o)) for o in offsets if 0 < o < b[self.n])

    def client(self, server):
        return Client(server.base, timeout=30.0)

    def test_the_replay_serves_the_service_epoch_unchanged(self):
        with ReplayServer(self.capture) as server:
            got = list(self.client(server).batches(DATASET, batch_size=BATCH))
        self.assertEqual(len(got), self.n)
        self.assertTrue(all(same_arrays(a, b) for a, b in zip(got, self.batches)))

    def test_a_stream_cut_at_any_offset_raises_after_the_whole_batches_before_it(self):
        self.assertGreaterEqual(self.n, 3)
        with ReplayServer(self.capture) as server:
            for offset, whole in self.cut_offsets():
                for framing in FRAMINGS:
                    with self.subTest(offset=offset, framing=framing):
                        server.cut = lambda _, o=offset, f=framing: (o, f)
                        got = []
                        with self.assertRaises(IncompleteStreamError) as ctx:
                            for batch in self.client(server).batches(DATASET, batch_size=BATCH):
                                got.append(batch)
                        self.assertEqual(len(got), whole)
                        self.assertTrue(all(same_arrays(a, b) for a, b in zip(got, self.batches)))
                        self.assertEqual((ctx.exception.received, ctx.exception.expected), (whole, self.n))
                        self.assertIn("batch stream ended early: {} of {} batches arrived".format(whole, self.n), str(ctx.exception))
                        self.assertIsInstance(ctx.exception, IOError)

    def test_fewer_batches_than_announced_raise_although_the_body_ends_properly(self):
        for whole in (0, 1, self.n - 1):
            with self.subTest(batches=whole):
                cut = (self.capture.boundaries[whole], "ended")
                with ReplayServer(self.capture, cut=lambda _: cut) as server:
                    it = self.client(server).batches(DATASET, batch_size=BATCH)
                    got = [next(it) for _ in range(whole)]
                    with self.assertRaises(IncompleteStreamError) as ctx:
                        next(it)
                self.assertTrue(all(same_arrays(a, b) for a, b in zip(got, self.batches)))
                self.assertEqual((ctx.exception.received, ctx.exception.expected, ctx.exception.cause), (whole, self.n, None))
                self.assertIn("the body ended on a batch boundary", str(ctx.exception))

    def test_epochs_resume_a_cut_stream_byte_for_byte(self):
        middle = (self.capture.boundaries[1] + self.capture.boundaries[2]) // 2
        cuts = {0: (middle, "close")}
        with ReplayServer(self.capture, cut=lambda start: cuts.pop(start, None)) as server:
            got = list(self.client(server).epochs(DATASET, batch_size=BATCH, retry_delay=0))
            self.assertEqual(server.requests, [0, 1])
        self.assertEqual(len(got), self.n)
        self.assertTrue(all(same_arrays(a, b) for a, b in zip(got, self.batches)))

    def test_epochs_raise_when_every_attempt_is_cut(self):
        def cut(start):
            return (self.capture.boundaries[1] - start, "chunked") if start == 0 else (5, "close")

        got = []
        with ReplayServer(self.capture, cut=cut) as server:
            with self.assertRaises(IncompleteStreamError) as ctx:
                for batch in self.client(server).epochs(DATASET, batch_size=BATCH, retries=2, retry_delay=0):
                    got.append(batch)
            # Progress resets the count: one failure, then `retries` reconnections without progress.
            self.assertEqual(server.requests, [0, 1, 1])
        self.assertEqual((ctx.exception.received, ctx.exception.expected), (1, self.n))
        # The last attempt's own cause: its body stopped inside the first array's magic string.
        self.assertIsInstance(ctx.exception.cause, ValueError)
        self.assertIn("EOF", str(ctx.exception))
        self.assertTrue(same_arrays(got[0], self.batches[0]))

    def test_a_response_without_the_batch_count_is_refused_not_trusted(self):
        with ReplayServer(self.capture, announce=None) as server:
            with self.assertRaises(IncompleteStreamError) as ctx:
                next(self.client(server).batches(DATASET, batch_size=BATCH))
            self.assertIsNone(ctx.exception.expected)
            self.assertIn("X-Audiofeed-Batches", str(ctx.exception))
            with self.assertRaises(IncompleteStreamError):
                list(self.client(server).epochs(DATASET, batch_size=BATCH, retry_delay=0))
            self.assertEqual(server.requests, [0, 0], "no retry: a response without the count cannot get better")


if __name__ == "__main__":
    unittest.main()
