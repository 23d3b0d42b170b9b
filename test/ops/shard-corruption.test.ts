/**
 * Shard integrity (issue #11 item 1): every feature shard carries a CRC-32 of its header
 * and of each row. A shard whose bytes were flipped, whose header was damaged, that was
 * truncated or deleted is never served: it is moved to DATA_DIR/features/quarantine,
 * counted in /metrics (audiofeed_shard_corruptions_total{reason}), featurized again, and
 * the stream goes on with the right bytes. The same holds while streams run, and damaged
 * or deleted index files (.index/<class>.txt) break neither a running stream nor a later load.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { copyCorpus, duplicateClips, testdata } from '../helpers/paths.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { waitFor } from '../helpers/wait.ts';
import { closeAll } from '../helpers/cleanup.ts';

let t: TestApp;
let workers: RunningWorkers;
const URL_NPY = '/v1/datasets/mini/batches?epoch=0&format=npy';
let reference: Buffer;

before(async () => {
  t = await startTestApp();
  const dir = path.join(t.root, 'mini');
  copyCorpus(testdata('corpus-mini'), dir);
  // Every yes/no clip five times (under other speaker ids): enough clips for several shards.
  duplicateClips(dir, ['yes', 'no'], 4);
  workers = startTestWorkers(t);
  await registerDataset(t, {
    name: 'mini',
    source: { type: 'directory', path: 'mini' },
    classes: ['yes', 'no', '_unknown_', '_silence_'],
    validation_split: 0.2,
    batch_size: 8,
  });
  // A cold epoch: its batches are featurized directly while the background flow fills the cache.
  const res = await t.app.inject({ url: URL_NPY });
  assert.equal(res.statusCode, 200, res.body);
  reference = res.rawPayload;
  const plan = t.ctx.features.planOf(await t.ctx.registry.get('mini'), (await t.ctx.registry.subsets('mini')).training!);
  await waitFor(() => plan.shards.filter((s) => !fs.existsSync(s.file)).length, { what: 'every shard of the plan on disk (shards missing)', until: (n) => n === 0 });
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

const featuresDir = () => path.join(t.dataDir, 'features');
/** The training subset's shard files (the only subset featurized here), in a stable order. */
function shardFiles(): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(featuresDir())) {
    if (d === 'quarantine' || d === '.direct') continue;
    for (const f of fs.readdirSync(path.join(featuresDir(), d))) if (f.endsWith('.afs')) out.push(path.join(featuresDir(), d, f));
  }
  return out.sort();
}
const quarantined = () => (fs.existsSync(path.join(featuresDir(), 'quarantine')) ? fs.readdirSync(path.join(featuresDir(), 'quarantine')) : []);

