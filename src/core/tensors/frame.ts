/**
 * One encoded batch as one contiguous buffer (a "frame"): the bytes an encoder's
 * `batch()` returns as pieces, gathered so the stream writes one chunk per batch and x
 * can be assembled straight into its place on the wire.
 *
 * The layout is learnt from the encoder itself, not re-derived from the formats: the
 * encoder is run once per row count on placeholder columns, and every piece it returns is
 * either a view of one of those columns (a slot, filled per batch with that column's
 * values) or bytes of its own (headers, Arrow metadata, padding: the same for every batch
 * with that many rows, copied per batch). So a frame holds exactly the bytes of the
 * pieces, by construction; test/tensors/frame.test.ts compares both for every layout.
 */
import type { FeatureArray, LabelArray } from './arrow.ts';

/**
 * Bytes a frame holds beyond its columns' values, at most: npy headers (128 bytes per
 * array), Arrow's record batch metadata and padding (a few hundred). Memory budgets add it.
 */
export const FRAME_OVERHEAD_MAX = 4096;

export type FrameColumn = 'x' | 'y' | 'sampleWeight';

export type FramePiece =
  | { at: number; bytes: Uint8Array }
  /** `byteLength` bytes of the column from its byte `from`. */
  | { at: number; column: FrameColumn; from: number; byteLength: number };

export interface FrameLayout {
  rows: number;
  byteLength: number;
  /** In frame order; they tile [0, byteLength). */
  pieces: FramePiece[];
  /** Byte offset of x's values (the first x slot), where a batch can be assembled in place. */
  xAt: number;
  /** The type and byte length each column must have. */
  columns: Partial<Record<FrameColumn, { type: Function; byteLength: number }>>;
}

export interface PlaceholderColumns {
  x: FeatureArray;
  y: LabelArray | null;
  sampleWeight: Float32Array | null;
}

/** The layout of `pieces`, encoded from `placeholders`. */
export function layoutOf(rows: number, placeholders: PlaceholderColumns, pieces: readonly Uint8Array[]): FrameLayout {
  const columnOf = (p: Uint8Array): FrameColumn | null => {
    for (const c of ['x', 'y', 'sampleWeight'] as const) {
      const a = placeholders[c];
      if (a && a.byteLength > 0 && p.buffer === a.buffer) return c;
    }
    return null;
  };
  const out: FramePiece[] = [];
  let at = 0;
  let xAt = -1;
  for (const p of pieces) {
    if (p.byteLength === 0) continue;
    const column = columnOf(p);
    if (column === null) {
      // A copy: the encoder's own buffers may be pooled or reused.
      out.push({ at, bytes: p.slice() });
    } else {
      const from = p.byteOffset - placeholders[column]!.byteOffset;
      if (from < 0 || from + p.byteLength > placeholders[column]!.byteLength) throw new RangeError(`a ${column} piece lies outside its column`);
      if (column === 'x' && xAt < 0 && from === 0 && p.byteLength === placeholders.x.byteLength) xAt = at;
      out.push({ at, column, from, byteLength: p.byteLength });
    }
    at += p.byteLength;
  }
  const columns: FrameLayout['columns'] = {};
  for (const c of ['x', 'y', 'sampleWeight'] as const) {
    const a = placeholders[c];
    if (a) columns[c] = { type: a.constructor, byteLength: a.byteLength };
  }
  return { rows, byteLength: at, pieces: out, xAt, columns };
}

/** Fills `out` (at least layout.byteLength bytes) with one batch; x is not copied when it already is out's x slot. */
export function fillFrame(layout: FrameLayout, columns: { x: FeatureArray; y: LabelArray | null; sampleWeight: Float32Array | null }, out: Uint8Array): Uint8Array {
  if (out.byteLength < layout.byteLength) throw new RangeError(`a frame of ${layout.byteLength} bytes does not fit in ${out.byteLength}`);
  for (const c of ['x', 'y', 'sampleWeight'] as const) {
    const want = layout.columns[c];
    const got = columns[c];
    if (!want) continue;
    if (got == null) throw new TypeError(`${c} is required by this batch layout`);
    if (!(got instanceof want.type)) throw new TypeError(`${c} must be a ${want.type.name}`);
    if (got.byteLength !== want.byteLength) throw new RangeError(`${c} has ${got.byteLength} bytes, a batch of ${layout.rows} rows needs ${want.byteLength}`);
  }
  const inPlace = layout.xAt >= 0 && columns.x.buffer === out.buffer && columns.x.byteOffset === out.byteOffset + layout.xAt;
  for (const p of layout.pieces) {
    if ('bytes' in p) {
      out.set(p.bytes, p.at);
      continue;
    }
    if (p.column === 'x' && inPlace && p.at === layout.xAt) continue;
    const src = columns[p.column]!;
    out.set(new Uint8Array(src.buffer, src.byteOffset + p.from, p.byteLength), p.at);
  }
  return out.byteLength === layout.byteLength ? out : out.subarray(0, layout.byteLength);
}
