/**
 * The one test app factory: the real app, wired by the same composition root as
 * `npm start` (routes/compose.ts), against a real Redis with a private key prefix, a temp
 * data dir and a temp data root. `close()` removes the keys and the directories, and
 * awaits every connection it opened.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../../src/services/config.ts';
import { buildApp, type App } from '../../routes/app.ts';
import { createServices } from '../../routes/compose.ts';
import type { Maintenance } from '../../src/services/maintenance.ts';
import type { AppContext } from '../../routes/context.ts';
import { Worker } from 'bullmq';
import { FEATURIZE_QUEUE, SHARD_QUEUE, connectionFromUrl, type FeatureQueues } from '../../jobs/queues.ts';
import { startWorkers, type RunningWorkers, type WorkerOptions } from '../../jobs/workers.ts';
import { createRedis, ensureRedis, type PrivateRedis } from '../../store/redis.ts';
import { waitFor } from './wait.ts';

const quiet = { info() {}, warn() {} };

let shared: Promise<{ url: string; child: PrivateRedis | null }> | null = null;
/** One Redis per test process: the machine's, or a private one when none answers. */
export function testRedisUrl(): Promise<{ url: string; child: PrivateRedis | null }> {
  shared ??= ensureRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', true, quiet).then((r) => {
    if (r.child) {
      // Killed when the test file's process exits; unref'd so it does not keep that process alive.
      r.child.process.unref();
      (r.child.process.stderr as { unref?: () => void } | null)?.unref?.();
      process.once('exit', () => r.child?.process.kill('SIGKILL'));
    }
    return r;
  });
  return shared;
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Disconnects a client after its pending commands have been answered (no "Connection is closed" rejections). */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}

export interface TestAppOptions {
  /** The Redis to use instead of the test process's shared one (e.g. one a test stops and restarts). */
  redisUrl?: string;
  /** A pino logger for the app; default: no logs. */
  logger?: Logger;
  /** More data roots beside the app's own temp root. */
  roots?: string[];
  /**
   * Another app on this configuration (the same Redis keys and directories, e.g. a second
   * replica): its close() then leaves the keys and directories to the app that made them.
   */
  config?: Config;
  /**
   * The default DATA_DIR (./data) and DATA_ROOTS (./datasets) of a fresh clone, relative
   * to the app's temp directory as its working directory: `root` is then `<base>/datasets`.
   */
  defaultPaths?: boolean;
  /** Where the services log (registry recovery, corrupted shards, ...); default: nowhere. */
  serviceLog?: { info(msg: string): void; warn(msg: string): void };
}

export interface TestApp {
  app: App;
  /** What the routes get (services and ports). */
  ctx: AppContext;
  config: Config;
  /** The queue facade (job counts, workers connected; for assertions about the queues). */
  queues: FeatureQueues;
  /** Registry recovery, manifests and feature-cache collection (not started: tests run passes themselves). */
  maintenance: Maintenance;
  redisUrl: string;
  /** The temp directory holding `root` and `dataDir`. */
  base: string;
  /** The app's own data root (relative directory sources resolve here). */
  root: string;
  dataDir: string;
  prefix: string;
  close(): Promise<void>;
}

