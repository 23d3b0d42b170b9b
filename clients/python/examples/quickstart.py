"""From a folder of WAVs to a model that learns, with numpy only.

    pip install ./clients/python            # numpy is the only dependency
    python quickstart.py http://127.0.0.1:8080 my-words --classes yes,no,_unknown_,_silence_

``my-words`` is a directory under one of the service's data roots (DATA_ROOTS, ``./datasets``
by default), one sub-directory of WAVs per class (``my-words/yes/a.wav``); ``--upload``
sends a local directory instead. The script registers it, featurizes the training subset on
the service's workers with a progress bar, then trains a softmax regression on the streamed
spectrograms for a few epochs and prints the loss of each. ``--delete`` removes the dataset
at the end.
"""
import argparse
import os

import numpy as np

from audiofeed_client import Client


def features(x):
    """Per-channel mean and standard deviation over time, standardized per clip:
    (B, frames, channels, 1) → (B, 2·channels). No dataset statistics needed."""
    x = x.reshape(x.shape[0], x.shape[1], -1).astype(np.float64)
    f = np.concatenate([x.mean(axis=1), x.std(axis=1)], axis=1)
    return (f - f.mean(axis=1, keepdims=True)) / (f.std(axis=1, keepdims=True) + 1e-6)


def train(client, dataset_id, num_classes, epochs=8, batch_size=16, lr=0.1, log=print):
    """Softmax regression by plain gradient descent on each streamed batch; the mean loss per epoch."""
    rng = np.random.default_rng(0)
    w = b = None
    losses = []
    for epoch in range(epochs):
        total, correct, rows = 0.0, 0, 0
        # Each epoch is the service's epoch number, with its own shuffle, as in MLTK.
        for x, y in client.batches(dataset_id, "training", epoch=epoch, batch_size=batch_size, class_mode="sparse"):
            f = features(x)
            labels = y.astype(np.int64)
            if w is None:
                w = rng.normal(0, 0.01, (f.shape[1], num_classes))
                b = np.zeros(num_classes)
            logits = f @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            total += -np.log(p[np.arange(len(labels)), labels] + 1e-12).sum()
            correct += int((p.argmax(axis=1) == labels).sum())
            rows += len(labels)
            p[np.arange(len(labels)), labels] -= 1.0
            w -= lr * f.T @ p / len(labels)
            b -= lr * p.mean(axis=0)
        losses.append(total / rows)
        log("epoch {}/{}  loss {:.4f}  accuracy {:.3f}".format(epoch + 1, epochs, losses[-1], correct / rows))
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("path", help="dataset directory under a data root (or a local one with --upload)")
    parser.add_argument("--classes", required=True, help="comma-separated, in order; may hold _unknown_ and _silence_")
    parser.add_argument("--name", help="dataset id (default: the directory's name)")
    parser.add_argument("--upload", action="store_true", help="PATH is a local directory: upload it")
    parser.add_argument("--validation-split", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--delete", action="store_true", help="delete the dataset (and its features) at the end")
    parser.add_argument("--token", default=os.environ.get("AUDIOFEED_TOKEN"))
    args = parser.parse_args(argv)

    client = Client(args.base_url, token=args.token)
    classes = args.classes.split(",")
    name = args.name or os.path.basename(os.path.normpath(args.path))
    source = {"upload": args.path} if args.upload else {"path": args.path}
    info = client.register(classes=classes, name=name, validation_split=args.validation_split, **source)
    print("registered {}: {} classes, input shape {}".format(info["id"], len(info["audio_classes"]), info["audio_input_shape"]))

    done = client.featurize(info["id"], "training")  # a progress bar (tqdm if installed) until the workers finish
    print("featurized {} clips ({} could not be read)".format(done["clips_done"], len(done["failures"])))

    losses = train(client, info["id"], len(classes), args.epochs, args.batch_size)
    print("losses per epoch: " + " ".join("{:.4f}".format(x) for x in losses))
    if args.delete:
        client.delete(info["id"], purge=True)
        print("deleted " + info["id"])


if __name__ == "__main__":
    main()
