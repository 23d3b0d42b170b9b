/**
 * Index files (spec §4): one `<dir>/.index/<class>.txt` per listed class directory,
 * UTF-8 (Q-07 fix), one entry per `\n`-terminated line, empty file for no entries.
 *
 * Locations: the alphabetical index lives in the dataset dir, or in the fallback dir
 * when the dataset dir cannot be written; the shuffled index lives in the shuffle index
 * dir (the artifact a client archives with its model).
 *
 * Shuffled index: entries are sorted by code point first (the walk order is filesystem
 * dependent) and then permuted with `RandomState(seed).shuffle`, a fresh generator per
 * class, so an index is a pure function of (files, seed). The seed is recorded in
 * `<shuffle index dir>/index-seed.json` (outside `.index/`, which holds only index files):
 * `{ "format": "audiofeed-shuffle-index/1", "seed": s, "classes": { "<class>": { "seed": s, "count": n } } }`.
 */
import fs from 'node:fs/promises';
import { constants as fsConstants, type Dirent } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { writeFileAtomic } from '../atomic-file.ts';
import { sortByCodePoint } from './code-point-order.ts';
import { listClassEntries, type ClassListing } from './listing.ts';
import { escapedName, hasControlCharacter } from './names.ts';
import { RandomState } from '../random.ts';
import { DEFAULT_MAX_LIST_FILE_BYTES, readTextBounded, readTextLines } from './text-files.ts';

/** The shuffle index's seed record is a few hundred bytes per class. */
const SEED_FILE_MAX_BYTES = 16 * 1024 * 1024;

export type IndexLocation = 'dataset' | 'fallback' | 'shuffle_index_dir';

export interface IndexPlace {
  location: IndexLocation;
  /** Directory holding `.index/`. */
  dir: string;
}

export const INDEX_DIR_NAME = '.index';
export const SEED_FILE_NAME = 'index-seed.json';

export function indexFilePath(place: IndexPlace, className: string): string {
  return path.join(place.dir, INDEX_DIR_NAME, `${className}.txt`);
}

/**
 * Whether `.index/` can be created or written inside `dir`. A directory without any
 * write permission bit counts as read-only even for root (who passes access(W_OK)):
 * a read-only volume or a checked-in corpus must not be written into.
 */
export async function canWriteIndexIn(dir: string): Promise<boolean> {
  const indexDir = path.join(dir, INDEX_DIR_NAME);
  const writable = async (p: string) => {
    const st = await fs.stat(p);
    if ((st.mode & 0o222) === 0) return false;
    await fs.access(p, fsConstants.W_OK);
    return true;
  };
  try {
    const st = await fs.stat(indexDir);
    if (!st.isDirectory()) return false;
    return await writable(indexDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
  }
  try {
    return await writable(dir);
  } catch {
    return false;
  }
}

export async function chooseIndexPlace(
  datasetDir: string,
  fallbackIndexDir: string,
  shuffleIndexDir: string,
  shuffle: boolean,
  probe: (dir: string) => Promise<boolean> = canWriteIndexIn,
): Promise<IndexPlace> {
  if (shuffle) return { location: 'shuffle_index_dir', dir: shuffleIndexDir };
  if (await probe(datasetDir)) return { location: 'dataset', dir: datasetDir };
  return { location: 'fallback', dir: fallbackIndexDir };
}

// Python's str.strip() whitespace set (str.isspace), which differs from JS trim().
const PY_WS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, 'g');

export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

/** Parses index text: universal newlines, each line stripped, blank lines dropped (Q-08 fix). */
export function parseIndex(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const entry = pyStrip(line);
    if (entry !== '') out.push(entry);
  }
  return out;
}

export function formatIndex(entries: readonly string[]): string {
  return entries.length === 0 ? '' : entries.join('\n') + '\n';
}

/**
 * Reads an index file (as parseIndex, streamed, without blocking on a FIFO or device, at
 * most `maxBytes`: ./text-files.ts); `null` when it does not exist.
 */
export async function readIndexFile(file: string, maxBytes: number = DEFAULT_MAX_LIST_FILE_BYTES): Promise<string[] | null> {
  const lines = await readTextLines(file, maxBytes, 'index file', false);
  if (lines === null) return null;
  const out: string[] = [];
  for await (const line of lines) {
    const entry = pyStrip(line);
    if (entry !== '') out.push(entry);
  }
  return out;
}