async function corruptionCounts(): Promise<Record<string, number>> {
  const text = (await t.app.inject({ url: '/metrics' })).body;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^audiofeed_shard_corruptions_total\{reason="([^"]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Header length from the prelude ("AFSHARD2" | u32 length | u32 crc). */
const dataOffset = (buf: Buffer) => 16 + buf.readUInt32LE(8);

describe('a corrupted shard is never served', () => {
  test('the cold epoch (featurized directly) equals the same epoch from the cache, byte for byte', async () => {
    const res = await t.app.inject({ url: URL_NPY });
    assert.ok(res.rawPayload.equals(reference));
  });

  test("shards are version 2 with header and row checksums", async () => {
    const files = shardFiles();
    assert.ok(files.length >= 2, `expected at least 2 training shards, got ${files.length}: ${JSON.stringify((await t.app.inject({ url: "/v1/datasets/mini" })).json().class_counts)} ${reference.length}`);
    const buf = fs.readFileSync(files[0]!);
    assert.equal(buf.toString('latin1', 0, 8), 'AFSHARD2');
    const header = JSON.parse(buf.toString('utf8', 16, dataOffset(buf)));
    assert.equal(header.row_crc32.length, header.rows);
  });

  test('flipped row bytes and a damaged header: quarantined, counted, recomputed, byte-identical epoch', async () => {
    const [a, b] = shardFiles();
    const bufA = fs.readFileSync(a!);
    // Flip bytes inside row 3 (same length: only the checksum can tell).
    const at = dataOffset(bufA) + 3 * ((bufA.length - dataOffset(bufA)) / JSON.parse(bufA.toString('utf8', 16, dataOffset(bufA))).rows) + 17;
    bufA[at] ^= 0xff;
    bufA[at + 1] ^= 0x5a;
    fs.writeFileSync(a!, bufA);
    const bufB = fs.readFileSync(b!);
    const j = bufB.indexOf('"rows":') + 7;
    bufB[j] = bufB[j] === 0x31 ? 0x32 : 0x31; // another row count, still valid JSON
    fs.writeFileSync(b!, bufB);
    const before = await corruptionCounts();

    const res = await t.app.inject({ url: URL_NPY });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.rawPayload.equals(reference), 'the epoch after repair equals the original epoch');
    const counts = await corruptionCounts();
    assert.equal((counts['row-checksum'] ?? 0) - (before['row-checksum'] ?? 0), 1, JSON.stringify(counts));
    assert.equal((counts['header-checksum'] ?? 0) - (before['header-checksum'] ?? 0), 1, JSON.stringify(counts));
    const q = quarantined();
    assert.ok(q.some((n) => n.startsWith(path.basename(a!) + '.')), `quarantine holds ${path.basename(a!)}: ${q}`);
    assert.ok(q.some((n) => n.startsWith(path.basename(b!) + '.')), `quarantine holds ${path.basename(b!)}: ${q}`);
    assert.ok(fs.readFileSync(a!).equals(Buffer.from(bufA.map((v, i) => (i === at ? v ^ 0xff : i === at + 1 ? v ^ 0x5a : v)))), 'recomputed shard = original');
  });

  test('a truncated and a deleted shard: recomputed, byte-identical epoch, counted', async () => {
    const [a, b] = shardFiles();
    const size = fs.statSync(a!).size;
    fs.truncateSync(a!, size - 1000);
    fs.rmSync(b!);
    const before = await corruptionCounts();
    // While a shard is missing the batches that need it are featurized directly; the flow makes it again.
    const res = await t.app.inject({ url: URL_NPY });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.rawPayload.equals(reference));
    await waitFor(() => fs.existsSync(b!), { what: `shard ${b} made again` });
    // Every shard exists now: the next stream reads the cache and finds the truncated one.
    const res2 = await t.app.inject({ url: URL_NPY });
    assert.ok(res2.rawPayload.equals(reference));
    const counts = await corruptionCounts();
    assert.equal((counts['truncated'] ?? 0) - (before['truncated'] ?? 0), 1, JSON.stringify(counts));
    // The truncated shard was quarantined and is featurized again in the background.
    await waitFor(() => fs.existsSync(a!), { what: `shard ${a} made again` });
    assert.equal(fs.statSync(a!).size, size);
    assert.ok(fs.existsSync(b!));
  });

  test('a damaged row found by a later stream, an old-layout shard found by the summary', async () => {
    const [a] = shardFiles();
    const buf = fs.readFileSync(a!);
    buf[dataOffset(buf) + 5] ^= 0x01;
    fs.writeFileSync(a!, buf);
    const items = (await t.app.inject({ url: '/v1/datasets/mini/samples?subset=training&limit=1' })).json().items as unknown[];
    assert.ok(items.length === 1);
    const before = await corruptionCounts();
    // The header is intact, so the summary counts the shard; the row read by a preview fails its checksum.
    const sum = await t.app.inject({ url: '/v1/datasets/mini/summary', headers: { accept: 'application/json' } });
    assert.equal(sum.statusCode, 200);
    const res = await t.app.inject({ url: URL_NPY });
    assert.ok(res.rawPayload.equals(reference));
    const counts = await corruptionCounts();
    assert.equal((counts['row-checksum'] ?? 0) - (before['row-checksum'] ?? 0), 1, JSON.stringify(counts));
    // An old-layout shard (AFSHARD1) is stale: made again, never read.
    const old = fs.readFileSync(a!);
    old.write('AFSHARD1', 0, 'latin1');
    fs.writeFileSync(a!, old);
    const sum2 = await t.app.inject({ url: '/v1/datasets/mini/summary', headers: { accept: 'application/json' } });
    assert.equal(sum2.statusCode, 200);
    const tr = sum2.json().featurization.training;
    assert.equal(tr.shards_done, tr.shards_total - 1, 'the stale shard does not count as done');
    // The summary counts the stale shard (its header read) as it is found: awaited, not assumed.
    await waitFor(corruptionCounts, { what: "the stale shard counted (reason 'old-version')", until: (c) => (c['old-version'] ?? 0) >= 1 });
    const res2 = await t.app.inject({ url: URL_NPY });
    assert.ok(res2.rawPayload.equals(reference));
    // The stream's background flow makes the quarantined shard again.
    await waitFor(() => fs.existsSync(a!), { what: `shard ${a} made again` });
    assert.equal(fs.readFileSync(a!).toString('latin1', 0, 8), 'AFSHARD2');
  });
});

