/**
 * Issue #21 item 5: writes that are really atomic. A write may write fewer bytes than
 * asked without failing (a nearly full disk); the writers (feature shards, augmented
 * batches, manifests, index files, sample weights) continue short writes, fail when no
 * progress is made, check the size with fstat before fsync + rename, and never publish a
 * short file. The file system is injected: a handle whose writes are short, one whose
 * disk fills up, one that claims bytes it did not write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nodeAtomicFs, writeFileAtomic, writeFully, ShortWriteError, type AtomicFileHandle, type AtomicFs } from '../../src/core/atomic-file.ts';
import { openShardSync, readRowsSync, writeShard, type ShardHeader } from '../../src/services/features/shard-file.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-atomic-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The real file system, with each write of an opened file going through `shape`: given
 * the bytes asked for and the bytes this file took so far, how many to really write and
 * how many to report (by default the same).
 */
function shapedFs(shape: (asked: number, soFar: number) => { write: number; report?: number }): AtomicFs & { writes: number } {
  const io = {
    ...nodeAtomicFs,
    writes: 0,
    async openExclusive(file: string): Promise<AtomicFileHandle> {
      const fh = await nodeAtomicFs.openExclusive(file);
      let soFar = 0;
      return {
        stat: () => fh.stat(),
        sync: () => fh.sync(),
        close: () => fh.close(),
        async write(buffer, offset, length, position) {
          io.writes++;
          const { write, report = write } = shape(length, soFar);
          const { bytesWritten } = write > 0 ? await fh.write(buffer, offset, write, position) : { bytesWritten: 0 };
          soFar += bytesWritten;
          return { bytesWritten: report };
        },
      };
    },
  };
  return io;
}

const ROWS = 64;
const ROW_SHAPE = [98, 32];
function shard(): { header: ShardHeader; data: Uint8Array } {
  const data = new Uint8Array(ROWS * 98 * 32 * 2);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
  const header: ShardHeader = {
    version: 2,
    dtype: 'uint16',
    row_shape: ROW_SHAPE,
    rows: ROWS,
    entries: Array.from({ length: ROWS }, (_, i) => `c/${i}.wav`),
    failures: [],
    feature_hash: 'test',
  };
  return { header, data };
}

function assertWholeShard(file: string, data: Uint8Array): void {
  const open = openShardSync(file);
  try {
    const out = new Uint8Array(data.length);
    readRowsSync(open, 0, ROWS, out, 0);
    assert.deepEqual(Buffer.from(out), Buffer.from(data));
  } finally {
    fs.closeSync(open.fd);
  }
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));

test('short writes are continued: the shard is complete', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'a.afs');
  const { header, data } = shard();
  // At most 1000 bytes per write (the shard is ~400 KB): hundreds of short writes.
  const io = shapedFs((asked) => ({ write: Math.min(asked, 1000) }));
  await writeShard(file, header, data, io);
  assert.ok(io.writes > 100, `${io.writes} writes`);
  assertWholeShard(file, data);
  assert.deepEqual(leftovers(dir), []);
});

test('a disk that fills up: ENOSPC, nothing published, no temp left; a retry publishes the whole shard', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'b.afs');
  const { header, data } = shard();
  // The disk takes 100 KB, then every write writes 0 bytes (what writev does on a nearly full disk).
  const full = shapedFs((asked, soFar) => ({ write: Math.max(0, Math.min(asked, 100_000 - soFar)) }));
  await assert.rejects(writeShard(file, header, data, full), (err: Error) => err instanceof ShortWriteError && (err as ShortWriteError).code === 'ENOSPC' && /disk full/.test(err.message));
  assert.equal(fs.existsSync(file), false, 'no short shard was published');
  assert.deepEqual(leftovers(dir), []);
  // The job is retried once there is room.
  await writeShard(file, header, data, shapedFs((asked) => ({ write: Math.min(asked, 65536) })));
  assertWholeShard(file, data);
});

test('a file system that reports bytes it did not write: the fstat size check refuses to publish', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'c.afs');
  const { header, data } = shard();
  // Every write writes half of what it says it wrote.
  const lying = shapedFs((asked) => ({ write: Math.ceil(asked / 2), report: asked }));
  await assert.rejects(writeShard(file, header, data, lying), /the file holds \d+ bytes after writing \d+/);
  assert.equal(fs.existsSync(file), false);
  assert.deepEqual(leftovers(dir), []);
  // An older complete shard stays in place when a rewrite fails.
  await writeShard(file, header, data);
  await assert.rejects(writeShard(file, header, data, lying));
  assertWholeShard(file, data);
  assert.deepEqual(leftovers(dir), []);
});

test('writeFileAtomic: strings and chunks, beforeRename can discard, writeFully from an offset', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'sub', 'm.json');
  const text = 'é'.repeat(5000);
  assert.equal(await writeFileAtomic(file, text, { io: shapedFs((asked) => ({ write: Math.min(asked, 7) })), syncDir: true }), true);
  assert.equal(await fsp.readFile(file, 'utf8'), text);
  assert.equal(await writeFileAtomic(file, 'newer', { beforeRename: async () => false }), false);
  assert.equal(await fsp.readFile(file, 'utf8'), text, 'a discarded write leaves the file as it was');
  assert.deepEqual(leftovers(path.dirname(file)), []);

  const fh = await fsp.open(path.join(dir, 'part'), 'w');
  try {
    await fh.write(Buffer.from('head:'), 0, 5, 0);
    const short: Pick<AtomicFileHandle, 'write'> = { write: (b, o, l, p) => fh.write(b, o, Math.min(l, 3), p) };
    assert.equal(await writeFully(short, [Buffer.from('0123456789'), Buffer.from('abc')], 'part', 5), 13);
    const stalled: Pick<AtomicFileHandle, 'write'> = { write: async () => ({ bytesWritten: 0 }) };
    await assert.rejects(writeFully(stalled, [Buffer.from('x')], 'part', 18), /accepted 0 of 1 bytes/);
  } finally {
    await fh.close();
  }
  assert.equal(await fsp.readFile(path.join(dir, 'part'), 'utf8'), 'head:0123456789abc');
});
