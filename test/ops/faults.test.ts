/**
 * Faults, each test on its own redis-server (started here, on a free port):
 *
 * (a) a worker process is killed with SIGKILL in the middle of a shard job (the job is
 *     held on a named pipe among its clips, so "in the middle" is certain); with
 *     JOB_LOCK_MS=2000 the job's lock expires, another worker process takes it over and
 *     writes a shard byte-identical to an uninterrupted run of the same job.
 * (b) Redis stops and restarts (append-only file, as in docker-compose.yml): /readyz
 *     answers 503 problem+json while it is down and 200 again after; a batch request
 *     during the outage gets the right bytes or a 503 problem; a client whose
 *     stream broke during the outage resumes with from_batch, and every batch it got,
 *     before and after, equals the uninterrupted epoch.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import {
  clipEntries,
  MINI_CLASSES,
  shardJob,
  spawnService,
  startRedis,
  writeHeavyClip,
  type RedisProcess,
} from './helpers.ts';
import { registerDataset, startTestApp, startTestWorkers } from '../helpers/app.ts';
import { cleanups } from '../helpers/cleanup.ts';
import { waitFor } from '../helpers/wait.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import type { ShardJobData, ShardResult } from '../../jobs/payloads.ts';
import { SHARD_QUEUE, connectionFromUrl } from '../../jobs/queues.ts';
import { startWorkers } from '../../jobs/workers.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-faults-'));
const redises: RedisProcess[] = [];
after(async () => {
  for (const r of redises) await r.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

describe('a worker process killed mid-job', () => {
  test('the job completes on another worker process with identical output', { timeout: 240_000 }, async (t) => {
    const defer = cleanups(t);
    const redis = await startRedis(path.join(base, 'redis-a'));
    redises.push(redis);
    const root = path.join(base, 'root-a');
    const dataset = path.join(root, 'mini');
    copyCorpus(testdata('corpus-mini'), dataset);
    // A clip that keeps the job active for seconds, so it can be killed mid-job.
    writeHeavyClip(path.join(dataset, 'yes', 'zz-held.wav'));
    const entries = [...clipEntries(dataset, 20).slice(0, 10), 'yes/zz-held.wav', ...clipEntries(dataset, 20).slice(10)];
    const queue = new Queue<ShardJobData, ShardResult>(SHARD_QUEUE, { connection: connectionFromUrl(redis.url), prefix: 'faults' });
    const dataDir = path.join(base, 'data-a');
    try {
      // Uninterrupted reference run of the same job content.
      const refFile = path.join(dataDir, 'reference.afs');
      const reference = startWorkers({ redisUrl: redis.url, prefix: 'faults', concurrency: 1, frontendBackend: 'auto', lockMs: 2000, log: () => {} });
      defer(() => reference.close());
      await queue.add('shard', shardJob(dataset, root, entries, refFile), { jobId: 'reference' });
      await waitFor(async () => (await queue.getJob('reference'))!.isCompleted(), { what: 'the reference shard job completed' });
      await reference.close();

      const env = {
        REDIS_URL: redis.url,
        KEY_PREFIX: 'faults',
        DATA_DIR: dataDir,
        DATA_ROOTS: root,
        JOB_LOCK_MS: '2000',
        WORKER_CONCURRENCY: '1',
      };
      const a = await spawnService('jobs/worker.ts', env);
      defer(() => a.stop());
      await a.waitFor(/worker started/);
      const file = path.join(dataDir, 'interrupted.afs');
      await queue.add('shard', shardJob(dataset, root, entries, file), { jobId: 'interrupted' });
      await a.waitFor(/featurize-shards job interrupted .* active/);
      a.proc.kill('SIGKILL');
      assert.equal((await a.exited).signal, 'SIGKILL');
      assert.equal(await (await queue.getJob('interrupted'))!.getState(), 'active', 'killed mid-job');
      // Worker B takes the job over once A's lock has expired.
      const b = await spawnService('jobs/worker.ts', env);
      defer(() => b.stop());
      await b.waitFor(/worker started/);
      await waitFor(async () => (await queue.getJob('interrupted'))!.isCompleted(), { what: 'the interrupted shard job completed by the second worker' });
      await b.waitFor(/featurize-shards job interrupted .* completed/);
      assert.ok(!/job interrupted .* completed/.test(a.output()));

      const job = (await queue.getJob('interrupted'))!;
      assert.equal(job.returnvalue.rows, entries.length);
      assert.ok(fs.readFileSync(file).equals(fs.readFileSync(refFile)), 'identical shard bytes');
      b.proc.kill('SIGTERM');
      assert.equal((await b.exited).code, 0);
    } finally {
      await queue.close();
    }
  });
});

describe('Redis stops and restarts', () => {
  test('/readyz reports it, and a broken stream resumes with from_batch without a corrupt batch', { timeout: 240_000 }, async () => {
    const dir = path.join(base, 'redis-b');
    let redis = await startRedis(dir);
    redises.push(redis);
    const t = await startTestApp({}, { redisUrl: redis.url });
    const workers = startTestWorkers(t, { lockMs: 5000 }); // a job its worker lost with Redis is retried soon after
    try {
      copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
      await registerDataset(t, { name: 'mini', source: { type: 'directory', path: 'mini' }, classes: MINI_CLASSES, validation_split: 0.2, batch_size: 4 });
      const url = '/v1/datasets/mini/batches?subset=training&epoch=3&format=npy&dtype=uint16';
      const full = await t.app.inject({ url });
      assert.equal(full.statusCode, 200, full.body);
      const reference = splitBatches(full.rawPayload);
      const n = reference.length;
      assert.ok(n > 6);
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (t.app.server.address() as net.AddressInfo).port;

      // A client reads a few batches, then its stream breaks while Redis is down.
      const k = 3;
      const want = reference.slice(0, k).reduce((a, b) => a + b.length, 0);
      const partial = await new Promise<Buffer>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: url }, (res) => {
            const chunks: Buffer[] = [];
            let got = 0;
            res.on('data', (c: Buffer) => {
              chunks.push(c);
              got += c.length;
              if (got >= want) {
                res.pause();
                resolve(Buffer.concat(chunks));
                void redis.stop().then(() => res.destroy());
              }
            });
            res.on('error', () => undefined);
            res.on('end', () => reject(new Error(`the stream ended before ${want} bytes`)));
          })
          .on('error', reject);
      });
      await waitFor(() => redis.proc.exitCode !== null || redis.proc.signalCode !== null, { what: 'redis-server stopped' });

      const notReady = await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`), {
        what: '/readyz 503 while Redis is down',
        until: (r) => r.status === 503,
        describe: (r) => r.status,
      });
      assert.match(String(notReady.headers.get('content-type')), /^application\/problem\+json/);
      assert.equal(((await notReady.json()) as { type: string }).type, 'https://audiofeed.dev/problems/not-ready');
      // During the outage a request gets the right bytes or a 503 problem, never anything else:
      // this epoch is cached on disk and its lists are in the API's memory, so while the
      // record is still in the registry's cache (1 s) it is served without Redis.
      const during = await fetch(`http://127.0.0.1:${port}${url}&from_batch=${k}`);
      if (during.status === 200) {
        const served = splitBatches(Buffer.from(await during.arrayBuffer()));
        assert.equal(served.length, n - k);
        served.forEach((b, i) => assert.ok(b.equals(reference[k + i]!), `batch ${k + i} served during the outage is identical`));
      } else {
        assert.equal(during.status, 503);
        assert.equal(((await during.json()) as { type: string }).type, 'https://audiofeed.dev/problems/backend-unavailable');
      }

      redis = await startRedis(dir, redis.port);
      redises.push(redis);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status, { what: '/readyz 200 once Redis is back', until: (s) => s === 200, everyMs: 100 });

      const rest = await fetch(`http://127.0.0.1:${port}${url}&from_batch=${k}`);
      assert.equal(rest.status, 200);
      assert.equal(rest.headers.get('x-audiofeed-from-batch'), String(k));
      const resumed = splitBatches(Buffer.from(await rest.arrayBuffer()));
      const got = [...splitBatches(partial.subarray(0, want)), ...resumed];
      assert.equal(got.length, n);
      got.forEach((b, i) => assert.ok(b.equals(reference[i]!), `batch ${i} is identical`));
    } finally {
      await workers.close();
      await t.close();
    }
  });
});

/** npy stream (x, y per batch) → one buffer per batch. */
function splitBatches(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const start = at;
    at += decodeNpy(body.subarray(at)).byteLength;
    at += decodeNpy(body.subarray(at)).byteLength;
    out.push(body.subarray(start, at));
  }
  return out;
}
