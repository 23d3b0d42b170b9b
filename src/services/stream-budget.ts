/**
 * Memory bounds of batch streams (issue #11):
 * - MAX_BATCH_BYTES: one batch (x, y and sample weights) may not be larger; a request
 *   for more is a 413 `batch-too-large` naming the limit, before anything is planned.
 * - STREAM_MEMORY_BUDGET: what all streams of the process may hold at once. A stream
 *   reserves `STREAM_BATCHES_IN_FLIGHT` × its batch size for its whole life; when the
 *   budget is taken it waits up to STREAM_BUDGET_WAIT_MS for room, then is a 503
 *   `stream-budget-exhausted` with Retry-After. Memory is never exceeded to serve it.
 */
import { AudiofeedError, PayloadTooLargeError } from '../core/errors.ts';
import type { FeatureDtype } from '../core/schemas.ts';
import { FRAME_OVERHEAD_MAX } from '../core/tensors/frame.ts';

/** Batches a stream may hold at once: the one being assembled, the one being encoded and sent. */
export const STREAM_BATCHES_IN_FLIGHT = 2;

/**
 * What a stream of batches of `batchBytes` holds for its whole life: STREAM_BATCHES_IN_FLIGHT
 * wire frames, each a batch's columns plus its headers, metadata and padding.
 */
export function streamReservationBytes(batchBytes: number): number {
  return STREAM_BATCHES_IN_FLIGHT * (batchBytes + FRAME_OVERHEAD_MAX);
}

const DTYPE_BYTES: Record<FeatureDtype, number> = { uint16: 2, int8: 1, float32: 4 };

/** Upper bound of one batch's bytes: x + categorical y (the largest label form) + a float32 weight. */
export function batchBytes(rows: number, xShape: readonly number[], dtype: FeatureDtype, numClasses: number): number {
  const xElems = xShape.reduce((a, b) => a * b, 1);
  const bytes = DTYPE_BYTES[dtype];
  return rows * (xElems * bytes + Math.max(numClasses * bytes, 4) + 4);
}

export function assertBatchFits(requested: number, limit: number, rows: number): void {
  if (requested > limit) {
    throw new PayloadTooLargeError(
      `a batch of ${rows} samples is ${requested} bytes, more than MAX_BATCH_BYTES (${limit} bytes): ` +
        'ask for a smaller batch_size (or validation_batch_size), or raise MAX_BATCH_BYTES',
      { limit, requested, setting: 'MAX_BATCH_BYTES', max_batch_size: Math.max(1, Math.floor((rows * limit) / requested)) },
    );
  }
}

export class StreamBudgetExhaustedError extends AudiofeedError {
  constructor(needed: number, budget: number, inUse: number, readonly retryAfterS: number) {
    super(
      'stream-budget-exhausted',
      503,
      'Service unavailable',
      `the batch streams of this process hold ${inUse} of ${budget} bytes (STREAM_MEMORY_BUDGET) and this stream needs ${needed}: ` +
        `retry after ${retryAfterS} s, ask for smaller batches, or raise STREAM_MEMORY_BUDGET`,
      { limit: budget, requested: needed, in_use: inUse, setting: 'STREAM_MEMORY_BUDGET' },
    );
  }
}

export interface Reservation {
  bytes: number;
  /** Gives the bytes back (idempotent). */
  release(): void;
}

/** A counting semaphore over bytes, first come first served. */
export class StreamMemoryBudget {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; grant: () => void }> = [];

  constructor(
    readonly budget: number,
    private readonly waitMs: number,
  ) {}

  get inUse(): number {
    return this.used;
  }

  /** Reserves `bytes`, waiting up to the configured time for room; a single stream larger than the budget is refused at once. */
  async reserve(bytes: number, signal?: AbortSignal): Promise<Reservation> {
    const need = Math.min(bytes, this.budget);
    if (this.waiting.length === 0 && this.used + need <= this.budget) return this.grant(need);
    if (this.waitMs === 0) throw this.exhausted(need);
    return new Promise<Reservation>((resolve, reject) => {
      const entry = {
        bytes: need,
        grant: () => {
          cleanup();
          resolve(this.grant(need));
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(this.exhausted(need));
      }, this.waitMs);
      const onAbort = () => {
        cleanup();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private grant(bytes: number): Reservation {
    this.used += bytes;
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.used -= bytes;
        this.wake();
      },
    };
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.budget) {
      this.waiting[0]!.grant();
    }
  }

  private exhausted(need: number): StreamBudgetExhaustedError {
    return new StreamBudgetExhaustedError(need, this.budget, this.used, Math.max(1, Math.ceil(this.waitMs / 1000)));
  }
}
