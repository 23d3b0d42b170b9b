"""audiofeed training client: dataset metadata and spectrogram batches as numpy arrays.

Only numpy and the standard library are needed; TensorFlow is imported by the examples,
never here.
"""
from .client import AudiofeedError, BatchStream, Client, IncompleteStreamError

__all__ = [
    "AudiofeedError",
    "BatchStream",
    "Client",
    "IncompleteStreamError",
]
__version__ = "0.2.0"
