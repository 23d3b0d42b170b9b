/**
 * Garbage collection of the feature cache (DATA_DIR/features), so the disk does not grow
 * forever. One pass:
 *
 * 1. A shard no registration uses (of a deleted dataset, of settings or a seed a
 *    re-registration superseded, of a subset that was unloaded) is removed: `orphan`.
 * 2. A temp file of a writer that died (`.<shard>.<pid>-<rand>.tmp`, a stream's leftover
 *    direct batch in `.direct/`) is removed: `stale-temp`.
 * 3. While the cache holds more than FEATURE_CACHE_MAX_BYTES (0: no bound), the least
 *    recently used files (quarantined shards and shards in use alike) are removed: `lru`.
 *
 * "Used" is the file's modification time: a shard is written with it, and every stream
 * that opens a shard sets it to now (assemble.ts, ShardReader). No file used within
 * FEATURE_CACHE_GRACE_MS is ever removed, so a shard a stream or a job is reading or
 * writing stays; a stream that needs a shard evicted before it reached it finds it gone
 * and has it featurized again (its repair path), as for a corrupted one.
 *
 * Safe under concurrency: several API replicas may collect the same shared volume at once
 * (a file another one removed first is skipped, and counted once, by whoever removed it);
 * the liveness of a file is looked at again just before it is removed.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { CacheRemovalReason, Logger, MaintenanceMetrics } from '../ports.ts';
import type { DatasetRecord, StoredSubsets } from '../registry/types.ts';
import { planList } from './plan.ts';

/** A feature-settings directory: the first 16 hex digits of the feature hash (plan.ts). */
const SPEC_DIR = /^[0-9a-f]{16}$/;

export interface CollectorOptions {
  featuresDir: string;
  /** Bytes the cache may hold (0: no bound). */
  maxBytes: number;
  /** Files used (written or opened by a stream) within this are never removed. */
  graceMs: number;
  metrics?: Pick<MaintenanceMetrics, 'recordCacheRemovals' | 'recordCacheSize'>;
  log?: Logger;
}

/** What the collector needs of the registry: every registration and its loaded lists. */
export interface RegistrationSource {
  list(): Promise<DatasetRecord[]>;
  listsOf(id: string): Promise<StoredSubsets | null>;
}

export interface CollectionReport {
  /** What the cache holds after the pass. */
  files: number;
  bytes: number;
  removed: Record<CacheRemovalReason, { files: number; bytes: number }>;
  /** Over the bound with nothing left to remove (everything was used within the grace period). */
  overBound: boolean;
}

interface CacheFile {
  file: string;
  kind: 'shard' | 'temp' | 'quarantined';
  bytes: number;
  usedAt: number;
}

/** Marks a shard as used now (a stream opened it): the collector keeps it for FEATURE_CACHE_GRACE_MS. */
export function touchShard(fd: number): void {
  const now = new Date();
  try {
    fs.futimesSync(fd, now, now);
  } catch {
    // A read-only or foreign-owned file: its write time stands for its use.
  }
}

/** Marks a shard file as used now by path (a new featurization reuses it: its parent job reads it at the end). */
export function markUsed(file: string): void {
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    // gone meanwhile (the flow's parent reports it), or not ours to touch
  }
}

/** Every shard file the loaded lists of every registration use. */
export async function liveShardFiles(source: RegistrationSource, featuresDir: string): Promise<Set<string>> {
  const live = new Set<string>();
  for (const rec of await source.list()) {
    const lists = await source.listsOf(rec.id);
    for (const list of Object.values(lists ?? {})) {
      if (!list) continue;
      for (const s of planList(rec, list, featuresDir).shards) live.add(s.file);
    }
  }
  return live;
}

async function scan(featuresDir: string): Promise<CacheFile[]> {
  const out: CacheFile[] = [];
  const add = async (file: string, kind: CacheFile['kind']) => {
    try {
      const st = await fsp.lstat(file);
      if (st.isFile()) out.push({ file, kind, bytes: st.size, usedAt: st.mtimeMs });
    } catch {
      // removed meanwhile
    }
  };
  const names = await fsp.readdir(featuresDir).catch(() => [] as string[]);
  for (const name of names) {
    const dir = path.join(featuresDir, name);
    const kind = SPEC_DIR.test(name) ? 'spec' : name === 'quarantine' ? 'quarantined' : name === '.direct' ? 'direct' : null;
    if (!kind) continue;
    for (const f of await fsp.readdir(dir).catch(() => [] as string[])) {
      if (kind === 'quarantined') await add(path.join(dir, f), 'quarantined');
      else if (kind === 'direct') await add(path.join(dir, f), 'temp');
      else if (f.endsWith('.tmp')) await add(path.join(dir, f), 'temp');
      else if (f.endsWith('.afs')) await add(path.join(dir, f), 'shard');
    }
  }
  return out;
}

