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

export class ClientStreamShareExhaustedError extends AudiofeedError {
  constructor(needed: number, share: number, held: number, readonly retryAfterS: number) {
    super(
      'stream-budget-exhausted',
      503,
      'Service unavailable',
      `your other batch streams hold ${held} bytes of your share of ${share} (STREAM_CLIENT_BUDGET) and this stream needs ${needed}: ` +
        `retry after ${retryAfterS} s, once one of them has ended, or ask for smaller batches`,
      { limit: share, requested: needed, in_use: held, setting: 'STREAM_CLIENT_BUDGET' },
    );
  }
}

export interface Reservation {
  bytes: number;
  /** Gives the bytes back (idempotent). */
  release(): void;
}

/** What the budget has done since the process started (/metrics). */
export interface StreamBudgetStats {
  /** Bytes reserved now. */
  inUse: number;
  /** Streams refused with 503: the whole budget taken, or the client's share. */
  refused: { budget: number; client: number };
  /** Streams closed because their reader took less than STREAM_MIN_BYTES_PER_S. */
  trickleClosed: number;
}

interface Waiter {
  bytes: number;
  client: string;
  grant: () => void;
}

/**
 * A counting semaphore over bytes, first come first served, with a share per client: one
 * client (a token, or an address without auth) may hold at most `clientShare` bytes at
 * once (a client holding nothing may always have one stream), so a few slow readers of
 * one client cannot hold the whole budget. A waiter held back by its own client's share
 * does not hold back the waiters behind it.
 */
export class StreamMemoryBudget {
  private used = 0;
  private readonly byClient = new Map<string, number>();
  private readonly waiting: Waiter[] = [];
  readonly stats: StreamBudgetStats = { inUse: 0, refused: { budget: 0, client: 0 }, trickleClosed: 0 };

  constructor(
    readonly budget: number,
    private readonly waitMs: number,
    /** Bytes one client may hold; default: the whole budget (no share). */
    readonly clientShare: number = budget,
  ) {}

  get inUse(): number {
    return this.used;
  }

  /** Bytes the streams of `client` hold now. */
  heldBy(client: string): number {
    return this.byClient.get(client) ?? 0;
  }

  /**
   * Reserves `bytes` for `client`, waiting up to the configured time for room; a single
   * stream larger than the budget is clamped to it.
   */
  async reserve(bytes: number, signal?: AbortSignal, client = ''): Promise<Reservation> {
    const need = Math.min(bytes, this.budget);
    // First come, first served: only waiters held back by their own client's share may be passed.
    const queued = this.waiting.some((w) => this.fitsShare(w.client, w.bytes));
    if (!queued && this.fitsBudget(need) && this.fitsShare(client, need)) return this.grant(need, client);
    if (this.waitMs === 0) throw this.exhausted(need, client);
    return new Promise<Reservation>((resolve, reject) => {
      const entry: Waiter = {
        bytes: need,
        client,
        grant: () => {
          cleanup();
          resolve(this.grant(need, client));
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(this.exhausted(need, client));
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

  private fitsBudget(need: number): boolean {
    return this.used + need <= this.budget;
  }

  private fitsShare(client: string, need: number): boolean {
    const held = this.heldBy(client);
    return held === 0 || held + need <= this.clientShare;
  }

  private grant(bytes: number, client: string): Reservation {
    this.used += bytes;
    this.byClient.set(client, this.heldBy(client) + bytes);
    this.stats.inUse = this.used;
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.used -= bytes;
        const left = this.heldBy(client) - bytes;
        if (left > 0) this.byClient.set(client, left);
        else this.byClient.delete(client);
        this.stats.inUse = this.used;
        this.wake();
      },
    };
  }

  /** Grants waiters in order; one held back by its client's share is passed over, one that does not fit the budget stops the round (first come, first served). */
  private wake(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      if (!this.fitsBudget(w.bytes)) return;
      if (!this.fitsShare(w.client, w.bytes)) {
        i++;
        continue;
      }
      w.grant(); // removes it from the list
    }
  }

  private exhausted(need: number, client: string): AudiofeedError {
    const retryAfterS = Math.max(1, Math.ceil(this.waitMs / 1000));
    if (!this.fitsShare(client, need) && this.fitsBudget(need)) {
      this.stats.refused.client++;
      return new ClientStreamShareExhaustedError(need, this.clientShare, this.heldBy(client), retryAfterS);
    }
    this.stats.refused.budget++;
    return new StreamBudgetExhaustedError(need, this.budget, this.used, retryAfterS);
  }
}

/**
 * The floor under a reader's pace (STREAM_MIN_BYTES_PER_S over STREAM_MIN_THROUGHPUT_WINDOW_MS):
 * fed samples of the bytes the client has taken so far and whether the stream is waiting
 * on the client (a write not yet taken), it says when a whole window spent waiting on the
 * client moved fewer bytes than the floor. Time the stream spends making batches (a cold
 * cache) never counts against the reader. The clock is the caller's.
 */
export class ThroughputFloor {
  private since: number | null = null;
  private bytesAtStart = 0;

  constructor(
    readonly minBytesPerS: number,
    readonly windowMs: number,
  ) {}

  /** True when the reader is too slow: the stream should be closed. */
  sample(now: number, delivered: number, waitingOnClient: boolean): boolean {
    if (this.minBytesPerS <= 0 || !waitingOnClient) {
      this.since = null;
      return false;
    }
    if (this.since === null) {
      this.since = now;
      this.bytesAtStart = delivered;
      return false;
    }
    const elapsed = now - this.since;
    if (elapsed < this.windowMs) return false;
    if (((delivered - this.bytesAtStart) * 1000) / elapsed < this.minBytesPerS) return true;
    this.since = now;
    this.bytesAtStart = delivered;
    return false;
  }
}
