/**
 * Graceful shutdown of both roles, as real processes (`node --import tsx routes/server.ts`
 * and `jobs/worker.ts`) with a private KEY_PREFIX, DATA_DIR and PORT:
 *
 * - API: on SIGTERM it stops accepting connections, the in-flight epoch stream (held
 *   open because its shards are not featurized until after the signal) completes in
 *   full, and the process exits 0. A second SIGTERM ends it at once by SIGTERM (status 143).
 * - worker: on SIGTERM it reports 503 on /healthz, the active job (held on a named pipe
 *   until after the signal) completes, and the process exits 0. A second SIGTERM ends
 *   it at once (status 143), even with the job's read stuck in the thread pool.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { clipEntries, MINI_CLASSES, shardJob, spawnService, startRedis, writeHeavyClip, type ServiceProcess } from './helpers.ts';
import { waitFor } from '../helpers/wait.ts';
import { cleanups, type Defer } from '../helpers/cleanup.ts';
import { deleteKeys, testRedisUrl } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { createRedis } from '../../store/redis.ts';
import type { ShardJobData, ShardResult } from '../../jobs/payloads.ts';
import { SHARD_QUEUE, connectionFromUrl } from '../../jobs/queues.ts';
import { startWorkers } from '../../jobs/workers.ts';
import { RecordBatchReader } from 'apache-arrow';

let redisUrl: string;
let base: string;
const prefixes: string[] = [];

before(async () => {
  redisUrl = (await testRedisUrl()).url;
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-shutdown-'));
  copyCorpus(testdata('corpus-mini'), path.join(base, 'root', 'mini'));
});
after(async () => {
  const redis = createRedis(redisUrl);
  for (const p of prefixes) await deleteKeys(redis, p);
  redis.disconnect();
  fs.rmSync(base, { recursive: true, force: true });
});

function privateEnv(): Record<string, string> {
  const prefix = `afshut-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  const dataDir = fs.mkdtempSync(path.join(base, 'data-'));
  return { REDIS_URL: redisUrl, KEY_PREFIX: prefix, DATA_DIR: dataDir, DATA_ROOTS: path.join(base, 'root'), SHUTDOWN_GRACE_MS: '60000' };
}

/** A worker connected to the shard queue that runs nothing (so a stream accepts to wait). */
async function idleWorker(defer: Defer, env: Record<string, string>): Promise<Worker> {
  const w = new Worker(SHARD_QUEUE, async () => undefined, { connection: connectionFromUrl(redisUrl), prefix: env.KEY_PREFIX, autorun: false });
  defer(() => w.close());
  await w.waitUntilReady();
  return w;
}

interface Stream {
  headers: Promise<http.IncomingHttpHeaders>;
  done: Promise<{ body: Buffer; complete: boolean }>;
}

function openStream(port: number, url: string): Stream {
  let gotHeaders!: (h: http.IncomingHttpHeaders) => void;
  let failed!: (e: Error) => void;
  const headers = new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
    gotHeaders = resolve;
    failed = reject;
  });
  const done = new Promise<{ body: Buffer; complete: boolean }>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: url }, (res) => {
      if (res.statusCode !== 200) failed(new Error(`status ${res.statusCode}`));
      gotHeaders(res.headers);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', () => resolve({ body: Buffer.concat(chunks), complete: false }));
    });
    req.on('error', (e) => {
      failed(e);
      resolve({ body: Buffer.alloc(0), complete: false });
    });
  });
  return { headers, done };
}

async function arrowBatches(body: Buffer): Promise<number> {
  let n = 0;
  for await (const rb of await RecordBatchReader.from(body)) if (rb.numRows > 0) n++;
  return n;
}

