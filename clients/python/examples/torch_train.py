"""Train a tiny keyword-spotting CNN in PyTorch on batches streamed by audiofeed.

    python3 torch_train.py http://127.0.0.1:8080 corpus-mini [--epochs 5] [--batch-size 16] [--workers 2]

Batches come through ``audiofeed_client.torch.AudiofeedIterableDataset`` and a
``DataLoader(batch_size=None, num_workers=N)``: each worker streams its own slice of every
epoch. ``ds.set_epoch(e)`` makes each epoch the service's epoch ``e``, with its own order.
Prints the mean training loss (and validation loss and accuracy) per epoch.
"""
import argparse
import os

import torch
from torch import nn
from torch.utils.data import DataLoader

from audiofeed_client import Client
from audiofeed_client.torch import AudiofeedIterableDataset

# The float32 features are the frontend's uint16 values (0..~700): scale them near 0..1.
FEATURE_SCALE = 1.0 / 1000.0


class TinyCnn(nn.Module):
    """conv (stride 2) → max pool → flatten → linear, on (B, frames, channels, 1) input."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        frames, channels = input_shape[0], input_shape[1]
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * (((frames + 1) // 2) // 2) * (((channels + 1) // 2) // 2), num_classes),
        )

    def forward(self, x):
        # The service streams channels-last (MLTK's audio_input_shape); torch wants NCHW.
        return self.net(x.permute(0, 3, 1, 2) * FEATURE_SCALE)


def train(base_url, dataset_id, epochs=5, batch_size=16, workers=2, lr=0.003, token=None, seed=0, log=print):
    """Trains and returns the mean training loss of each epoch."""
    torch.manual_seed(seed)
    info = Client(base_url, token=token).dataset(dataset_id)
    shape = info["audio_input_shape"]
    if len(shape) != 3:
        raise SystemExit("this example expects (frames, channels, 1) inputs; register the dataset with add_channel_dimension")
    classes = info["audio_classes"]
    common = dict(batch_size=batch_size, class_mode="sparse", dtype="float32", token=token)
    train_ds = AudiofeedIterableDataset(base_url, dataset_id, subset="training", **common)
    validation_ds = AudiofeedIterableDataset(base_url, dataset_id, subset="validation", shuffle=False, **common)
    # batch_size=None: the service already batches; the DataLoader passes its batches on.
    train_loader = DataLoader(train_ds, batch_size=None, num_workers=workers)
    validation_loader = DataLoader(validation_ds, batch_size=None, num_workers=0)

    model = TinyCnn(shape, len(classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(epochs):
        train_ds.set_epoch(epoch)
        model.train()
        total, steps = 0.0, 0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y.long())
            loss.backward()
            optimizer.step()
            total += loss.item()
            steps += 1
        losses.append(total / steps)

        model.eval()
        val_loss, correct, rows = 0.0, 0, 0
        with torch.no_grad():
            for x, y in validation_loader:
                logits = model(x)
                val_loss += loss_fn(logits, y.long()).item() * len(y)
                correct += (logits.argmax(1) == y.long()).sum().item()
                rows += len(y)
        log(
            "epoch {}/{}  loss {:.4f}  val_loss {:.4f}  val_acc {:.3f}  ({} batches)".format(
                epoch + 1, epochs, losses[-1], val_loss / rows, correct / rows, steps
            )
        )
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("dataset_id")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (0: stream in the training process)")
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--token", default=os.environ.get("AUDIOFEED_TOKEN"))
    args = parser.parse_args(argv)
    train(args.base_url, args.dataset_id, args.epochs, args.batch_size, args.workers, args.lr, args.token)


if __name__ == "__main__":
    main()
