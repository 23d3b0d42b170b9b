"""Client tests against a REAL audiofeed service and a registered, categorical dataset.

    AUDIOFEED_URL=http://127.0.0.1:8080 AUDIOFEED_DATASET=corpus-mini \\
        python3 -m unittest discover -s clients/python/tests -v

Without both variables these tests are skipped (the fake-server tests in test_client.py
still run). `npm test` runs them through test/clients/python-live.test.ts, which starts the
service with workers and registers corpus-mini first.
"""
import json
import math
import unittest
import urllib.parse
import urllib.request

import numpy as np

from support import DATASET, LIVE, SKIP_REASON, TOKEN, URL

from audiofeed_client import AudiofeedError, Client, batch_columns  # noqa: E402

BATCH = 16


def same_arrays(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b))


@unittest.skipUnless(LIVE, SKIP_REASON)
class LiveServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = Client(URL, token=TOKEN, timeout=120.0)
        cls.info = cls.client.dataset(DATASET)
        cls.shape = tuple(cls.info["audio_input_shape"])
        cls.classes = cls.info["audio_classes"]
        samples = cls.client.get_json(
            "/v1/datasets/{}/samples?subset=training&limit=1".format(urllib.parse.quote(DATASET, safe=""))
        )
        cls.rows = samples["total"]
        cls.num_batches = math.ceil(cls.rows / BATCH)

    def epoch(self, epoch, **params):
        return list(self.client.batches(DATASET, subset="training", epoch=epoch, batch_size=BATCH, **params))

    def test_dataset_metadata(self):
        self.assertEqual(self.info["id"], DATASET)
        self.assertEqual(self.info["status"], "ready")
        self.assertEqual(self.info["class_mode"], "categorical")
        self.assertEqual(len(self.shape), 3, self.shape)
        self.assertTrue(all(isinstance(d, int) and d > 0 for d in self.shape), self.shape)
        self.assertGreaterEqual(len(self.classes), 2)
        self.assertEqual(len(set(self.classes)), len(self.classes))
        self.assertEqual(self.info["loaded_subset"], "training")
        self.assertEqual(sum(self.info["class_counts"]["training"].values()), self.rows)

    def test_batches_header_announces_the_epoch(self):
        query = urllib.parse.urlencode({"subset": "training", "epoch": 0, "batch_size": BATCH, "format": "npy"})
        request = urllib.request.Request(
            "{}/v1/datasets/{}/batches?{}".format(URL.rstrip("/"), urllib.parse.quote(DATASET, safe=""), query),
            headers={"Accept": "application/x-npy-stream"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            self.assertEqual(response.headers["Content-Type"], "application/x-npy-stream")
            self.assertEqual(int(response.headers["X-Audiofeed-Batches"]), self.num_batches)
            self.assertEqual(response.headers["X-Audiofeed-Columns"], "x,y")
            self.assertEqual(json.loads(response.headers["X-Audiofeed-X-Shape"]), list(self.shape))
            self.assertEqual(response.headers["X-Audiofeed-Dtype"], "float32")

    def test_one_epoch_has_the_announced_batches_shapes_and_dtypes(self):
        got = self.epoch(0)
        self.assertEqual(len(got), self.num_batches)
        distinct = set()
        for i, batch in enumerate(got):
            self.assertEqual(len(batch), 2, "columns x, y")
            x, y = batch
            # As in MLTK every batch is full: the last one is padded from the head of the list.
            self.assertEqual(x.shape, (BATCH,) + self.shape, "x of batch {}".format(i))
            self.assertEqual(x.dtype, np.float32)
            self.assertEqual(y.shape, (BATCH, len(self.classes)), "y of batch {}".format(i))
            self.assertEqual(y.dtype, np.float32)
            self.assertTrue(np.isfinite(x).all())
            self.assertGreaterEqual(float(x.min()), 0.0)
            distinct.update(row.tobytes() for row in x)
        self.assertGreater(max(float(b[0].max()) for b in got), 0.0)
        # Every clip once, less the ones with identical features (generated silence).
        self.assertLessEqual(len(distinct), self.rows)
        self.assertGreater(len(distinct), self.rows // 2)

    def test_labels_are_one_hot_rows(self):
        for i, (_, y) in enumerate(self.epoch(0)):
            np.testing.assert_array_equal(y.sum(axis=1), np.ones(BATCH, dtype=np.float32), "batch {}".format(i))
            self.assertTrue(np.isin(y, (0.0, 1.0)).all(), "batch {} has values other than 0 and 1".format(i))

    def test_int8_sparse_batches(self):
        got = self.epoch(0, dtype="int8", class_mode="sparse", shuffle=False)
        self.assertEqual(len(got), self.num_batches)
        for x, y in got:
            self.assertEqual((x.dtype, x.shape), (np.int8, (BATCH,) + self.shape))
            self.assertEqual(y.shape, (BATCH,))
            self.assertTrue(((y >= 0) & (y < len(self.classes))).all(), y)

    def test_epochs_stream_consecutive_epochs(self):
        got = list(self.client.epochs(DATASET, start_epoch=0, num_epochs=2, batch_size=BATCH, retry_delay=0.1))
        self.assertEqual(len(got), 2 * self.num_batches)
        first, second = got[: self.num_batches], got[self.num_batches :]
        for a, b in zip(first, self.epoch(0)):
            self.assertTrue(same_arrays(a, b))
        for a, b in zip(second, self.epoch(1)):
            self.assertTrue(same_arrays(a, b))
        # Each epoch has its own order of the same clips.
        self.assertFalse(same_arrays(first[0], second[0]))
        clips = lambda batches: sorted({row.tobytes() for x, _ in batches for row in x})  # noqa: E731
        self.assertEqual(clips(first), clips(second))

    def test_from_batch_resumes_with_the_tail_of_the_epoch(self):
        full = self.epoch(1)
        self.assertGreater(len(full), 2)
        tail = self.epoch(1, from_batch=2)
        self.assertEqual(len(tail), len(full) - 2)
        for i, (a, b) in enumerate(zip(tail, full[2:])):
            self.assertTrue(same_arrays(a, b), "batch {}".format(i + 2))
        resumed = list(self.client.epochs(DATASET, start_epoch=1, num_epochs=1, batch_size=BATCH, from_batch=2))
        self.assertEqual(len(resumed), len(full) - 2)
        self.assertTrue(all(same_arrays(a, b) for a, b in zip(resumed, full[2:])))

    def test_batch_columns_from_the_metadata_match_every_stream(self):
        # What tf.data's output_signature is built from, checked against real batches.
        for class_mode, dtype in [(None, None), ("sparse", "int8"), ("binary", "uint16"), ("input", "float32"), ("none", "int8")]:
            with self.subTest(class_mode=class_mode, dtype=dtype):
                predicted = batch_columns(self.info, class_mode, dtype)
                params = {k: v for k, v in (("class_mode", class_mode), ("dtype", dtype)) if v is not None}
                with self.client.open_batches(DATASET, batch_size=BATCH, **params) as stream:
                    self.assertEqual(stream.columns, tuple(c.name for c in predicted))
                    _, arrays = next(iter(stream))
                self.assertEqual(len(arrays), len(predicted))
                for column, array in zip(predicted, arrays):
                    self.assertEqual(array.dtype, column.dtype, column.name)
                    self.assertEqual(array.shape, (BATCH,) + column.shape[1:], column.name)

    def test_unknown_dataset_is_a_404_audiofeed_error(self):
        with self.assertRaises(AudiofeedError) as ctx:
            self.client.dataset("no-such-dataset")
        self.assertEqual(ctx.exception.status, 404)
        self.assertTrue(ctx.exception.type.endswith("/dataset-not-found"), ctx.exception.type)
        with self.assertRaises(AudiofeedError) as ctx:
            next(self.client.batches("no-such-dataset"))
        self.assertEqual(ctx.exception.status, 404)
        with self.assertRaises(AudiofeedError) as ctx:
            list(self.client.epochs("no-such-dataset", retry_delay=0))
        self.assertEqual(ctx.exception.status, 404)

    def test_from_batch_past_the_end_is_a_client_error(self):
        with self.assertRaises(AudiofeedError) as ctx:
            next(self.client.batches(DATASET, batch_size=BATCH, from_batch=self.num_batches + 5))
        self.assertEqual(ctx.exception.status, 422)

    def test_datagen_sizes_the_training_loop_without_streaming(self):
        dg = self.client.datagen(DATASET, "training", batch_size=BATCH, steps_per_epoch=2, epoch=1, validation_freq=2)
        self.assertEqual(dg["subset"], "training")
        self.assertEqual(dg["samples"], self.rows)
        self.assertEqual(dg["batch_size"], BATCH)
        self.assertEqual(dg["batches_per_epoch"], self.num_batches)
        self.assertEqual(dg["steps_per_epoch"], 2)
        self.assertEqual(dg["batches"], 2)
        self.assertEqual(tuple(dg["x_shape"]), self.shape)
        self.assertEqual(dg["classes"], self.classes)
        self.assertTrue(dg["shuffle"])
        self.assertTrue(dg["validation_after_epoch"])  # epoch 1 is the 2nd: validation_freq=2 validates
        # The standardization the service applies to x (off here), with MLTK's names.
        self.assertEqual(
            (dg["rescale"], dg["samplewise_center"], dg["samplewise_std_normalization"], dg["samplewise_normalize_range"]),
            (None, False, False, None),
        )
        ev = self.client.datagen(DATASET, "evaluation")
        self.assertFalse(ev["shuffle"])  # eval_shuffle defaults to off
        with self.assertRaises(AudiofeedError) as caught:
            self.client.datagen(DATASET, "testing")
        self.assertEqual(caught.exception.status, 400)


if __name__ == "__main__":
    unittest.main()