async function startApi(defer: Defer, env: Record<string, string>): Promise<ServiceProcess> {
  const api = await spawnService('routes/server.ts', { ...env, IN_PROCESS_WORKERS: '0' });
  defer(() => api.stop());
  await api.waitFor(/Server listening/);
  const res = await fetch(`http://127.0.0.1:${api.port}/v1/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'mini', source: { type: 'directory', path: 'mini' }, classes: MINI_CLASSES, validation_split: 0.2, batch_size: 8 }),
  });
  assert.equal(res.status, 201, await res.text());
  return api;
}

/** Until the stream's first batch is queued (the headers go out with the first batch, after it is made). */
async function streamWaiting(env: Record<string, string>): Promise<void> {
  const q = new Queue(SHARD_QUEUE, { connection: connectionFromUrl(redisUrl), prefix: env.KEY_PREFIX });
  try {
    await waitFor(() => q.getJobCounts('waiting', 'prioritized'), {
      what: "the stream's first shard job queued",
      until: (c) => (c.waiting ?? 0) + (c.prioritized ?? 0) > 0,
    });
  } finally {
    await q.close();
  }
}

const STREAM = '/v1/datasets/mini/batches?subset=training&format=arrow&dtype=uint16';

describe('API process', () => {
  test('SIGTERM: stops accepting, the in-flight stream completes, exit 0', { timeout: 240_000 }, async (t) => {
    const defer = cleanups(t);
    const env = privateEnv();
    const api = await startApi(defer, env);
    const idle = await idleWorker(defer, env);
    const stream = openStream(api.port, STREAM);
    await streamWaiting(env);

    api.proc.kill('SIGTERM');
    await api.waitFor(/SIGTERM: shutting down/);
    // No new connections once shutdown began.
    await waitFor(
      async () => {
        try {
          await fetch(`http://127.0.0.1:${api.port}/healthz`);
          return false;
        } catch {
          return true;
        }
      },
      { what: 'the API refusing new connections' },
    );
    assert.equal(api.proc.exitCode, null, 'still running: a stream is in flight');

    // Only now can the stream's shards be made.
    await idle.close();
    const workers = startWorkers({ redisUrl, prefix: env.KEY_PREFIX!, concurrency: 2, frontendBackend: 'auto', lockMs: 5000, log: () => {} });
    try {
      const { body, complete } = await stream.done;
      assert.ok(complete, 'the response ended normally');
      const batches = Number((await stream.headers)['x-audiofeed-batches']);
      assert.ok(batches > 1);
      assert.equal(await arrowBatches(body), batches, 'every batch arrived');
      const { code } = await api.exited;
      assert.equal(code, 0, api.output().slice(-2000));
      assert.match(api.output(), /shut down cleanly/);
    } finally {
      await workers.close();
    }
  });

  test('a second SIGTERM exits at once (143), cutting the stream', { timeout: 240_000 }, async (t) => {
    const defer = cleanups(t);
    const env = privateEnv();
    const api = await startApi(defer, env);
    const idle = await idleWorker(defer, env);
    try {
      const stream = openStream(api.port, STREAM);
      stream.headers.catch(() => undefined); // never sent: the process ends first
      await streamWaiting(env);
      api.proc.kill('SIGTERM');
      await api.waitFor(/SIGTERM: shutting down/);
      api.proc.kill('SIGTERM');
      const { code, signal } = await api.exited;
      // Ended by the re-raised signal: a shell or Docker reports 143.
      assert.deepEqual({ code, signal }, { code: null, signal: 'SIGTERM' });
      assert.equal((await stream.done).complete, false);
    } finally {
      await idle.close();
    }
  });
});

