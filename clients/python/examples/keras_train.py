"""Train a small keyword-spotting CNN in Keras on batches streamed by audiofeed.

    python3 keras_train.py http://127.0.0.1:8080 <dataset id> [--epochs 10] [--batch-size 32] [--class-weight]

TensorFlow is imported inside main() only: the client package itself needs just numpy.
"""
import argparse
import itertools
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from audiofeed_client import Client  # noqa: E402


def make_dataset(tf, client, dataset_id, subset, shape, num_classes, batch_size, shuffle, class_weight):
    """A tf.data.Dataset over the service's stream.

    Keras starts a new pass over a finite dataset every epoch; each pass asks the service
    for the next epoch number, so every epoch gets its own order, as in MLTK.
    """
    epoch_numbers = itertools.count()

    def generator():
        yield from client.epochs(
            dataset_id,
            subset=subset,
            start_epoch=next(epoch_numbers),
            num_epochs=1,
            batch_size=batch_size,
            shuffle=shuffle,
            class_mode="categorical",
            dtype="float32",
            class_weight=class_weight,
        )

    signature = (
        tf.TensorSpec(shape=(None,) + shape, dtype=tf.float32),
        tf.TensorSpec(shape=(None, num_classes), dtype=tf.float32),
    )
    if class_weight:
        # The service turns class weights into a per-row sample_weight column, which is
        # what Keras does internally with class_weight.
        signature += (tf.TensorSpec(shape=(None,), dtype=tf.float32),)
    return tf.data.Dataset.from_generator(generator, output_signature=signature).prefetch(2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("dataset_id")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--class-weight", action="store_true")
    parser.add_argument("--token", default=os.environ.get("AUDIOFEED_TOKEN"))
    args = parser.parse_args(argv)

    import tensorflow as tf

    client = Client(args.base_url, token=args.token)
    info = client.dataset(args.dataset_id)
    shape = tuple(info["audio_input_shape"])
    classes = info["audio_classes"]
    if len(shape) == 2:
        raise SystemExit("this example expects (height, width, 1) inputs; register the dataset with add_channel_dimension")

    common = dict(shape=shape, num_classes=len(classes), batch_size=args.batch_size, class_weight=args.class_weight)
    train = make_dataset(tf, client, args.dataset_id, "training", shuffle=True, **common)
    validation = make_dataset(tf, client, args.dataset_id, "validation", shuffle=False, **common)

    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=shape),
            tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(len(classes), activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, validation_data=validation, epochs=args.epochs)
    print("classes:", classes)


if __name__ == "__main__":
    main()
