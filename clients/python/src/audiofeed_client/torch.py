"""PyTorch: the service's batch stream as a ``torch.utils.data.IterableDataset``.

Importing this module imports torch; ``import audiofeed_client`` alone never does.

    from torch.utils.data import DataLoader
    from audiofeed_client.torch import AudiofeedIterableDataset

    ds = AudiofeedIterableDataset("http://127.0.0.1:8080", "corpus-mini", batch_size=16)
    loader = DataLoader(ds, batch_size=None, num_workers=2)   # the service already batches
    for epoch in range(10):
        ds.set_epoch(epoch)
        for x, y in loader:        # torch tensors, dtype as streamed: (16, 98, 32, 1), (16, 8)
            ...

Every element is one batch of the service: a tuple of tensors in the order of
``X-Audiofeed-Columns``: ``(x, y)``, ``(x, y, sample_weight)`` or ``(x,)``.

Workers: each DataLoader worker streams its own contiguous slice of the epoch with one
request and closes the connection after its slice's last batch; the DataLoader interleaves
them (see ``audiofeed_client.split``). To size the slices a worker first needs the epoch's
batch count: it reads it from the ``X-Audiofeed-Batches`` header of a request at batch 0,
keeps that stream if its slice starts there and closes it otherwise.
"""
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .client import Client
from .split import worker_slice


class AudiofeedIterableDataset(IterableDataset):
    """One epoch of batches per pass; ``set_epoch(e)`` chooses the epoch of the next pass.

    ``client`` is a base URL or a ``Client``. ``from_batch`` is the number of batches of
    ``epoch`` the training loop has already consumed: a DataLoader with the same
    ``num_workers`` then yields exactly the batches the interrupted one had not (with 0 or
    1 workers it is the service's ``from_batch``). Other keyword arguments are the batch
    endpoint's query parameters (``shuffle``, ``steps_per_epoch``, ``class_mode``,
    ``dtype``, ``class_weight``, ``sample_weight_id``, ``augment``, …). A dropped connection
    is resumed ``retries`` times without progress, then raises IncompleteStreamError;
    problem responses raise AudiofeedError (in the training process too: DataLoader
    re-raises a worker's exception there with the worker's traceback as its message).

    Like ``DistributedSampler``, the epoch changes only with ``set_epoch``; workers get a
    copy of the dataset each time a DataLoader iterator starts, so do not combine it with
    ``persistent_workers=True`` (those keep the epoch they started with).
    """

    def __init__(
        self,
        client,
        dataset_id,
        subset="training",
        epoch=0,
        batch_size=32,
        from_batch=0,
        retries=3,
        retry_delay=0.5,
        token=None,
        **params
    ):
        super().__init__()
        self.client = client if isinstance(client, Client) else Client(client, token=token)
        self.dataset_id = dataset_id
        self.subset = subset
        self.epoch = epoch
        self.batch_size = batch_size
        self.from_batch = from_batch
        self.retries = retries
        self.retry_delay = retry_delay
        self.params = params
        self._num_batches = None

    def set_epoch(self, epoch, from_batch=0):
        """The epoch (and the number of its batches already consumed) of the next pass."""
        self.epoch = epoch
        self.from_batch = from_batch

    def _open(self, from_batch):
        return self.client.open_batches(self.dataset_id, self.subset, self.epoch, self.batch_size, from_batch, **self.params)

    def num_batches(self):
        """Batches in a whole epoch, from the header of a request that is closed at once."""
        if self._num_batches is None:
            with self._open(0) as stream:
                self._num_batches = stream.end
        return self._num_batches

    def __len__(self):
        """Batches one pass yields: the epoch's, less ``from_batch``."""
        return max(0, self.num_batches() - self.from_batch)

    def __iter__(self):
        info = get_worker_info()
        num_workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        # One worker streams from from_batch; several must know the batch count first.
        probe_at = self.from_batch if num_workers == 1 else 0
        stream = self._open(probe_at)
        try:
            num_batches = stream.end
            self._num_batches = num_batches
            if self.from_batch > num_batches:
                raise ValueError("from_batch {} is past the end of the epoch ({} batches)".format(self.from_batch, num_batches))
            first, stop = worker_slice(num_batches, num_workers, worker, self.from_batch)
            if first != probe_at or first == stop:
                stream.close()
                stream = None
        except BaseException:
            if stream is not None:
                stream.close()
            raise
        if first == stop:
            return
        for arrays in self.client.batch_range(
            self.dataset_id,
            self.subset,
            self.epoch,
            self.batch_size,
            first,
            stop,
            self.retries,
            self.retry_delay,
            stream=stream,
            **self.params
        ):
            yield tuple(torch.from_numpy(a) for a in arrays)
