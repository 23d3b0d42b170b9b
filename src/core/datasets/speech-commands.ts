/**
 * Speech Commands v2 listing (spec §5.2): same alphabetical index location and format,
 * but an existing index (even an empty one) is trusted without any existence check,
 * no index is written for a class directory the walk never enters, an empty list
 * fails at once, and the split point is moved back so one speaker (file-name prefix
 * before `_nohash_`) never straddles training and validation.
 */
import { DatasetError } from '../errors.ts';
import { sortByCodePoint } from './code-point-order.ts';
import { indexEntriesClean, indexFilePath, readIndexFile, warnSkipped, writeIndexFile, type ClassIndex, type IndexContext } from './index-files.ts';
import { listClassEntries } from './listing.ts';
import { splitPoint } from './split.ts';

export const SHUFFLE_NOT_SUPPORTED = 'Shuffling the index is not supported by this dataset';

export function noSamplesError(names: string[], extra: Record<string, unknown> = {}): DatasetError {
  return new DatasetError(
    'no-samples-for-class',
    names.map((n) => `No samples found for class: ${n}`).join('\n'),
    { classes: names, ...extra },
  );
}

/** Speaker group of an entry: its base name up to the first `_nohash_` (whole name without one). */
export function speakerGroup(entry: string): string {
  const base = entry.slice(entry.lastIndexOf('/') + 1);
  const i = base.indexOf('_nohash_');
  return i < 0 ? base : base.slice(0, i);
}

/**
 * Validation = `[0, b)`, training = `[b, n)`. Q-09 fix: when `ceil(v·n) = n` MLTK reads
 * past the end (IndexError); here no grouping adjustment is made (validation = all).
 */
export function speechCommandsSplitPoint(entries: readonly string[], validationSplit: number): number {
  const n = entries.length;
  let b = splitPoint(validationSplit, n);
  if (b >= n) return n;
  const boundary = speakerGroup(entries[b]!);
  while (b > 0 && speakerGroup(entries[b - 1]!) === boundary) b--;
  return b;
}

/**
 * Resolves the index of each class in order. The first class with no samples fails the
 * whole listing, and (as in MLTK, where classes are listed one after another) index files
 * of the classes after it are not written.
 */
export async function resolveSpeechCommandsIndexes(
  ctx: IndexContext,
  names: readonly string[],
  options: { force?: boolean; failOnEmpty?: boolean } = {},
): Promise<ClassIndex[]> {
  const { force = false, failOnEmpty = true } = options;
  const files = names.map((n) => indexFilePath(ctx.place, n));
  const existing = await Promise.all(
    files.map(async (f) => {
      if (force) return null;
      const entries = await readIndexFile(f, ctx.maxListFileBytes);
      return entries !== null && !indexEntriesClean(ctx, f, entries) ? null : entries;
    }),
  );
  const toWalk = names.filter((_, i) => existing[i] === null);
  const walked = toWalk.length > 0 ? await listClassEntries(ctx.datasetDir, toWalk, ctx.followLinks) : new Map();
  const out: ClassIndex[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    let entries = existing[i] ?? null;
    let regenerated = false;
    if (entries === null) {
      const listing = walked.get(name)!;
      warnSkipped(ctx, listing);
      entries = sortByCodePoint(listing.entries);
      regenerated = true;
      if (listing.entered) await writeIndexFile(files[i]!, entries);
    }
    if (entries.length === 0 && failOnEmpty) throw noSamplesError([name], { listing: 'speech_commands_v2' });
    out.push({ name, file: files[i]!, entries, regenerated });
  }
  return out;
}
