/**
 * Batch assembly: subset positions → x rows read from feature shards (converted to the
 * requested dtype exactly as MLTK's generator does, and standardized per row when the
 * dataset sets rescale / samplewise_*: the shards keep the raw frontend output, so one
 * cache serves every standardization), y per class_mode, and sample weights. Clips
 * recorded as failed in their shard are left out of the batch, the same way in every
 * epoch, so such a batch is shorter (never silently substituted).
 */
import fs from 'node:fs';
import { buildLabels } from '../../core/datasets/index.ts';
import type { ClassMode, FeatureDtype } from '../../core/schemas.ts';
import { convertSpectrogram } from '../../core/frontend/output.ts';
import type { FrontendSettings } from '../../core/frontend/settings.ts';
import { standardizeSample, type Standardization } from '../../core/tensors/standardize.ts';
import { rowOf, shardOf, type SubsetPlan } from '../features/plan.ts';
import { touchShard } from '../features/cache-gc.ts';
import { openShardSync, readRowsSync, type OpenShard } from '../features/shard-file.ts';

export type XArray = Float32Array | Int8Array | Uint16Array;

export interface BatchColumns {
  x: XArray;
  y: Float32Array | Int8Array | Uint16Array | Int32Array | null;
  /** class_mode "input": y is x. */
  yIsInput: boolean;
  sampleWeight: Float32Array | null;
  rows: number;
  /** Subset positions of the rows, in order. */
  positions: Int32Array;
  /** Positions left out because their clip could not be read. */
  skipped: number[];
}

export interface EpochSource {
  labels: readonly number[];
  numClasses: number;
  plan: SubsetPlan;
  frontendEnabled: boolean;
  frontendSettings: FrontendSettings;
  /** MLTK's standardization of each spectrogram (dtype float32), or null when off. */
  standardization?: Standardization | null;
  classMode: ClassMode;
  dtype: FeatureDtype;
  /** Per subset position, or null. */
  sampleWeights: Float32Array | null;
  /**
   * Where a batch of `rows` rows assembles x (the stream's wire frame, so the rows are
   * read or converted straight into the response chunk); a new array when absent. Called
   * only while the batch the stream asked for is being made.
   */
  xTarget?: (rows: number) => XArray;
}

const CTOR = { float32: Float32Array, int8: Int8Array, uint16: Uint16Array } as const;
/** Consecutive rows read with one call when they are converted after the read (bounds the scratch buffer). */
const CONVERT_RUN = 16;

/** Keeps a bounded number of shard files open; headers are parsed once per open. */
export class ShardReader {
  private readonly open = new Map<number, OpenShard>();
  constructor(
    private readonly plan: SubsetPlan,
    private readonly maxOpen = 64,
  ) {}

  get(index: number): OpenShard {
    let s = this.open.get(index);
    if (s) {
      this.open.delete(index);
      this.open.set(index, s);
      return s;
    }
    s = openShardSync(this.plan.shards[index]!.file);
    // Used now: the cache collector keeps it (features/cache-gc.ts).
    touchShard(s.fd);
    if (this.open.size >= this.maxOpen) {
      const [oldest, shard] = this.open.entries().next().value as [number, OpenShard];
      fs.closeSync(shard.fd);
      this.open.delete(oldest);
    }
    this.open.set(index, s);
    return s;
  }

  /** Forgets a shard (after it failed verification): the next get() opens the file again. */
  drop(index: number): void {
    const s = this.open.get(index);
    if (!s) return;
    fs.closeSync(s.fd);
    this.open.delete(index);
  }

  close(): void {
    for (const s of this.open.values()) fs.closeSync(s.fd);
    this.open.clear();
  }
}

/** Shard indices a batch needs, in first-use order. */
export function shardsOf(plan: SubsetPlan, positions: Int32Array): number[] {
  const seen = new Set<number>();
  for (const p of positions) seen.add(shardOf(plan, p));
  return [...seen];
}

/** Where the features of the i-th clip of a batch (subset position p) are stored. */
export type RowLocator = (i: number, p: number) => { shard: OpenShard; row: number };

