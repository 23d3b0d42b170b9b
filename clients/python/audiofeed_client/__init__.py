"""audiofeed training client: dataset metadata and spectrogram batches as numpy arrays.

Only numpy and the standard library are needed; TensorFlow is imported by the examples,
never here.
"""
from .client import AudiofeedError, Client, IncompleteStreamError

__all__ = ["AudiofeedError", "Client", "IncompleteStreamError"]
__version__ = "0.1.0"
