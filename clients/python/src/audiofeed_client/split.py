"""How ``torch.utils.data.DataLoader`` workers share one epoch (pure Python, no torch).

The epoch's ``N`` batches are cut into ``n`` contiguous ranges, one per worker, the first
``N % n`` ranges one batch longer. Each worker streams its range with one request
(``from_batch`` = its first batch) and closes the connection after its last batch, so
every batch crosses the network once.

``DataLoader(ds, batch_size=None, num_workers=n)`` takes one batch from each worker in
turn, so the loop sees batch ``p // n`` of range ``p % n`` at position ``p``: a fixed
interleaving of the ranges, not the service's single-stream order (for n = 2 and N = 4:
0, 2, 1, 3). Each batch still comes exactly once per epoch. Because the ranges never grow
from one worker to the next, the interleaving has no gaps up to the last batch.

Resuming counts positions, not batch indices: after the loop has consumed ``k`` batches,
the workers of a new DataLoader with the same ``n`` start where the old ones stood, with
worker ``w`` taking over the range of old worker ``(k + w) % n``, so the new loader
yields exactly positions ``k, k+1, …`` of the old order. With ``n = 1`` a position is the
epoch's batch index, as in the service's ``from_batch``.
"""


def _range_of(num_batches, num_workers, worker):
    q, r = divmod(num_batches, num_workers)
    start = worker * q + min(worker, r)
    return start, start + q + (1 if worker < r else 0)


def worker_slice(num_batches, num_workers, worker, position=0):
    """``(first, stop)``: the epoch batches ``first … stop-1`` that ``worker`` streams.

    ``position`` is how many batches of the epoch the loop has already consumed (with the
    same ``num_workers``). An empty slice has ``first == stop``.
    """
    if num_workers < 1 or not 0 <= worker < num_workers:
        raise ValueError("worker {} of {} workers".format(worker, num_workers))
    if not 0 <= position <= num_batches:
        raise ValueError("position {} is outside the epoch's {} batches".format(position, num_batches))
    p = position + worker  # the first position this worker serves
    start, stop = _range_of(num_batches, num_workers, p % num_workers)
    return min(start + p // num_workers, stop), stop


def loader_order(num_batches, num_workers, position=0):
    """The epoch batch indices in the order a DataLoader with ``num_workers`` yields them."""
    return [_range_of(num_batches, num_workers, p % num_workers)[0] + p // num_workers for p in range(position, num_batches)]
