"""audiofeed_client.tfdata against the REAL service, with TensorFlow and Keras.

Needs tensorflow (``pip install './clients/python[tf]'``: tensorflow-cpu) and a live service (AUDIOFEED_URL,
AUDIOFEED_DATASET); without either every test is skipped with the reason. `npm test` runs
this module through test/clients/python-live.test.ts, which reports a missing tensorflow
as a skipped test with the same reason, never silently. The signature logic itself is
checked without TensorFlow in test_live.py (batch_columns against real streams).
"""
import math
import os
import sys
import unittest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from support import DATASET, LIVE, SKIP_REASON, TOKEN, URL, ReplayServer, capture, importable

from audiofeed_client import Client  # noqa: E402

TF_REASON = "tensorflow is not importable: pip install './clients/python[tf]'"
HAVE_TF = importable("tensorflow")
BATCH = 16

if HAVE_TF:
    import tensorflow as tf

    from audiofeed_client.tfdata import make_dataset, output_signature

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
    import keras_train


@unittest.skipUnless(HAVE_TF, TF_REASON)
@unittest.skipUnless(LIVE, SKIP_REASON)
class TfDataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = Client(URL, token=TOKEN, timeout=120.0)
        cls.info = cls.client.dataset(DATASET)
        cls.shape = tuple(cls.info["audio_input_shape"])
        cls.k = len(cls.info["audio_classes"])
        cls.n = math.ceil(cls.client.get_json("/v1/datasets/{}/samples?subset=training&limit=1".format(DATASET))["total"] / BATCH)

    @classmethod
    def tearDownClass(cls):
        # After the per-test lines, so it does not split one; npm test shows this line.
        if getattr(cls, "losses", None):
            sys.stderr.write("keras_train losses per epoch: {}\n".format(" ".join("{:.4f}".format(v) for v in cls.losses)))

    def test_output_signature_is_built_from_the_dataset_metadata(self):
        cases = [
            ({}, ((None,) + self.shape, tf.float32), ((None, self.k), tf.float32)),
            ({"class_mode": "sparse", "dtype": "int8"}, ((None,) + self.shape, tf.int8), ((None,), tf.int8)),
            ({"class_mode": "input", "dtype": "uint16"}, ((None,) + self.shape, tf.uint16), ((None,) + self.shape, tf.uint16)),
        ]
        for params, x_spec, y_spec in cases:
            with self.subTest(**params):
                ds = make_dataset(self.client, DATASET, batch_size=BATCH, info=self.info, **params)
                want = (tf.TensorSpec(x_spec[0], x_spec[1], name="x"), tf.TensorSpec(y_spec[0], y_spec[1], name="y"))
                self.assertEqual(ds.element_spec, want)
                self.assertEqual(output_signature(self.info, **params), want)
                # The real batches fit it (from_generator checks every element against it).
                batches = list(ds)
                self.assertEqual(len(batches), self.n)
                self.assertEqual(tuple(batches[0][0].shape), (BATCH,) + self.shape)
        self.assertEqual(len(output_signature(self.info, class_mode="none")), 1)
        self.assertEqual(output_signature(self.info, class_weight=True)[2], tf.TensorSpec((None,), tf.float32, name="sample_weight"))

    def test_each_pass_streams_the_next_epoch(self):
        ds = make_dataset(self.client, DATASET, batch_size=BATCH, epoch=3, info=self.info)
        self.assertEqual(int(ds.cardinality()), self.n)
        for epoch in (3, 4):
            want = list(self.client.batches(DATASET, epoch=epoch, batch_size=BATCH))
            got = list(ds)
            self.assertEqual(len(got), len(want), "epoch {}".format(epoch))
            for (x, y), (wx, wy) in zip(got, want):
                self.assertEqual(x.numpy().tobytes(), wx.tobytes())
                self.assertEqual(y.numpy().tobytes(), wy.tobytes())

    def test_from_batch_applies_to_the_first_pass_only(self):
        ds = make_dataset(self.client, DATASET, batch_size=BATCH, epoch=1, from_batch=2, info=self.info)
        tail = list(self.client.batches(DATASET, epoch=1, batch_size=BATCH, from_batch=2))
        got = list(ds)
        self.assertEqual([x.numpy().tobytes() for x, _ in got], [x.tobytes() for x, _ in tail])
        self.assertEqual(len(list(ds)), self.n)

    def test_keras_fit_on_the_stream_lowers_the_loss(self):
        history = keras_train.train(URL, DATASET, epochs=6, batch_size=BATCH, token=TOKEN, verbose=0)
        losses = history["loss"]
        type(self).losses = losses
        self.assertEqual(len(losses), 6)
        self.assertTrue(all(math.isfinite(v) for v in losses), losses)
        self.assertLess(losses[-1], 0.9 * losses[0], losses)

    def test_a_cut_stream_fails_the_pass_instead_of_ending_it_short(self):
        epoch = capture(subset="training", epoch=0, batch_size=BATCH)
        cut_at = (epoch.boundaries[1] + epoch.boundaries[2]) // 2
        # The first response stops inside batch 1; every reconnection from batch 1 inside its first header.
        with ReplayServer(epoch, cut=lambda start: (cut_at, "close") if start == 0 else (5, "close")) as server:
            ds = make_dataset(server.base, DATASET, batch_size=BATCH, info=self.info, retries=1, retry_delay=0)
            got = []
            with self.assertRaises(tf.errors.OpError) as ctx:
                for batch in ds:
                    got.append(batch)
            self.assertIn("IncompleteStreamError", str(ctx.exception))
            self.assertIn("batch stream ended early", str(ctx.exception))
            self.assertEqual(len(got), 1)
            # The cardinality probe, the pass, one reconnection (retries=1), then the error.
            self.assertEqual(server.requests, [0, 0, 1])
            # Keras' fit stops on it too.
            model = tf.keras.Sequential([tf.keras.Input(self.shape), tf.keras.layers.Flatten(), tf.keras.layers.Dense(self.k)])
            model.compile(optimizer="adam", loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True))
            with self.assertRaises(tf.errors.UnknownError) as ctx:
                model.fit(ds, epochs=1, shuffle=False, verbose=0)
            self.assertIn("batch stream ended early", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
