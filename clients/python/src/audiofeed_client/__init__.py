"""audiofeed training client: dataset metadata and spectrogram batches as numpy arrays.

Only numpy and the standard library are needed here. The framework adapters import their
framework when they are imported themselves, never before:
``audiofeed_client.torch`` (a PyTorch IterableDataset) and ``audiofeed_client.tfdata``
(a ``tf.data.Dataset`` for Keras).
"""
from .client import AudiofeedError, BatchStream, Client, IncompleteStreamError
from .columns import Column, batch_columns
from .split import loader_order, worker_slice

__all__ = [
    "AudiofeedError",
    "BatchStream",
    "Client",
    "Column",
    "IncompleteStreamError",
    "batch_columns",
    "loader_order",
    "worker_slice",
]
__version__ = "0.2.0"
