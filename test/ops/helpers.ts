/**
 * Helpers of the operations and security tests: service processes (`node --import tsx
 * routes/server.ts` / `jobs/worker.ts`) with a private KEY_PREFIX, DATA_DIR and PORT, a
 * redis-server with persistence that a test can stop and restart on the same port, and
 * shard jobs a test adds by hand. The app itself comes from the one factory,
 * test/helpers/app.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ShardJobData } from '../../jobs/payloads.ts';
import { DEFAULT_TRIM_THRESHOLD_DB } from '../../src/core/audio/index.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { freePort, pingRedis, which } from '../../store/redis.ts';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { wavBytes } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';

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

/**
 * Spawns `node --import tsx <script>` with `env` on top of a clean environment; with
 * `packageScript`, the package.json script that starts it instead (`npm start` /
 * `npm run worker` without npm: sh runs the script's line, which execs node, so the pid
 * is the service's).
 */
export async function spawnService(
  script: 'routes/server.ts' | 'jobs/worker.ts',
  env: Record<string, string>,
  opts: { packageScript?: boolean } = {},
): Promise<ServiceProcess> {
  const port = Number(env.PORT ?? (await freePort()));
  const healthPort = Number(env.WORKER_HEALTH_PORT ?? (await freePort()));
  const scripts = (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const [command, args] = opts.packageScript
    ? ['sh', ['-c', scripts[script === 'jobs/worker.ts' ? 'worker' : 'start']!]]
    : [process.execPath, ['--import', 'tsx', script]];
  const proc = spawn(command, args, {
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
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited (${proc.exitCode ?? proc.signalCode}): ${stderr}`);
        return pingRedis(url, 1000);
      },
      { what: `redis-server answering on port ${p}` },
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
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

/**
 * A valid clip that keeps a worker's shard job active for a while: `samples` at 1001 Hz
 * (just above the resampling floor), resampled to 16 kHz (16 × the samples). The default
 * costs one core about two seconds, by far longer than the few milliseconds between a job's
 * "active" log line and the signal a test sends on it. (A FIFO no longer holds a job: clips
 * are opened without blocking and a FIFO is skipped as not-a-regular-file.)
 */
export function writeHeavyClip(file: string, samples = 1_500_000): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, heavyClip(samples));
}

/** The bytes of such a clip: `samples` of a tone at 1001 Hz. */
export function heavyClip(samples: number): Buffer {
  const s = new Int16Array(samples);
  for (let i = 0; i < samples; i++) s[i] = Math.round(8000 * Math.sin(i * 0.3));
  return wavBytes(s, 1001);
}
