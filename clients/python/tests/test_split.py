"""How DataLoader workers share an epoch (audiofeed_client.split): pure Python, no torch.

test_torch.py checks the same against torch's real DataLoader and the live service.
"""
import itertools
import unittest

from audiofeed_client import loader_order, worker_slice


def round_robin(slices):
    """What DataLoader(batch_size=None, num_workers=n) yields from its workers' item lists:
    one item from each worker in turn, skipping the workers that are done."""
    out = []
    iterators = [iter(range(first, stop)) for first, stop in slices]
    active = list(range(len(iterators)))
    while active:
        for w in list(active):
            item = next(iterators[w], None)
            if item is None:
                active.remove(w)
            else:
                out.append(item)
    return out


class SplitTest(unittest.TestCase):
    def test_slices_are_contiguous_disjoint_and_cover_the_epoch(self):
        for n_batches, n_workers in itertools.product(range(0, 26), range(1, 6)):
            with self.subTest(batches=n_batches, workers=n_workers):
                slices = [worker_slice(n_batches, n_workers, w) for w in range(n_workers)]
                covered = [b for first, stop in slices for b in range(first, stop)]
                self.assertEqual(covered, list(range(n_batches)))
                sizes = [stop - first for first, stop in slices]
                self.assertLessEqual(max(sizes) - min(sizes), 1)
                self.assertEqual(sizes, sorted(sizes, reverse=True), "earlier workers take the extra batches")

    def test_loader_order_is_the_round_robin_over_the_slices(self):
        self.assertEqual(loader_order(4, 2), [0, 2, 1, 3])
        self.assertEqual(loader_order(7, 3), [0, 3, 5, 1, 4, 6, 2])
        for n_batches, n_workers in itertools.product(range(0, 26), range(1, 6)):
            with self.subTest(batches=n_batches, workers=n_workers):
                slices = [worker_slice(n_batches, n_workers, w) for w in range(n_workers)]
                self.assertEqual(round_robin(slices), loader_order(n_batches, n_workers))

    def test_one_worker_keeps_the_service_order_and_from_batch(self):
        self.assertEqual(loader_order(9, 1), list(range(9)))
        self.assertEqual(loader_order(9, 1, 4), list(range(4, 9)))
        self.assertEqual(worker_slice(9, 1, 0, 4), (4, 9))

    def test_resuming_at_any_position_yields_the_rest_of_the_same_order(self):
        for n_batches, n_workers in itertools.product(range(0, 20), range(1, 5)):
            full = loader_order(n_batches, n_workers)
            for position in range(n_batches + 1):
                with self.subTest(batches=n_batches, workers=n_workers, position=position):
                    slices = [worker_slice(n_batches, n_workers, w, position) for w in range(n_workers)]
                    self.assertEqual(round_robin(slices), full[position:])
                    self.assertEqual(loader_order(n_batches, n_workers, position), full[position:])

    def test_impossible_arguments_raise(self):
        with self.assertRaises(ValueError):
            worker_slice(10, 0, 0)
        with self.assertRaises(ValueError):
            worker_slice(10, 2, 2)
        with self.assertRaises(ValueError):
            worker_slice(10, 2, 0, 11)


if __name__ == "__main__":
    unittest.main()
