"""audiofeed_client.torch against the REAL service, through torch's own DataLoader.

Needs torch (a CPU build here: ``pip install './clients/python[torch]' 'torch==2.13.0+cpu'``) and a live service (AUDIOFEED_URL,
AUDIOFEED_DATASET); without either every test is skipped with the reason. `npm test` runs
this module through test/clients/python-live.test.ts, which reports a missing torch as a
skipped test with the same reason, never silently.
"""
import math
import os
import sys
import unittest

from support import DATASET, LIVE, SKIP_REASON, TOKEN, URL, ReplayServer, capture, importable

from audiofeed_client import AudiofeedError, Client, IncompleteStreamError, loader_order, worker_slice  # noqa: E402

TORCH_REASON = "torch is not importable: pip install './clients/python[torch]' 'torch==2.13.0+cpu' (a CPU build, with its dependencies: --no-deps leaves torch unimportable, and an unpinned torch may resolve to a CUDA build whose libraries are missing)"
HAVE_TORCH = importable("torch")
BATCH = 16

if HAVE_TORCH:
    import torch
    from torch.utils.data import DataLoader, get_worker_info

    from audiofeed_client.torch import AudiofeedIterableDataset

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
    import torch_train


def tag_with_worker(batch):
    """collate_fn (runs in the worker process): which worker delivered the batch."""
    return get_worker_info().id, batch


def key(x):
    return x.numpy().tobytes() if HAVE_TORCH and isinstance(x, torch.Tensor) else x.tobytes()


