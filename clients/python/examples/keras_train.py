"""Train a small keyword-spotting CNN in Keras on batches streamed by audiofeed.

    python3 keras_train.py http://127.0.0.1:8080 corpus-mini [--epochs 10] [--batch-size 16] [--class-weight]

The batches come through ``audiofeed_client.tfdata.make_dataset``: a
``tf.data.Dataset.from_generator`` whose ``output_signature`` is built from the dataset's
metadata. Each Keras epoch streams the service's next epoch number, so each has its own
order, as in MLTK. TensorFlow is imported inside ``train()`` only: the client package
itself needs just numpy.
"""
import argparse
import os

from audiofeed_client import Client


def train(base_url, dataset_id, epochs=10, batch_size=16, class_weight=False, lr=0.003, token=None, seed=0, verbose=2):
    """Trains and returns Keras' history dict (``loss``, ``accuracy``, ``val_loss``, …)."""
    import tensorflow as tf

    from audiofeed_client.tfdata import make_dataset

    tf.keras.utils.set_random_seed(seed)
    client = Client(base_url, token=token)
    info = client.dataset(dataset_id)
    shape = tuple(info["audio_input_shape"])
    classes = info["audio_classes"]
    if len(shape) != 3:
        raise SystemExit("this example expects (frames, channels, 1) inputs; register the dataset with add_channel_dimension")

    # class_weight=True: the service turns the dataset's class weights into a per-row
    # sample_weight column, which is what Keras does internally with class_weight.
    common = dict(batch_size=batch_size, class_mode="categorical", dtype="float32", class_weight=class_weight, info=info)
    train_ds = make_dataset(client, dataset_id, subset="training", **common)
    validation_ds = make_dataset(client, dataset_id, subset="validation", shuffle=False, **common)

    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=shape),
            # The float32 features are the frontend's uint16 values (0..~700).
            tf.keras.layers.Rescaling(1.0 / 1000.0),
            tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(len(classes), activation="softmax"),
        ]
    )
    model.compile(optimizer=tf.keras.optimizers.Adam(lr), loss="categorical_crossentropy", metrics=["accuracy"])
    # shuffle=False: the service shuffles every epoch itself (a tf.data dataset is never reshuffled by fit).
    history = model.fit(train_ds, validation_data=validation_ds, epochs=epochs, shuffle=False, verbose=verbose)
    return history.history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("dataset_id")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--class-weight", action="store_true")
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--token", default=os.environ.get("AUDIOFEED_TOKEN"))
    args = parser.parse_args(argv)
    history = train(args.base_url, args.dataset_id, args.epochs, args.batch_size, args.class_weight, args.lr, args.token)
    print("loss per epoch:", " ".join("{:.4f}".format(v) for v in history["loss"]))


if __name__ == "__main__":
    main()
