/**
 * Where augmented batches live between the worker that computes them and the streams
 * that read them: one batch file (shard-file.ts layout) per batch in one directory
 * (DATA_DIR/tmp/augment), named by a key derived from everything the batch's bytes
 * depend on. Two streams of the same augmented epoch, or a stream and the precomputed
 * head of its epoch, therefore name the same file and the same job, and the work is
 * done once.
 *
 * Who removes a file: the last stream that wanted it, right after reading it (the
 * streams count their wants in Redis, see FeatureQueue.wantAugmentBatches); anything else
 * (the next epoch's head nobody came for, the lookahead of a stream that left, a killed
 * worker's temp file) when nobody has touched it for AUGMENT_BATCH_TTL_MS; and, when the
 * directory holds more than AUGMENT_CACHE_MAX_BYTES, the oldest files first. A stream
 * that finds its file gone has it computed again: every removal is safe.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedAugmentation } from '../../core/audio/augment/index.ts';
import type { Logger } from '../ports.ts';
import type { AugmentedBatchInput } from './augmented.ts';
import { featureHash } from './plan.ts';

/**
 * Bump when the augmented features of the same input change (the DSP, the draws): files
 * of the old code must not be read as the new code's. Feature settings are in the key
 * through featureHash (which carries FEATURE_VERSION).
 */
export const AUGMENTED_FORMAT = 2;

/** The augmentation settings with their keys in one order (records read back from Redis keep theirs, but need not). */
function canonicalAugmentation(a: ResolvedAugmentation): string {
  return JSON.stringify(a, Object.keys(a).sort());
}

/**
 * The content key of one augmented batch: its clips (dataset directory, data root and
 * entries in batch order), the feature and augmentation settings, and the draw stream
 * (seed, epoch, batch number). Batch size, shuffle mode and subset only matter through
 * the entries they put in the batch, so they need not be named.
 */
export function augmentedBatchKey(input: AugmentedBatchInput): string {
  return crypto
    .createHash('sha256')
    .update(
      JSON.stringify([
        AUGMENTED_FORMAT,
        featureHash(input.spec),
        input.datasetDir,
        input.root,
        canonicalAugmentation(input.augmentation),
        input.seed,
        input.epoch,
        input.batch,
        input.entries,
      ]),
    )
    .digest('hex')
    .slice(0, 40);
}

export interface AugmentedStoreOptions {
  /** A file nobody has written or read for this long is removed. */
  ttlMs: number;
  /** Bytes the directory may hold; the oldest files are removed beyond it. */
  maxBytes: number;
  log?: Logger;
}

export interface SweepResult {
  /** Files removed because they outlived the TTL. */
  expired: number;
  /** Files removed to bring the directory under its byte bound. */
  evicted: number;
  /** Bytes of batch files left. */
  bytes: number;
}

/** How often the directory is swept: a quarter of the TTL, between these bounds. */
const MIN_SWEEP_MS = 250;
const MAX_SWEEP_MS = 60_000;

export class AugmentedBatchStore {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<SweepResult> | null = null;

  constructor(
    readonly dir: string,
    private readonly opts: AugmentedStoreOptions,
  ) {}

  file(key: string): string {
    return path.join(this.dir, `${key}.afs`);
  }

  /** A reader that leaves the file for other streams restarts its TTL. */
  touch(fd: number): void {
    const now = new Date();
    try {
      fs.futimesSync(fd, now, now);
    } catch {
      // Another replica's volume may refuse: the file then expires from its write time.
    }
  }

  /**
   * Removes expired files (batch files and writers' temp files), then the oldest batch
   * files while the directory is over its byte bound. One sweep at a time per process;
   * several processes sweeping the same directory only race to remove the same files.
   */
  sweep(now = Date.now()): Promise<SweepResult> {
    this.sweeping ??= this.sweepOnce(now).finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async sweepOnce(now: number): Promise<SweepResult> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch {
      return { expired: 0, evicted: 0, bytes: 0 };
    }
    const files: { file: string; size: number; mtimeMs: number }[] = [];
    let expired = 0;
    for (const name of names) {
      if (!name.endsWith('.afs') && !name.endsWith('.tmp')) continue;
      const file = path.join(this.dir, name);
      const st = await fsp.lstat(file).catch(() => null);
      if (!st?.isFile()) continue;
      if (now - st.mtimeMs > this.opts.ttlMs) {
        if (await remove(file)) expired++;
      } else if (name.endsWith('.afs')) {
        files.push({ file, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    let bytes = files.reduce((a, f) => a + f.size, 0);
    let evicted = 0;
    if (bytes > this.opts.maxBytes) {
      files.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const f of files) {
        if (bytes <= this.opts.maxBytes) break;
        if (await remove(f.file)) evicted++;
        bytes -= f.size;
      }
      this.opts.log?.warn(
        `augmented batches in ${this.dir} exceeded AUGMENT_CACHE_MAX_BYTES (${this.opts.maxBytes} bytes): removed the ${evicted} oldest files; streams that still need them have them computed again`,
      );
    }
    return { expired, evicted, bytes };
  }

  /** Sweeps every quarter TTL (unref'd: it never keeps a process alive). */
  start(): void {
    if (this.timer) return;
    const every = Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(this.opts.ttlMs / 4)));
    this.timer = setInterval(() => {
      this.sweep().catch((err: Error) => this.opts.log?.warn(`augmented-batch sweep failed: ${err.message}`));
    }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sweeping?.catch(() => undefined);
  }
}

async function remove(file: string): Promise<boolean> {
  try {
    await fsp.rm(file);
    return true;
  } catch {
    return false; // gone already (a stream or another sweeper)
  }
}
