/**
 * Helpers of the operations and security tests: an app on a given Redis with a given
 * logger, service processes (`node --import tsx src/main.ts` / `src/worker-main.ts`) with
 * a private KEY_PREFIX, DATA_DIR and PORT, and a redis-server with persistence that a
 * test can stop and restart on the same port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config.ts';
import { selectFrontendBackend } from '../../src/frontend/backend.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { RegistryService } from '../../src/registry/service.ts';
import { FeatureQueues, connectionFromUrl, type ShardJobData } from '../../src/queue/queues.ts';
import { resolveFrontendSettings } from '../../src/frontend/settings.ts';
import { DEFAULT_TRIM_THRESHOLD_DB } from '../../src/features/plan.ts';
import { createRedis, freePort, pingRedis, which } from '../../src/store/redis.ts';
import { RegistryStore } from '../../src/store/registry-store.ts';
import { deleteKeys, testRedisUrl } from '../helpers/app.ts';
import { PROJECT_ROOT, testdata } from '../helpers/paths.ts';

const quiet = { info() {}, warn() {} };

export interface OpsApp {
  app: App;
  config: Config;
  redis: Redis;
  queues: FeatureQueues;
  redisUrl: string;
  base: string;
  root: string;
  dataDir: string;
  prefix: string;
  close(): Promise<void>;
}

/** Like test/helpers/app.ts startTestApp, with a chosen Redis and logger. */
export async function startOpsApp(
  env: Record<string, string> = {},
  opts: { redisUrl?: string; logger?: Logger } = {},
): Promise<OpsApp> {
  const url = opts.redisUrl ?? (await testRedisUrl()).url;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-ops-'));
  const root = path.join(base, 'root');
  const dataDir = path.join(base, 'data');
  fs.mkdirSync(root);
  const prefix = `afops-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const config = loadConfig({ REDIS_URL: url, KEY_PREFIX: prefix, DATA_ROOTS: root, DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
  const redis = createRedis(url);
  redis.on('error', () => {});
  const registry = new RegistryService(config, new RegistryStore(redis, prefix), quiet);
  const frontend = selectFrontendBackend(config.frontendBackend, () => {});
  const queues = new FeatureQueues(connectionFromUrl(url), prefix);
  const app = await buildApp(
    { config, redis, registry, frontend, queues, featuresDir: path.join(dataDir, 'features'), version: 'test' },
    opts.logger ? { loggerInstance: opts.logger } : { logger: false },
  );
  await app.ready();
  // Connected before a test can close them (closing a queue mid-connect rejects unobserved).
  await Promise.all(
    Object.values(queues)
      .filter((q): q is Queue => q instanceof Queue)
      .map((q) => q.waitUntilReady()),
  );
  return {
    app,
    config,
    redis,
    queues,
    redisUrl: url,
    base,
    root,
    dataDir,
    prefix,
    async close() {
      await app.close();
      await queues.close();
      await deleteKeys(redis, prefix).catch(() => undefined);
      redis.disconnect();
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/** corpus-mini (91 clips, 10 classes) copied into `dir`, without its index. */
export function copyCorpus(dir: string): void {
  fs.cpSync(testdata('corpus-mini'), dir, { recursive: true, filter: (s) => !s.includes('.index') });
}

export const MINI_CLASSES = ['yes', 'no', '_unknown_', '_silence_'];

export interface ServiceProcess {
  proc: ChildProcess;
  port: number;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when a line of output matches. */
  waitFor(re: RegExp): Promise<string>;
  /** SIGKILL unless it has exited; resolves once it has (for a test's cleanup). */
  stop(): Promise<void>;
}

/** Spawns `node --import tsx src/<script>` with `env` on top of a clean environment. */
export async function spawnService(script: 'main.ts' | 'worker-main.ts', env: Record<string, string>): Promise<ServiceProcess> {
  const port = Number(env.PORT ?? (await freePort()));
  const healthPort = Number(env.WORKER_HEALTH_PORT ?? (await freePort()));
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join('src', script)], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LOG_LEVEL: 'info',
      REDIS_AUTOSTART: 'false',
      ...env,
      PORT: String(port),
      WORKER_HEALTH_PORT: String(healthPort),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  process.once('exit', () => proc.kill('SIGKILL'));
  return {
    proc,
    port,
    output: () => out,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    waitFor(re) {
      const line = out.split('\n').find((l) => re.test(l));
      if (line !== undefined) return Promise.resolve(line);
      return new Promise<string>((resolve, reject) => {
        waiters.push({ re, resolve });
        void exited.then(({ code, signal }) => reject(new Error(`process exited (${code ?? signal}) before ${re}: ${out.slice(-2000)}`)));
      });
    },
  };
}

export interface RedisProcess {
  url: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  /** SIGTERM and wait for exit (Redis writes its append-only file first). */
  stop(): Promise<void>;
}

/** redis-server on loopback with an append-only file in `dir` (as in docker-compose.yml). */
export async function startRedis(dir: string, port?: number): Promise<RedisProcess> {
  const binary = which('redis-server');
  if (!binary) throw new Error('redis-server is not on PATH');
  const p = port ?? (await freePort());
  fs.mkdirSync(dir, { recursive: true });
  const proc = spawn(binary, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  process.once('exit', () => proc.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${p}`;
  for (let i = 0; i < 100 && proc.exitCode === null; i++) {
    if (await pingRedis(url, 300)) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      return {
        url,
        port: p,
        dir,
        proc,
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${p}`);
}

/**
 * Polls `check` until it returns a value. Gives up with an error after `timeoutMs` (a hang
 * guard: a loop that outlived its test would keep the test file's process alive).
 */
export async function until<T>(check: () => Promise<T | undefined | null | false>, everyMs = 50, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`until: no result within ${timeoutMs} ms from ${check.toString().slice(0, 160)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A shard job over `entries` of the dataset at `datasetDir` (inside `root`), written to
 * `file`: the job the featurize flow would create, added directly so a test controls it.
 */
export function shardJob(datasetDir: string, root: string, entries: string[], file: string): ShardJobData {
  return {
    datasetDir: fs.realpathSync(datasetDir),
    root: fs.realpathSync(root),
    entries,
    spec: { frontendEnabled: true, frontendSettings: resolveFrontendSettings({}), trimThresholdDb: DEFAULT_TRIM_THRESHOLD_DB },
    file,
    shardIndex: 0,
    requestId: 'test-request',
  };
}

/** Entries (relative paths) of the first `n` clips of a corpus copy, in a stable order. */
export function clipEntries(datasetDir: string, n: number): string[] {
  const out: string[] = [];
  for (const cls of fs.readdirSync(datasetDir).sort()) {
    if (cls.startsWith('_') || !fs.statSync(path.join(datasetDir, cls)).isDirectory()) continue;
    for (const f of fs.readdirSync(path.join(datasetDir, cls)).sort()) if (f.endsWith('.wav')) out.push(`${cls}/${f}`);
  }
  return out.slice(0, n);
}

/** A named pipe: a clip whose read blocks until the test opens the other end (a job held mid-way). */
export function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

/**
 * Lets a worker blocked on the pipe go on: resolves once a reader has it open. Polls with a
 * non-blocking open, so no thread of libuv's pool ever waits on the pipe (a thread stuck in
 * open() keeps even process.exit() from finishing); fails after `timeoutMs`.
 */
export async function releaseFifo(file: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err; // ENXIO: no reader yet
    }
    if (Date.now() > deadline) throw new Error(`no process opened ${file} for reading within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * For a test's cleanup: wakes whoever is blocked opening the pipe, reader or writer (on Linux
 * an O_RDWR open of a FIFO never blocks and counts as both), then removes it, so a job held
 * on it ends and a later open fails instead of waiting.
 */
export function unblockFifo(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK));
  } catch {
    // Already removed.
  }
  fs.rmSync(file, { force: true });
}