@unittest.skipUnless(HAVE_TORCH, TORCH_REASON)
@unittest.skipUnless(LIVE, SKIP_REASON)
class TorchDatasetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.client = Client(URL, token=TOKEN, timeout=120.0)
        rows = cls.client.get_json("/v1/datasets/{}/samples?subset=training&limit=1".format(DATASET))["total"]
        # A batch size that gives an odd number of batches, so two workers get unequal slices.
        cls.batch_size = next(b for b in range(5, 16) if math.ceil(rows / b) % 2 == 1)
        cls.n = math.ceil(rows / cls.batch_size)

    @classmethod
    def tearDownClass(cls):
        # After the per-test lines, so it does not split one; npm test shows this line.
        if getattr(cls, "losses", None):
            sys.stderr.write("torch_train losses per epoch: {}\n".format(" ".join("{:.4f}".format(v) for v in cls.losses)))

    def epoch(self, epoch, **params):
        """The epoch as the numpy client streams it, by content -> batch index."""
        batches = list(self.client.batches(DATASET, epoch=epoch, batch_size=self.batch_size, **params))
        index = {key(b[0]): i for i, b in enumerate(batches)}
        self.assertEqual(len(index), len(batches), "every batch of the epoch is distinct")
        return batches, index

    def dataset(self, **kw):
        kw.setdefault("batch_size", self.batch_size)
        return AudiofeedIterableDataset(URL, DATASET, token=TOKEN, **kw)

    def test_each_element_is_a_batch_of_tensors_with_the_streamed_dtype(self):
        for dtype, torch_dtype in (("float32", torch.float32), ("int8", torch.int8), ("uint16", torch.uint16)):
            with self.subTest(dtype=dtype):
                want, _ = self.epoch(0, dtype=dtype, class_mode="sparse")
                got = list(DataLoader(self.dataset(dtype=dtype, class_mode="sparse"), batch_size=None, num_workers=0))
                self.assertEqual(len(got), self.n)
                for (x, y), (wx, wy) in zip(got, want):
                    self.assertEqual((x.dtype, y.dtype), (torch_dtype, torch_dtype))
                    self.assertEqual(tuple(x.shape), wx.shape)
                    self.assertEqual(tuple(y.shape), (self.batch_size,))
                    self.assertEqual(x.numpy().tobytes(), wx.tobytes())
                    self.assertEqual(y.numpy().tobytes(), wy.tobytes())

    def test_two_workers_stream_disjoint_slices_that_cover_the_epoch(self):
        _, index = self.epoch(2)
        ds = self.dataset(epoch=2)
        got = [(w, index[key(x)]) for w, (x, y) in DataLoader(ds, batch_size=None, num_workers=2, collate_fn=tag_with_worker)]
        slices = {w: [i for v, i in got if v == w] for w in (0, 1)}
        for w in (0, 1):
            self.assertEqual(slices[w], list(range(*worker_slice(self.n, 2, w))), "worker {}".format(w))
        self.assertEqual(set(slices[0]) & set(slices[1]), set())
        self.assertEqual(sorted(slices[0] + slices[1]), list(range(self.n)))
        self.assertNotEqual(len(slices[0]), len(slices[1]))
        # DataLoader takes one batch from each worker in turn.
        self.assertEqual([i for _, i in got], loader_order(self.n, 2))
        self.assertEqual(len(ds), self.n)

    def test_from_batch_resumes_where_the_loader_stood(self):
        _, index = self.epoch(1)
        full = [index[key(x)] for x, _ in DataLoader(self.dataset(epoch=1), batch_size=None, num_workers=2)]
        for k in (1, 4, self.n - 1, self.n):
            with self.subTest(from_batch=k):
                ds = self.dataset(epoch=1, from_batch=k)
                resumed = [index[key(x)] for x, _ in DataLoader(ds, batch_size=None, num_workers=2)]
                self.assertEqual(resumed, full[k:])
                self.assertEqual(len(ds), self.n - k)
        # In the training process (no workers) from_batch is the service's own.
        single = [index[key(x)] for x, _ in self.dataset(epoch=1, from_batch=3)]
        self.assertEqual(single, list(range(3, self.n)))

    def test_set_epoch_chooses_the_epoch_of_the_next_pass(self):
        ds = self.dataset()
        loader = DataLoader(ds, batch_size=None, num_workers=2)
        for epoch in (3, 4, 4):
            ds.set_epoch(epoch)
            _, index = self.epoch(epoch)
            self.assertEqual(sorted(index[key(x)] for x, _ in loader), list(range(self.n)), "epoch {}".format(epoch))
        ds.set_epoch(5, from_batch=2)
        self.assertEqual(len(list(loader)), self.n - 2)

    def test_training_with_two_workers_lowers_the_loss(self):
        lines = []
        losses = torch_train.train(URL, DATASET, epochs=6, batch_size=BATCH, workers=2, token=TOKEN, log=lines.append)
        type(self).losses = losses
        self.assertEqual(len(losses), 6, lines)
        self.assertTrue(all(math.isfinite(v) for v in losses), losses)
        self.assertLess(losses[-1], 0.9 * losses[0], lines)

    def test_a_cut_stream_raises_incomplete_stream_error_in_the_training_process(self):
        epoch = capture(subset="training", epoch=0, batch_size=self.batch_size)
        second = worker_slice(self.n, 2, 1)[0]
        # Worker 1's stream (from its first batch on) stops in the middle of its second batch.
        cut_at = (epoch.boundaries[second + 1] + epoch.boundaries[second + 2]) // 2 - epoch.boundaries[second]
        with ReplayServer(epoch, cut=lambda start: (cut_at, "close") if start == second else None) as server:
            ds = AudiofeedIterableDataset(server.base, DATASET, batch_size=self.batch_size, retries=0)
            got = []
            with self.assertRaises(IncompleteStreamError) as ctx:
                for batch in DataLoader(ds, batch_size=None, num_workers=2):
                    got.append(batch)
        self.assertIn("batch stream ended early: 1 of {} batches arrived".format(self.n - second), str(ctx.exception))
        self.assertIn("DataLoader worker process 1", str(ctx.exception))
        self.assertLess(len(got), self.n)

    def test_problem_responses_keep_their_type_across_worker_processes(self):
        ds = AudiofeedIterableDataset(URL, "no-such-dataset", token=TOKEN)
        with self.assertRaises(AudiofeedError) as ctx:
            list(DataLoader(ds, batch_size=None, num_workers=2))
        self.assertIn("404", str(ctx.exception))
        with self.assertRaises(AudiofeedError) as ctx:
            list(ds)
        self.assertEqual(ctx.exception.status, 404)


if __name__ == "__main__":
    unittest.main()
