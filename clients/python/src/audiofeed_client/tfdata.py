"""TensorFlow: the service's batch stream as a ``tf.data.Dataset`` for Keras.

tensorflow is imported by the functions here when they are called, never at import.

    from audiofeed_client import Client
    from audiofeed_client.tfdata import make_dataset

    client = Client("http://127.0.0.1:8080")
    train = make_dataset(client, "corpus-mini", subset="training", batch_size=16)
    validation = make_dataset(client, "corpus-mini", subset="validation", batch_size=16, shuffle=False)
    model.fit(train, validation_data=validation, epochs=10)

Elements are the service's batches: ``(x, y)``, ``(x, y, sample_weight)`` (which Keras
reads as per-row weights) or ``(x,)``. The ``output_signature`` is built from the
dataset's metadata before the first batch (see ``audiofeed_client.columns``): the batch
dimension is None, the rest is ``audio_input_shape``, ``len(audio_classes)`` and the dtype.
"""
import itertools

from .client import Client
from .columns import batch_columns


def output_signature(info, class_mode=None, dtype=None, class_weight=False, sample_weight_id=None):
    """A tuple of ``tf.TensorSpec``, one per column of the batches, from the dataset view."""
    import tensorflow as tf

    return tuple(
        tf.TensorSpec(shape=c.shape, dtype=tf.as_dtype(c.dtype), name=c.name)
        for c in batch_columns(info, class_mode, dtype, class_weight, sample_weight_id)
    )


def make_dataset(
    client,
    dataset_id,
    subset="training",
    epoch=0,
    batch_size=32,
    from_batch=0,
    retries=3,
    retry_delay=0.5,
    info=None,
    prefetch=2,
    token=None,
    **params
):
    """``tf.data.Dataset.from_generator`` over the batch stream, one epoch per pass.

    Keras starts a new pass over a finite dataset every epoch: pass ``i`` streams the
    service's epoch ``epoch + i``, so each has its own order, as in MLTK (to resume at
    Keras' ``initial_epoch`` give the same number here, and ``from_batch`` for the batches
    of it already trained on: it applies to the first pass only). ``info`` is the dataset
    view (fetched when None). Other keyword arguments are the batch endpoint's query
    parameters. With ``from_batch`` 0 the dataset's cardinality is the epoch's batch count,
    read from the header of one request that is closed at once. A stream that ends early raises IncompleteStreamError after ``retries``
    reconnections without progress, which stops ``fit`` instead of ending the epoch short.
    """
    import tensorflow as tf

    if not isinstance(client, Client):
        client = Client(client, token=token)
    if info is None:
        info = client.dataset(dataset_id)
    signature = output_signature(
        info, params.get("class_mode"), params.get("dtype"), params.get("class_weight", False), params.get("sample_weight_id")
    )
    passes = itertools.count()

    def generator():
        i = next(passes)
        yield from client.batch_range(
            dataset_id,
            subset,
            epoch + i,
            batch_size,
            from_batch if i == 0 else 0,
            None,
            retries,
            retry_delay,
            **params
        )

    ds = tf.data.Dataset.from_generator(generator, output_signature=signature)
    if from_batch == 0:
        # Every pass has the same number of batches: telling tf.data lets Keras size its
        # progress bar from the first epoch, and a short pass fails loudly here as well.
        with client.open_batches(dataset_id, subset, epoch, batch_size, 0, **params) as stream:
            ds = ds.apply(tf.data.experimental.assert_cardinality(stream.end))
    return ds.prefetch(prefetch) if prefetch else ds