/** Writes atomically (temp file + rename) so concurrent loads never read a partial index. */
export async function writeIndexFile(file: string, entries: readonly string[]): Promise<void> {
  await writeFileAtomic(file, formatIndex(entries));
}

export type ExistenceStrategy = 'listing' | 'stat';

const STAT_CONCURRENCY = 64;

async function existsFollowing(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Entries whose path has no empty, `.` or `..` component can be checked against a parent listing. */
function isPlainEntry(entry: string): boolean {
  for (const part of entry.split('/')) if (part === '' || part === '.' || part === '..') return false;
  return true;
}

/**
 * First entry (in index order) for which `<datasetDir>/<entry>` does not exist, following
 * symlinks (a dangling link does not exist); `null` when all exist. The default strategy
 * reads each parent directory once and stats only symlinks and unusual paths, which is far
 * cheaper than one stat per entry on large datasets (bench/registry.ts measures both).
 */
export async function findFirstMissing(
  datasetDir: string,
  entries: readonly string[],
  strategy: ExistenceStrategy = 'listing',
): Promise<string | null> {
  const [first] = await findMissing(datasetDir, entries, { strategy, limit: 1 });
  return first ?? null;
}

/**
 * Every entry (in input order, at most `limit`) for which `<datasetDir>/<entry>` does not
 * exist, with the same existence rule and strategies as `findFirstMissing`.
 */
export async function findMissing(
  datasetDir: string,
  entries: readonly string[],
  options: { strategy?: ExistenceStrategy; limit?: number } = {},
): Promise<string[]> {
  const { strategy = 'listing', limit = Infinity } = options;
  const out: string[] = [];
  if (strategy === 'stat') {
    const exists = await mapLimit(entries, STAT_CONCURRENCY, (e) => existsFollowing(`${datasetDir}/${e}`));
    for (let i = 0; i < entries.length && out.length < limit; i++) if (!exists[i]) out.push(entries[i]!);
    return out;
  }
  const parents = new Set<string>();
  for (const e of entries) if (isPlainEntry(e)) parents.add(e.slice(0, e.lastIndexOf('/') + 1));
  const parentList = [...parents];
  const listings = await mapLimit(parentList, STAT_CONCURRENCY, async (p) => {
    try {
      const dirents: Dirent[] = await fs.readdir(p === '' ? datasetDir : `${datasetDir}/${p}`, { withFileTypes: true });
      const byName = new Map<string, boolean>();
      for (const d of dirents) byName.set(d.name, d.isSymbolicLink());
      return byName;
    } catch {
      return null;
    }
  });
  const byParent = new Map<string, Map<string, boolean> | null>();
  parentList.forEach((p, i) => byParent.set(p, listings[i]!));
  for (const e of entries) {
    if (out.length >= limit) break;
    if (!isPlainEntry(e)) {
      if (!(await existsFollowing(`${datasetDir}/${e}`))) out.push(e);
      continue;
    }
    const slash = e.lastIndexOf('/');
    const listing = byParent.get(e.slice(0, slash + 1));
    const isLink = listing?.get(e.slice(slash + 1));
    if (isLink === undefined) out.push(e);
    else if (isLink && !(await existsFollowing(`${datasetDir}/${e}`))) out.push(e);
  }
  return out;
}

export interface SeedRecord {
  format: 'audiofeed-shuffle-index/1';
  seed: number;
  classes: Record<string, { seed: number; count: number }>;
}

export async function readSeedRecord(shuffleIndexDir: string): Promise<SeedRecord | null> {
  try {
    const text = await readTextBounded(path.join(shuffleIndexDir, SEED_FILE_NAME), SEED_FILE_MAX_BYTES, 'seed file');
    if (text === null) return null;
    const parsed = JSON.parse(text) as SeedRecord;
    if (typeof parsed.seed === 'number' && parsed.classes && typeof parsed.classes === 'object') return parsed;
    return null;
  } catch {
    return null;
  }
}

async function writeSeedRecord(shuffleIndexDir: string, record: SeedRecord): Promise<void> {
  const file = path.join(shuffleIndexDir, SEED_FILE_NAME);
  await writeFileAtomic(file, JSON.stringify(record, null, 2) + '\n');
}

/** Seed for new shuffled index files: the caller's, else the artifact's recorded one, else a fresh random one. */
export async function resolveShuffleSeed(shuffleIndexDir: string, seed: number | null): Promise<number> {
  if (seed !== null) return seed;
  const record = await readSeedRecord(shuffleIndexDir);
  return record ? record.seed : randomInt(2 ** 32 - 1);
}

export function shuffledOrder(entries: readonly string[], seed: number): string[] {
  const out = sortByCodePoint([...entries]);
  new RandomState(seed).shuffle(out);
  return out;
}

export interface IndexContext {
  datasetDir: string;
  place: IndexPlace;
  followLinks: boolean;
  /** Seed for regenerated shuffled index files (only with a `shuffle_index_dir` place). */
  shuffleSeed: number;
  warnings: string[];
  existence?: ExistenceStrategy;
  /** Bound of an index file read (MAX_LIST_FILE_BYTES, as every list file); default 64 MiB. */
  maxListFileBytes?: number;
}

/** The listing's skipped names, as warnings of the load (never written to an index). */
export function warnSkipped(ctx: Pick<IndexContext, 'warnings'>, listing: ClassListing): void {
  for (const rel of listing.skipped) {
    ctx.warnings.push(`skipped ${escapedName(rel)}: its name has a control character, which an index file cannot hold (rename it)`);
  }
}

/** An index line with a control character (a name split by a newline, a CR, ...) makes the whole file stale: it is regenerated, with a warning. */
export function indexEntriesClean(ctx: Pick<IndexContext, 'warnings'>, file: string, entries: readonly string[]): boolean {
  const bad = entries.find(hasControlCharacter);
  if (bad === undefined) return true;
  ctx.warnings.push(`index file ${path.basename(file)} has an entry with a control character (${escapedName(bad)}), re-generating index`);
  return false;
}

export interface ClassIndex {
  name: string;
  file: string;
  entries: string[];
  regenerated: boolean;
}

/**
 * Generic-listing index rules (§4), per class: an existing, non-empty index whose
 * entries all exist is used verbatim; otherwise the class is walked, sorted (or
 * permuted) and the file (re)written. `force` regenerates every class (re-index).
 */
export async function resolveGenericIndexes(
  ctx: IndexContext,
  names: readonly string[],
  force = false,
): Promise<ClassIndex[]> {
  const files = names.map((n) => indexFilePath(ctx.place, n));
  const existing = await Promise.all(
    files.map(async (file) => {
      if (force) return null;
      const entries = await readIndexFile(file, ctx.maxListFileBytes);
      if (entries === null || entries.length === 0) return null;
      if (!indexEntriesClean(ctx, file, entries)) return null;
      const missing = await findFirstMissing(ctx.datasetDir, entries, ctx.existence);
      if (missing !== null) {
        ctx.warnings.push(`File ${ctx.datasetDir}/${missing} not found in existing index, re-generating index`);
        return null;
      }
      return entries;
    }),
  );
  const toWalk = names.filter((_, i) => existing[i] === null);
  const walked = toWalk.length > 0 ? await listClassEntries(ctx.datasetDir, toWalk, ctx.followLinks) : new Map();
  const shuffled = ctx.place.location === 'shuffle_index_dir';
  const out: ClassIndex[] = [];
  const seeded: Record<string, { seed: number; count: number }> = Object.create(null) as Record<string, { seed: number; count: number }>;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const reused = existing[i];
    if (reused) {
      out.push({ name, file: files[i]!, entries: reused, regenerated: false });
      continue;
    }
    warnSkipped(ctx, walked.get(name)!);
    const raw = walked.get(name)!.entries;
    const entries = shuffled ? shuffledOrder(raw, ctx.shuffleSeed) : sortByCodePoint(raw);
    await writeIndexFile(files[i]!, entries);
    if (shuffled) seeded[name] = { seed: ctx.shuffleSeed, count: entries.length };
    out.push({ name, file: files[i]!, entries, regenerated: true });
  }
  if (Object.keys(seeded).length > 0) {
    const prior = await readSeedRecord(ctx.place.dir);
    await writeSeedRecord(ctx.place.dir, {
      format: 'audiofeed-shuffle-index/1',
      seed: ctx.shuffleSeed,
      classes: { ...(prior?.classes ?? {}), ...seeded },
    });
  }
  return out;
}
