/**
 * Batch order (spec §9). An epoch's index array is `permutation(n)` + `permutation(w)`
 * (shuffle on) or `0…n−1` + `0…w−1` (shuffle off), where `w = L·B − n` pads the last
 * batch from the head of the class-ordered list (Q-13, copied). Q-14 fix: padding
 * positions are taken mod n, so `w > n` cycles instead of indexing past the list.
 *
 * Seeding: MLTK reseeds the global generator with `seed + batches generated so far` at
 * the start of each epoch array, i.e. `seed + k·L` for the k-th array. MLTK's mixin passes
 * no seed, so its orders are irreproducible; here the seed defaults to 43 so that orders
 * are a pure function of (subset, seed, epoch).
 *
 * `stepsPerEpoch` slices the continuous stream of epoch arrays (what Keras does with a
 * generator): requested epoch e covers stream batches [e·S, (e+1)·S).
 */
import { InvalidSettingsError } from '../errors.ts';
import { RandomState } from '../random.ts';

export const DEFAULT_EPOCH_SEED = 43;

function effectiveBatchSize(n: number, batchSize: number): number {
  if (batchSize === -1) return n;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidSettingsError(`batch_size must be a positive integer or -1, got ${String(batchSize)}`, {
      setting: 'batch_size',
    });
  }
  return batchSize;
}

/** The largest `batch_size` a registration or a request may ask for (a batch has this many rows whatever the subset's size). */
export const MAX_BATCH_SIZE = 65536;

/**
 * An epoch longer than one pass over the subset (`steps_per_epoch` above L) is planned
 * whole before its first batch, on the API's event loop: at most this many batches ...
 */
export const MAX_STEPS_BEYOND_EPOCH = 131_072;
/** ... and at most this many positions (steps × batch size: 64 MiB of indices). */
export const MAX_EPOCH_POSITIONS = 1 << 24;

/**
 * Rows of every batch of an epoch of `n` samples: `B` (`-1` means n), whatever n is. The
 * last batch is padded from the head of the list and the padding cycles, so a
 * `batch_size` far above n still emits B rows per batch, mostly repeats. 0 when n is 0
 * (no batch). What a batch's memory is bounded by: the one formula, used by the epoch plan.
 */
export function maxBatchRows(n: number, batchSize: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (n === 0) return 0;
  return effectiveBatchSize(n, batchSize);
}

/** `L = ceil(n / B)` (`B = -1` means n). */
export function batchesPerEpoch(n: number, batchSize: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (n === 0) return 0;
  const b = effectiveBatchSize(n, batchSize);
  return Math.ceil(n / b);
}

/** The k-th index array of the stream (length L·B). */
export function epochIndexArray(n: number, batchSize: number, shuffle: boolean, seed: number, k: number): Int32Array {
  const b = effectiveBatchSize(n, batchSize);
  const l = batchesPerEpoch(n, b);
  const w = l * b - n;
  const out = new Int32Array(l * b);
  if (shuffle) {
    // numpy rejects seeds ≥ 2^32; wrap instead of failing deep into training.
    const rng = new RandomState((seed + k * l) % 2 ** 32);
    out.set(rng.permutation(n), 0);
    const pad = rng.permutation(w);
    for (let i = 0; i < w; i++) out[n + i] = pad[i]! % n;
  } else {
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = 0; i < w; i++) out[n + i] = i % n;
  }
  return out;
}

export interface BatchOrderOptions {
  shuffle: boolean;
  /** `null`/omitted = 43 (see module comment). */
  seed?: number | null;
  /** 0-based epoch number. */
  epoch: number;
  /** Batches per requested epoch; default L. */
  stepsPerEpoch?: number | null;
}

/** Subset positions of every batch of the requested epoch. */
export function batchIndices(n: number, batchSize: number, options: BatchOrderOptions): Int32Array[] {
  const { shuffle, epoch } = options;
  const seed = options.seed ?? DEFAULT_EPOCH_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new InvalidSettingsError(`seed must be an integer in [0, 2^32 - 1], got ${String(seed)}`, { setting: 'seed' });
  }
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new InvalidSettingsError(`epoch must be a non-negative integer, got ${String(epoch)}`, { setting: 'epoch' });
  }
  const l = batchesPerEpoch(n, batchSize);
  if (l === 0) return [];
  const b = effectiveBatchSize(n, batchSize);
  const steps = options.stepsPerEpoch ?? l;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new InvalidSettingsError(`steps_per_epoch must be a positive integer, got ${String(steps)}`, {
      setting: 'steps_per_epoch',
    });
  }
  // Checked before anything is allocated: an epoch of 10⁷ steps would hold the event loop for a minute.
  if (steps > l && (steps > MAX_STEPS_BEYOND_EPOCH || steps * b > MAX_EPOCH_POSITIONS)) {
    throw new InvalidSettingsError(
      `steps_per_epoch ${steps} × batch_size ${b} is more than one pass over the subset (${l} batches) allows: ` +
        `at most ${MAX_STEPS_BEYOND_EPOCH} batches and ${MAX_EPOCH_POSITIONS} samples per requested epoch; ask for fewer steps`,
      { setting: 'steps_per_epoch', max_steps: Math.max(l, Math.min(MAX_STEPS_BEYOND_EPOCH, Math.floor(MAX_EPOCH_POSITIONS / b))) },
    );
  }
  const batches: Int32Array[] = [];
  let cachedK = -1;
  let array: Int32Array = new Int32Array(0);
  for (let p = epoch * steps; p < (epoch + 1) * steps; p++) {
    const k = Math.floor(p / l);
    if (k !== cachedK) {
      array = epochIndexArray(n, b, shuffle, seed, k);
      cachedK = k;
    }
    const j = p - k * l;
    batches.push(array.slice(j * b, (j + 1) * b));
  }
  return batches;
}
