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
 * An epoch longer than one pass over the subset (`steps_per_epoch` above L) is mostly
 * repeats of a small subset, one pass's index array built (on the API's event loop) per L
 * batches streamed: at most this many batches ...
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

/**
 * The batches of one requested epoch, in order: `at(i)` is batch i's subset positions.
 * A plain `Int32Array[]` is one; `epochBatches` makes one that builds nothing per batch.
 */
export interface BatchList {
  readonly length: number;
  at(i: number): Int32Array | undefined;
}

/**
 * The requested epoch's batches, made on demand: batch i is a view into its pass's index
 * array (epochIndexArray, built when first needed; the last two are kept), so planning an
 * epoch costs O(1) whatever its number of batches (batch_size 1 over millions of clips
 * used to build millions of arrays before the first byte). Arguments are checked here.
 */
export class EpochBatches implements BatchList {
  readonly length: number;
  /** Batches per pass (L) and rows per batch (B). */
  private readonly l: number;
  private readonly b: number;
  private readonly first: number;
  private readonly passes = new Map<number, Int32Array>();

  constructor(
    private readonly n: number,
    private readonly batchSize: number,
    private readonly shuffle: boolean,
    private readonly seed: number,
    epoch: number,
    stepsPerEpoch: number | null | undefined,
  ) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new InvalidSettingsError(`seed must be an integer in [0, 2^32 - 1], got ${String(seed)}`, { setting: 'seed' });
    }
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new InvalidSettingsError(`epoch must be a non-negative integer, got ${String(epoch)}`, { setting: 'epoch' });
    }
    this.l = batchesPerEpoch(n, batchSize);
    this.b = this.l === 0 ? 0 : effectiveBatchSize(n, batchSize);
    const steps = stepsPerEpoch ?? this.l;
    if (this.l > 0) {
      if (!Number.isInteger(steps) || steps < 1) {
        throw new InvalidSettingsError(`steps_per_epoch must be a positive integer, got ${String(steps)}`, {
          setting: 'steps_per_epoch',
        });
      }
      // Bounded like any request: an epoch of 10⁷ steps over a small subset asks for 10⁷ batches of repeats.
      if (steps > this.l && (steps > MAX_STEPS_BEYOND_EPOCH || steps * this.b > MAX_EPOCH_POSITIONS)) {
        throw new InvalidSettingsError(
          `steps_per_epoch ${steps} × batch_size ${this.b} is more than one pass over the subset (${this.l} batches) allows: ` +
            `at most ${MAX_STEPS_BEYOND_EPOCH} batches and ${MAX_EPOCH_POSITIONS} samples per requested epoch; ask for fewer steps`,
          { setting: 'steps_per_epoch', max_steps: Math.max(this.l, Math.min(MAX_STEPS_BEYOND_EPOCH, Math.floor(MAX_EPOCH_POSITIONS / this.b))) },
        );
      }
    }
    this.length = this.l === 0 ? 0 : steps;
    this.first = epoch * steps;
  }

  at(i: number): Int32Array | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) return undefined;
    const p = this.first + i;
    const k = Math.floor(p / this.l);
    const j = p - k * this.l;
    return this.pass(k).subarray(j * this.b, (j + 1) * this.b);
  }

  /**
   * The positions of batches [from, length) in order, as few contiguous views as the
   * passes allow (one per pass touched): for work over every position of an epoch.
   */
  spans(from = 0): Int32Array[] {
    const out: Int32Array[] = [];
    let p = this.first + Math.max(0, from);
    const end = this.first + this.length;
    while (p < end) {
      const k = Math.floor(p / this.l);
      const stop = Math.min(end, (k + 1) * this.l);
      out.push(this.pass(k).subarray((p - k * this.l) * this.b, (stop - k * this.l) * this.b));
      p = stop;
    }
    return out;
  }

  private pass(k: number): Int32Array {
    let a = this.passes.get(k);
    if (a === undefined) {
      a = epochIndexArray(this.n, this.batchSize, this.shuffle, this.seed, k);
      if (this.passes.size >= 2) this.passes.delete(this.passes.keys().next().value!);
      this.passes.set(k, a);
    }
    return a;
  }
}

/** The requested epoch's batches, made on demand (EpochBatches). */
export function epochBatches(n: number, batchSize: number, options: BatchOrderOptions): EpochBatches {
  return new EpochBatches(n, batchSize, options.shuffle, options.seed ?? DEFAULT_EPOCH_SEED, options.epoch, options.stepsPerEpoch);
}

/** The batches of `list` from batch `from` on, without copying (a view when `list` is EpochBatches). */
export function batchesFrom(list: BatchList, from: number): BatchList {
  if (from === 0) return list;
  return {
    length: Math.max(0, list.length - from),
    at: (i: number) => (i < 0 ? undefined : list.at(from + i)),
  };
}

/** Subset positions of every batch of the requested epoch, each its own array (tests, small epochs). */
export function batchIndices(n: number, batchSize: number, options: BatchOrderOptions): Int32Array[] {
  const list = epochBatches(n, batchSize, options);
  return Array.from({ length: list.length }, (_, i) => list.at(i)!.slice());
}