/** A batch from cached shards: position p is row rowOf(p) of shard shardOf(p) (the plan's layout). */
export function assembleBatch(src: EpochSource, positions: Int32Array, reader: ShardReader): BatchColumns {
  const { plan } = src;
  return assembleRows(src, positions, (_i, p) => ({ shard: reader.get(shardOf(plan, p)), row: rowOf(plan, p) }));
}

/** An augmented batch: its own file holds the clips in batch order. */
export function assembleFromBatchFile(src: EpochSource, positions: Int32Array, file: OpenShard): BatchColumns {
  return assembleRows(src, positions, (i) => ({ shard: file, row: i }));
}

export function assembleRows(src: EpochSource, positions: Int32Array, locate: RowLocator): BatchColumns {
  const kept: { p: number; at: ReturnType<RowLocator> }[] = [];
  const skipped: number[] = [];
  positions.forEach((p, i) => {
    const at = locate(i, p);
    if (at.shard.header.failures.some((f) => f.row === at.row)) skipped.push(p);
    else kept.push({ p, at });
  });
  const rows = kept.length;
  const first = locate(0, positions[0] ?? 0).shard;
  const rowElems = first.header.row_shape.reduce((a, b) => a * b, 1);
  const target = src.xTarget?.(rows);
  const x = target instanceof CTOR[src.dtype] && target.length === rows * rowElems ? target : new CTOR[src.dtype](rows * rowElems);
  // Rows stored in the delivered dtype (uint16 spectrograms as uint16, raw float32 audio) are
  // read straight into x: one copy per row, from the file into the batch. Consecutive rows of
  // a shard (unshuffled epochs, batch files) are one read; converted ones CONVERT_RUN at most.
  const direct = src.frontendEnabled ? src.dtype === 'uint16' : src.dtype === 'float32';
  const runMax = direct ? kept.length : CONVERT_RUN;
  const runs: { start: number; count: number }[] = [];
  let longest = 0;
  for (let i = 0; i < kept.length; ) {
    const { shard, row } = kept[i]!.at;
    let n = 1;
    while (n < runMax && i + n < kept.length && kept[i + n]!.at.shard === shard && kept[i + n]!.at.row === row + n) n++;
    runs.push({ start: i, count: n });
    longest = Math.max(longest, n);
    i += n;
  }
  const xBytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const raw = new Uint8Array(direct ? 0 : longest * first.rowBytes);
  const standardization = src.frontendEnabled ? (src.standardization ?? null) : null;
  const scratch = standardization ? new Float32Array(rowElems) : null;
  for (const { start, count } of runs) {
    const { shard, row } = kept[start]!.at;
    if (direct) {
      readRowsSync(shard, row, count, xBytes, start * first.rowBytes);
      continue;
    }
    readRowsSync(shard, row, count, raw, 0);
    for (let r = 0; r < count; r++) {
      const offset = (start + r) * rowElems;
      if (!src.frontendEnabled) {
        (x as Float32Array).set(new Float32Array(raw.buffer, r * first.rowBytes, rowElems), offset);
        continue;
      }
      const u16 = new Uint16Array(raw.buffer, r * first.rowBytes, rowElems);
      if (src.dtype === 'float32') {
        // MLTK: the uint16 values cast to float32, no scaling; then standardized in place.
        (x as Float32Array).set(u16, offset);
        if (standardization) standardizeSample((x as Float32Array).subarray(offset, offset + rowElems), standardization, scratch!);
      } else {
        (x as Int8Array).set(convertSpectrogram(u16, src.frontendSettings, 'int8') as Int8Array, offset);
      }
    }
  }
  const labels = kept.map(({ p }) => src.labels[p]!);
  const built = buildLabels(labels, src.classMode, src.numClasses, src.dtype);
  const y = built && built.kind === 'labels' ? built.data : null;
  let sampleWeight: Float32Array | null = null;
  if (src.sampleWeights) {
    sampleWeight = Float32Array.from(kept, ({ p }) => src.sampleWeights![p]!);
  }
  return {
    x,
    y,
    yIsInput: built?.kind === 'input',
    sampleWeight,
    rows,
    positions: Int32Array.from(kept, ({ p }) => p),
    skipped,
  };
}