/** The app with `env` on top of the test defaults (any configuration variable: API_TOKENS, UPLOAD_MAX_BYTES, ...). */
export async function startTestApp(env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const owned = opts.config === undefined;
  let config: Config;
  let base: string;
  if (opts.config) {
    config = opts.config;
    base = path.dirname(config.dataDir);
  } else {
    const url = opts.redisUrl ?? (await testRedisUrl()).url;
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-test-'));
    fs.mkdirSync(path.join(base, opts.defaultPaths ? 'datasets' : 'root'));
    const paths = opts.defaultPaths
      ? {}
      : { DATA_ROOTS: [path.join(base, 'root'), ...(opts.roots ?? [])].join(','), DATA_DIR: path.join(base, 'data') };
    config = loadConfig(
      {
        REDIS_URL: url,
        KEY_PREFIX: `aftest-${process.pid}-${crypto.randomBytes(4).toString('hex')}`,
        ...paths,
        LOG_LEVEL: 'silent',
        ...env,
      },
      opts.defaultPaths ? base : undefined,
    );
  }
  const services = createServices(config, { version: 'test', log: opts.serviceLog ?? quiet });
  let app: App | undefined;
  try {
    app = await buildApp(services.ctx, opts.logger ? { loggerInstance: opts.logger } : { logger: false });
    await app.ready();
    // Connected before a test can close them (closing a queue mid-connect rejects unobserved).
    await services.ready();
  } catch (err) {
    await app?.close();
    await services.close();
    if (owned) fs.rmSync(base, { recursive: true, force: true });
    throw err;
  }
  const started = app;
  return {
    app: started,
    ctx: services.ctx,
    config,
    queues: services.queues,
    maintenance: services.maintenance,
    redisUrl: config.redisUrl,
    base,
    root: path.join(base, opts.defaultPaths ? 'datasets' : 'root'),
    dataDir: config.dataDir,
    prefix: config.keyPrefix,
    async close() {
      await started.close();
      await services.close();
      if (!owned) return;
      const redis = createRedis(config.redisUrl);
      redis.on('error', () => {});
      try {
        await deleteKeys(redis, config.keyPrefix);
      } catch {
        // Redis is gone (a test stopped it): nothing to clean there.
      } finally {
        await closeRedis(redis);
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * The workers of `t`'s queues, in this process (as `npm run worker` would run them). They
 * share the event loop with the test, which may block it for seconds on a loaded machine
 * (a numpy reference through execFileSync, spectrograms computed in the test): with a
 * short lock, a job whose renewal came late would be taken for stalled and run twice.
 * Tests of lock expiry run worker processes with their own JOB_LOCK_MS.
 */
export function startTestWorkers(t: Pick<TestApp, 'redisUrl' | 'prefix'>, over: Partial<WorkerOptions> = {}): RunningWorkers {
  return startWorkers({ redisUrl: t.redisUrl, prefix: t.prefix, concurrency: 2, frontendBackend: 'auto', lockMs: 60_000, log: () => {}, ...over });
}

/**
 * Workers that are connected to `t`'s featurization queues but take no job (a fleet that
 * is busy or paused): the service accepts featurizations, and the jobs wait.
 */
export async function connectIdleWorkers(t: Pick<TestApp, 'redisUrl' | 'prefix'>): Promise<{ close(): Promise<void> }> {
  const connection = connectionFromUrl(t.redisUrl);
  const workers = [FEATURIZE_QUEUE, SHARD_QUEUE].map((name) => new Worker(name, async () => undefined, { connection, prefix: t.prefix, autorun: false }));
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

/** POST /v1/datasets with a JSON body; fails the test (with the problem) unless the answer is 201. */
export async function registerDataset(t: Pick<TestApp, 'app'>, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: body });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Record<string, unknown>;
}

/**
 * POST /v1/datasets/{id}/featurize for `subset` (a repeated request reuses the subset's
 * flow, e.g. the one a stream queued in the background) and waits until its job has
 * finished; fails the test unless it completed. Returns the job's last progress.
 */
export async function featurized(t: Pick<TestApp, 'app'>, dataset: string, subset: string): Promise<Record<string, any>> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/datasets/${dataset}/featurize`, payload: { subset } });
  assert.equal(res.statusCode, 202, res.body);
  const id = res.json().job_id as string;
  const p = await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${id}` })).json() as Record<string, any>, {
    what: `featurization ${id} of ${dataset}/${subset} finished`,
    until: (p) => ['completed', 'failed', 'cancelled'].includes(p.state),
  });
  assert.equal(p.state, 'completed', JSON.stringify(p));
  return p;
}