describe('worker process', () => {
  async function heldJob(env: Record<string, string>, name: string) {
    const dataset = path.join(base, 'root', 'mini');
    const heavy = path.join(dataset, 'yes', `zz-${name}.wav`);
    writeHeavyClip(heavy);
    const queue = new Queue<ShardJobData, ShardResult>(SHARD_QUEUE, { connection: connectionFromUrl(redisUrl), prefix: env.KEY_PREFIX });
    const file = path.join(env.DATA_DIR!, 'features', `${name}.afs`);
    const entries = [...clipEntries(dataset, 6), `yes/zz-${name}.wav`];
    const job = await queue.add('shard', shardJob(dataset, path.join(base, 'root'), entries, file), { jobId: name });
    return { heavy, queue, file, job, entries };
  }

  test('SIGTERM: /healthz turns 503, the active job completes, exit 0', { timeout: 240_000 }, async (t) => {
    const defer = cleanups(t);
    const env = { ...privateEnv(), WORKER_CONCURRENCY: '1' };
    const worker = await spawnService('jobs/worker.ts', env);
    defer(() => worker.stop());
    await worker.waitFor(/worker health endpoint/);
    const { heavy, queue, file, entries } = await heldJob(env, 'held-1');
    try {
      await worker.waitFor(/featurize-shards job held-1 .* active/);
      assert.equal((await fetch(`http://127.0.0.1:${healthPort(worker)}/healthz`)).status, 200);
      worker.proc.kill('SIGTERM');
      await worker.waitFor(/SIGTERM: finishing active jobs/);
      assert.equal((await fetch(`http://127.0.0.1:${healthPort(worker)}/healthz`)).status, 503);
      assert.equal(worker.proc.exitCode, null, 'still running: a job is active');
      const { code } = await worker.exited;
      assert.equal(code, 0, worker.output().slice(-2000));
      const job = await queue.getJob('held-1');
      assert.equal(await job!.getState(), 'completed');
      assert.equal(job!.returnvalue.rows, entries.length);
      assert.ok(fs.existsSync(file));
    } finally {
      await queue.close();
      fs.rmSync(heavy, { force: true });
    }
  });

  test('SIGTERM while Redis is down: the worker closes at once (force), not after the grace period', { timeout: 240_000 }, async () => {
    const redis = await startRedis(path.join(base, 'redis-down'));
    const env: Record<string, string> = { ...privateEnv(), REDIS_URL: redis.url, WORKER_CONCURRENCY: '1', SHUTDOWN_GRACE_MS: '600000' };
    const dataset = path.join(base, 'root', 'mini');
    const heavy = path.join(dataset, 'yes', 'zz-down.wav');
    writeHeavyClip(heavy);
    let worker: ServiceProcess | undefined;
    try {
      worker = await spawnService('jobs/worker.ts', env);
      await worker.waitFor(/worker health endpoint/);
      const queue = new Queue<ShardJobData, ShardResult>(SHARD_QUEUE, { connection: connectionFromUrl(redis.url), prefix: env.KEY_PREFIX });
      await queue.add('shard', shardJob(dataset, path.join(base, 'root'), [...clipEntries(dataset, 2), 'yes/zz-down.wav'], path.join(env.DATA_DIR!, 'features', 'down.afs')), { jobId: 'down-1' });
      await worker.waitFor(/featurize-shards job down-1 .* active/);
      await queue.close();
      await redis.stop();
      worker.proc.kill('SIGTERM');
      await worker.waitFor(/Redis does not answer: closing the workers without waiting for active jobs/);
      // The grace period is 10 minutes and the job's result cannot be stored: only a forced
      // close ends the process now.
      const { code } = await worker.exited;
      assert.equal(code, 0, worker.output().slice(-2000));
    } finally {
      if (worker && worker.proc.exitCode === null) worker.proc.kill('SIGKILL');
      await redis.stop();
      fs.rmSync(heavy, { force: true });
    }
  });

  test('a second SIGTERM exits at once (143) with the job unfinished', { timeout: 240_000 }, async (t) => {
    const defer = cleanups(t);
    const env = { ...privateEnv(), WORKER_CONCURRENCY: '1' };
    const worker = await spawnService('jobs/worker.ts', env);
    defer(() => worker.stop());
    await worker.waitFor(/worker health endpoint/);
    const { heavy, queue, file } = await heldJob(env, 'held-2');
    try {
      await worker.waitFor(/featurize-shards job held-2 .* active/);
      worker.proc.kill('SIGTERM');
      await worker.waitFor(/SIGTERM: finishing active jobs/);
      worker.proc.kill('SIGTERM');
      const { code, signal } = await worker.exited;
      assert.deepEqual({ code, signal }, { code: null, signal: 'SIGTERM' });
      assert.equal(await (await queue.getJob('held-2'))!.getState(), 'active', 'left for another worker once its lock expires');
      assert.equal(fs.existsSync(file), false);
    } finally {
      await queue.close();
      fs.rmSync(heavy, { force: true });
    }
  });
});

/** The health port the worker logged. */
function healthPort(p: ServiceProcess): number {
  const m = /worker health endpoint at [^:]+:(\d+)/.exec(p.output());
  assert.ok(m, 'health endpoint logged');
  return Number(m[1]);
}