/**
 * Removes `f` unless it was used since it was scanned (or within the grace period);
 * returns whether this call removed it.
 */
async function remove(f: CacheFile, graceMs: number): Promise<boolean> {
  try {
    const st = await fsp.lstat(f.file);
    if (Date.now() - st.mtimeMs <= graceMs) return false;
    await fsp.unlink(f.file);
    return true;
  } catch {
    return false; // another collector removed it first
  }
}

/** Removes the settings directories left empty (and unused for the grace period). */
async function removeEmptyDirs(featuresDir: string, graceMs: number): Promise<void> {
  for (const name of await fsp.readdir(featuresDir).catch(() => [] as string[])) {
    if (!SPEC_DIR.test(name)) continue;
    const dir = path.join(featuresDir, name);
    try {
      if (Date.now() - (await fsp.stat(dir)).mtimeMs <= graceMs) continue;
      await fsp.rmdir(dir);
    } catch {
      // not empty, or gone
    }
  }
}

/** One collection pass (see the module comment). `live`: the shard files registrations use. */
export async function collectFeatureCache(opts: CollectorOptions, live: ReadonlySet<string>): Promise<CollectionReport> {
  const now = Date.now();
  const idle = (f: CacheFile) => now - f.usedAt > opts.graceMs;
  const removed: CollectionReport['removed'] = { orphan: { files: 0, bytes: 0 }, lru: { files: 0, bytes: 0 }, 'stale-temp': { files: 0, bytes: 0 } };
  const kept: CacheFile[] = [];
  for (const f of await scan(opts.featuresDir)) {
    const reason: CacheRemovalReason | null =
      f.kind === 'temp' && idle(f) ? 'stale-temp' : f.kind === 'shard' && !live.has(f.file) && idle(f) ? 'orphan' : null;
    if (reason && (await remove(f, opts.graceMs))) {
      removed[reason].files++;
      removed[reason].bytes += f.bytes;
    } else {
      kept.push(f);
    }
  }
  let bytes = kept.reduce((n, f) => n + f.bytes, 0);
  let files = kept.length;
  let overBound = false;
  if (opts.maxBytes > 0 && bytes > opts.maxBytes) {
    // Least recently used first; temp files of live writers are never candidates.
    const candidates = kept.filter((f) => f.kind !== 'temp' && idle(f)).sort((a, b) => a.usedAt - b.usedAt);
    for (const f of candidates) {
      if (bytes <= opts.maxBytes) break;
      if (!(await remove(f, opts.graceMs))) continue;
      removed.lru.files++;
      removed.lru.bytes += f.bytes;
      bytes -= f.bytes;
      files--;
    }
    overBound = bytes > opts.maxBytes;
  }
  await removeEmptyDirs(opts.featuresDir, opts.graceMs);
  for (const reason of Object.keys(removed) as CacheRemovalReason[]) {
    const r = removed[reason];
    if (r.files > 0) await opts.metrics?.recordCacheRemovals(reason, r.files, r.bytes).catch(() => undefined);
  }
  await opts.metrics?.recordCacheSize(files, bytes).catch(() => undefined);
  const total = removed.orphan.files + removed.lru.files + removed['stale-temp'].files;
  if (total > 0) {
    opts.log?.info(
      `feature cache: removed ${removed.orphan.files} unused shard(s), ${removed.lru.files} least recently used, ${removed['stale-temp'].files} stale temp file(s); ${files} files, ${bytes} bytes remain`,
    );
  }
  if (overBound) {
    opts.log?.warn(
      `feature cache holds ${bytes} bytes, over FEATURE_CACHE_MAX_BYTES (${opts.maxBytes}), and every remaining file was used within FEATURE_CACHE_GRACE_MS`,
    );
  }
  return { files, bytes, removed, overBound };
}
