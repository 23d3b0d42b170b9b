/**
 * Registration manifests: every registration is also kept on the data volume, as
 * DATA_DIR/registry/<id>.json, beside the artifacts it describes, so the registry survives
 * the loss of Redis (a restart without persistence, a flush): the registry rebuilds itself
 * from them (./service.ts, `recoverIfLost`).
 *
 * A manifest is two lines: a small JSON header (`format`, `id`, `revision`, `created_at`),
 * so the reconciliation reads one line per dataset, then the JSON of the record and its
 * lists exactly as the store holds them. Writes are atomic (a temp file in the same
 * directory, fsync, rename, fsync of the directory), and a write never replaces a manifest
 * of the same dataset with a higher revision (two replicas updating one dataset may finish
 * their writes in either order).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../core/atomic-file.ts';
import type { DatasetRecord, StoredSubsets } from './types.ts';

export const MANIFEST_FORMAT = 1;

export interface ManifestHeader {
  format: number;
  id: string;
  revision: number;
  created_at: string;
}

export interface Manifest {
  header: ManifestHeader;
  record: DatasetRecord;
  subsets: StoredSubsets;
}

/** A header line is far shorter than this (an id is at most 64 characters). */
const HEADER_READ_BYTES = 4096;

export class ManifestStore {
  /** Writes of one process to one manifest run one after the other. */
  private readonly writing = new Map<string, Promise<void>>();

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  fileOf(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** Writes the manifest of a record as stored (after the store accepted it). */
  write(record: DatasetRecord, subsets: StoredSubsets): Promise<void> {
    const previous = this.writing.get(record.id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.writeNow(record, subsets));
    this.writing.set(record.id, next);
    void next.finally(() => {
      if (this.writing.get(record.id) === next) this.writing.delete(record.id);
    }).catch(() => undefined);
    return next;
  }

  private async writeNow(record: DatasetRecord, subsets: StoredSubsets): Promise<void> {
    const header: ManifestHeader = { format: MANIFEST_FORMAT, id: record.id, revision: record.revision ?? 0, created_at: record.created_at };
    if (!newer(header, await this.header(record.id))) return;
    const file = this.fileOf(record.id);
    const text = `${JSON.stringify(header)}\n${JSON.stringify({ record, subsets })}\n`;
    // Every byte written and the size checked before the rename (src/core/atomic-file.ts).
    await writeFileAtomic(file, text, {
      syncDir: true,
      // Another replica may have written a later revision meanwhile.
      beforeRename: async () => newer(header, await this.header(record.id)),
    });
  }

  async remove(id: string): Promise<void> {
    await (this.writing.get(id) ?? Promise.resolve()).catch(() => undefined);
    await fsp.rm(this.fileOf(id), { force: true });
    await syncDir(this.dir);
  }

  /** The header of a dataset's manifest (null: none, or unreadable). */
  async header(id: string): Promise<ManifestHeader | null> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.fileOf(id), 'r');
    } catch {
      return null;
    }
    try {
      const buf = Buffer.alloc(HEADER_READ_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
      if (nl < 0) return null;
      return parseHeader(buf.subarray(0, nl).toString('utf8'));
    } finally {
      await fh.close();
    }
  }

  /** A whole manifest (null: none, or not a manifest this version reads). */
  async read(id: string): Promise<Manifest | null> {
    let text: string;
    try {
      text = await fsp.readFile(this.fileOf(id), 'utf8');
    } catch {
      return null;
    }
    const nl = text.indexOf('\n');
    const header = nl < 0 ? null : parseHeader(text.slice(0, nl));
    if (!header) return null;
    try {
      const body = JSON.parse(text.slice(nl + 1)) as { record: DatasetRecord; subsets: StoredSubsets };
      if (body.record?.id !== id) return null;
      return { header, record: body.record, subsets: body.subsets ?? {} };
    } catch {
      return null;
    }
  }

  /** Ids of every manifest in the directory. */
  async ids(): Promise<string[]> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -'.json'.length));
  }
}

function parseHeader(line: string): ManifestHeader | null {
  try {
    const h = JSON.parse(line) as ManifestHeader;
    if (h.format !== MANIFEST_FORMAT || typeof h.id !== 'string' || typeof h.revision !== 'number' || typeof h.created_at !== 'string') return null;
    return h;
  } catch {
    return null;
  }
}

/** Whether `h` may replace `on`: a dataset registered later under the same id, or a later revision of the same one. */
function newer(h: ManifestHeader, on: ManifestHeader | null): boolean {
  if (on === null) return true;
  return on.created_at === h.created_at ? on.revision < h.revision : on.created_at < h.created_at;
}

/** A rename is durable once its directory is synced. */
async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse to fsync a directory: the rename is as durable as they make it.
  } finally {
    await fh?.close();
  }
}
