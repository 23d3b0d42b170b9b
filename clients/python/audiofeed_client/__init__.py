"""audiofeed training client: dataset metadata and spectrogram batches as numpy arrays.

Only numpy and the standard library are needed here. The framework adapter imports its
framework when it is imported itself, never before:
``audiofeed_client.tfdata`` (a ``tf.data.Dataset`` for Keras).
"""
from .client import AudiofeedError, BatchStream, Client, IncompleteStreamError
from .columns import Column, batch_columns

__all__ = [
    "AudiofeedError",
    "BatchStream",
    "Client",
    "Column",
    "IncompleteStreamError",
    "batch_columns",
]
__version__ = "0.2.0"