describe('faults while streams run', () => {
  test('shards corrupted, truncated and deleted and index files damaged during 4 streams: every stream is exact', { timeout: 240_000 }, async () => {
    // Long streams (steps_per_epoch runs over several epochs), read by slow clients over real HTTP.
    const url = '/v1/datasets/mini/batches?format=npy&steps_per_epoch=60';
    const ref = await t.app.inject({ url });
    assert.equal(ref.statusCode, 200);
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const slowRead = async () => {
      const res = await fetch(address + url);
      assert.equal(res.status, 200, await res.clone().text());
      const parts: Buffer[] = [];
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(Buffer.from(value));
        await new Promise((r) => setTimeout(r, 2));
      }
      return Buffer.concat(parts);
    };
    const indexDir = (await t.app.inject({ url: '/v1/datasets/mini' })).json().index.dir as string;
    let stop = false;
    const faults = (async () => {
      let i = 0;
      while (!stop && i < 16) {
        const files = shardFiles().filter((f) => fs.existsSync(f));
        const f = files[i % Math.max(1, files.length)];
        try {
          if (f) {
            const kind = i % 4;
            if (kind === 0) {
              const buf = fs.readFileSync(f);
              buf[buf.length - 100] ^= 0xff;
              fs.writeFileSync(f, buf);
            } else if (kind === 1) {
              const buf = fs.readFileSync(f);
              buf[20] ^= 0x01;
              fs.writeFileSync(f, buf);
            } else if (kind === 2) {
              fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
            } else {
              fs.rmSync(f, { force: true });
            }
          }
          if (i === 1) fs.rmSync(path.join(indexDir, '.index', 'yes.txt'), { force: true });
          if (i === 2) fs.writeFileSync(path.join(indexDir, '.index', 'no.txt'), '../../../etc/passwd\n\u0000garbage\nno/does-not-exist.wav\n');
        } catch {
          // a file a repair is moving right now
        }
        i++;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      const got = await Promise.all([slowRead(), slowRead(), slowRead(), slowRead()]);
      got.forEach((g, k) => assert.ok(g.equals(ref.rawPayload), `stream ${k} equals the undisturbed stream (${g.length} vs ${ref.rawPayload.length} bytes)`));
    } finally {
      stop = true;
      await faults;
    }
    const counts = await corruptionCounts();
    assert.ok(Object.values(counts).reduce((a, b) => a + b, 0) > 0, `corruptions counted: ${JSON.stringify(counts)}`);
    // After the faults: a new stream is exact again.
    const again = await t.app.inject({ url });
    assert.ok(again.rawPayload.equals(ref.rawPayload));
    // A later load with damaged index files: the index is regenerated (a clear 200) or refused with a problem, never a 5xx.
    const load = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/load', payload: { subset: 'training' } });
    assert.ok(load.statusCode < 500, `load after damaged index files: ${load.statusCode} ${load.body}`);
    if (load.statusCode !== 200) assert.match(String(load.headers['content-type']), /application\/problem\+json/);
    console.log(`load after damaged index files: ${load.statusCode}`);
  });
});
