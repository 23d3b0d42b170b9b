/**
 * Workers killed (SIGKILL) and restarted while an epoch streams: the stream completes,
 * byte for byte equal to the features src/ computes directly, and no half-written
 * shard is left behind. Worker processes are real `jobs/worker.ts` processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { wavBytes } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';
import { batchIndices, buildLabels } from '../../src/core/datasets/index.ts';
import { loadSample, toInt16 } from '../../src/core/audio/index.ts';
import { computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';

let t: TestApp;
const children = new Set<ChildProcess>();
const CLIPS_PER_CLASS = 120;

before(async () => {
  t = await startTestApp({ JOB_LOCK_MS: '2000' });
  // 22.05 kHz clips: resampling makes featurization slow enough to interrupt.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  for (const [ci, cls] of ['up', 'down'].entries()) {
    fs.mkdirSync(path.join(t.root, 'slow', cls), { recursive: true });
    for (let i = 0; i < CLIPS_PER_CLASS; i++) {
      const n = 22050;
      const s = new Int16Array(n);
      const f = 200 + 37 * i + 500 * ci;
      for (let k = 0; k < n; k++) s[k] = Math.round(6000 * Math.sin((2 * Math.PI * f * k) / 22050) * Math.sin((Math.PI * k) / n) + 800 * rnd());
      fs.writeFileSync(path.join(t.root, 'slow', cls, `c${String(i).padStart(3, '0')}.wav`), wavBytes(s, 22050));
    }
  }
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/datasets',
    payload: { name: 'slow', source: { type: 'directory', path: 'slow' }, classes: ['up', 'down'], batch_size: 16 },
  });
  assert.equal(res.statusCode, 201, res.body);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await t?.close();
});

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'jobs/worker.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      REDIS_URL: t.redisUrl,
      KEY_PREFIX: t.prefix,
      DATA_DIR: t.dataDir,
      DATA_ROOTS: t.root,
      JOB_LOCK_MS: '2000',
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function shardFiles(): string[] {
  const dir = path.join(t.dataDir, 'features');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.afs'));
}

test('an epoch streamed while workers are killed and restarted completes with identical bytes', async () => {
  const a = startWorker();
  // A stream that needs featurization is refused while no worker is connected.
  await waitFor(() => t.queues.workersConnected('shards'), { what: 'the first worker process connected', until: (n) => n > 0 });
  const streaming = t.app.inject({ url: '/v1/datasets/slow/batches?format=npy&dtype=uint16&class_mode=sparse' });
  await waitFor(() => shardFiles().length, { what: 'the first shard', until: (n) => n >= 1, everyMs: 20 });
  a.kill('SIGKILL');
  const b = startWorker();
  await waitFor(() => shardFiles().length, { what: 'a shard from the second worker', until: (n) => n >= 2, everyMs: 20 });
  b.kill('SIGKILL');
  startWorker();
  const res = await streaming;
  assert.equal(res.statusCode, 200);

  // Reference: straight from src/, no shards, queues or HTTP.
  const items = (await t.app.inject({ url: '/v1/datasets/slow/samples?limit=10000' })).json().items as { entry: string; label: number }[];
  const settings = resolveFrontendSettings({});
  const order = batchIndices(items.length, 16, { shuffle: true, seed: null, epoch: 0 });
  const body = res.rawPayload;
  let at = 0;
  for (const positions of order) {
    const x = decodeNpy(body.subarray(at));
    at += x.byteLength;
    const y = decodeNpy(body.subarray(at));
    at += y.byteLength;
    const want = new Uint16Array(positions.length * 98 * 32);
    for (let i = 0; i < positions.length; i++) {
      const audio = await loadSample(path.join(t.root, 'slow', items[positions[i]!]!.entry), { sampleRateHz: 16000, sampleLengthMs: 1000 });
      want.set(computeSpectrogram(settings, toInt16(audio)).uint16, i * 98 * 32);
    }
    assert.ok(Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).equals(Buffer.from(want.buffer)));
    const labels = buildLabels([...positions].map((p) => items[p]!.label), 'sparse', 2, 'uint16');
    assert.ok(labels && labels.kind === 'labels');
    assert.deepEqual([...y.data], [...labels.data]);
  }
  assert.equal(at, body.length, 'nothing after the last batch');
  const leftovers = fs.readdirSync(path.join(t.dataDir, 'features'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
  assert.deepEqual(leftovers, [], 'no half-written shard files');
});

test('a retried shard job removes the temp file a killed attempt left', async () => {
  const { removeStaleTemps } = await import('../../src/services/features/shard-file.ts');
  const dir = path.join(t.dataDir, 'stale');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'abc.afs');
  fs.writeFileSync(path.join(dir, '.abc.afs.123-deadbeef.tmp'), 'half');
  fs.writeFileSync(path.join(dir, '.other.afs.1-aa.tmp'), 'someone else');
  assert.equal(await removeStaleTemps(file), 1);
  assert.deepEqual(fs.readdirSync(dir), ['.other.afs.1-aa.tmp']);
});
