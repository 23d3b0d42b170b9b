"""audiofeed client: register, featurize and stream keyword-spotting datasets as numpy arrays.

Only numpy and the standard library are needed here. The framework adapters import their
framework when they are imported themselves, never before:
``audiofeed_client.torch`` (a PyTorch IterableDataset, extra ``[torch]``) and
``audiofeed_client.tfdata`` (a ``tf.data.Dataset`` for Keras, extra ``[tf]``).
"""
from .client import TERMINAL_STATES, BatchStream, Client
from .columns import Column, batch_columns
from .errors import (
    AudiofeedError,
    BadRequestError,
    BatchTooLargeError,
    ConflictError,
    ForbiddenError,
    IncompleteStreamError,
    JobFailedError,
    NotFoundError,
    PayloadTooLargeError,
    ProtocolError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthorizedError,
    UnprocessableError,
)
from .split import loader_order, worker_slice

__all__ = [
    "AudiofeedError",
    "BadRequestError",
    "BatchStream",
    "BatchTooLargeError",
    "Client",
    "Column",
    "ConflictError",
    "ForbiddenError",
    "IncompleteStreamError",
    "JobFailedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProtocolError",
    "RateLimitedError",
    "ServiceUnavailableError",
    "TERMINAL_STATES",
    "UnauthorizedError",
    "UnprocessableError",
    "batch_columns",
    "loader_order",
    "worker_slice",
]
# The package's version: pyproject.toml reads it from here (the one place it is written).
__version__ = "0.3.0"
