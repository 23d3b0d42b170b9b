/**
 * Shared machinery of the service benchmarks (bench/featurize.ts, bench/stream.ts):
 * seeded speech-like WAV datasets, a session owning a temp directory, a private Redis
 * key prefix and every child process it spawns (API, workers, file server), and small
 * HTTP and /proc helpers. `session.close()` stops the children, deletes the prefix's
 * Redis keys and removes the directory; it also runs on SIGINT/SIGTERM/SIGHUP, and the
 * children preload exit-with-parent.mjs, so nothing outlives a benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { mulberry32 } from '../../test/helpers/random.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const EXIT_WITH_PARENT = pathToFileURL(path.join(PROJECT_ROOT, 'bench', 'helpers', 'exit-with-parent.mjs')).href;
/** Queue names of jobs/queues.ts (FEATURIZE_QUEUE, SHARD_QUEUE). */
const QUEUE_NAMES = ['featurize', 'featurize-shards'] as const;

// ---------------------------------------------------------------- seeded audio


/**
 * One speech-like clip: a few "syllables" (gliding tone with harmonics under a raised-
 * sine envelope, or an envelope of noise for unvoiced ones) separated by pauses, over
 * a low noise floor. `basePitch` lets classes differ.
 */
export function speechLikeClip(rand: () => number, samples: number, rate: number, basePitch: number): Int16Array {
  const out = new Int16Array(samples);
  const gain = 3000 + rand() * 12000;
  let i = Math.floor(rate * rand() * 0.15); // leading silence: something for the trimmer
  let phase = 0;
  while (i < samples) {
    const len = Math.floor(rate * (0.08 + rand() * 0.18));
    const voiced = rand() < 0.75;
    const f0 = basePitch * (0.8 + rand() * 0.4);
    const glide = (rand() - 0.5) * 0.6;
    for (let k = 0; k < len && i < samples; k++, i++) {
      const env = Math.sin((Math.PI * k) / len);
      let v: number;
      if (voiced) {
        const f = f0 * (1 + (glide * k) / len);
        phase += (2 * Math.PI * f) / rate;
        v = (Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase) + 0.12 * Math.sin(5 * phase)) * 0.55;
      } else {
        v = (rand() * 2 - 1) * 0.35;
      }
      out[i] = Math.round(v * env * gain + (rand() * 2 - 1) * 40);
    }
    const pause = Math.floor(rate * rand() * 0.12);
    for (let k = 0; k < pause && i < samples; k++, i++) out[i] = Math.round((rand() * 2 - 1) * 40);
  }
  return out;
}

/** A canonical 44-byte-header PCM WAV: mono, 16-bit. */
export function wavFile(pcm: Int16Array, rate: number): Buffer {
  const buf = Buffer.alloc(44 + pcm.length * 2);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + pcm.length * 2, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(pcm.length * 2, 40);
  for (let i = 0; i < pcm.length; i++) buf.writeInt16LE(pcm[i]!, 44 + i * 2);
  return buf;
}

export const BENCH_CLASSES = ['alpha', 'bravo', 'charlie', 'delta'];
const CLASS_PITCH = [110, 150, 190, 240];

/** Writes `clips` one-second 16 kHz clips, round-robin over BENCH_CLASSES dirs. Returns bytes written. */
export async function generateDataset(dir: string, clips: number, seed = 20240601): Promise<number> {
  const rate = 16000;
  const rand = mulberry32(seed);
  for (const c of BENCH_CLASSES) await fsp.mkdir(path.join(dir, c), { recursive: true });
  let bytes = 0;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < clips; i++) {
    const cls = i % BENCH_CLASSES.length;
    const speaker = (Math.imul(i + 1, 2654435761) >>> 0).toString(16).padStart(8, '0');
    const wav = wavFile(speechLikeClip(rand, rate, rate, CLASS_PITCH[cls]!), rate);
    bytes += wav.length;
    pending.push(fsp.writeFile(path.join(dir, BENCH_CLASSES[cls]!, `${speaker}_nohash_${i % 5}.wav`), wav));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return bytes;
}

// ---------------------------------------------------------------- /proc

/** user+system CPU seconds a process has used so far (Linux), or NaN. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** user+system CPU seconds of a process's main thread (the one running its JavaScript), or NaN. */
export function mainThreadCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Machine-wide busy CPU seconds so far (all cores, Linux /proc/stat), or NaN. */
export function machineBusySeconds(): number {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - v[3]! - v[4]!) / 100;
  } catch {
    return NaN;
  }
}

/** Current and peak resident set size in MB (Linux /proc/<pid>/status), or NaN. */
export function rssMb(pid: number): { rss: number; peak: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}

/** Resets a process's peak RSS (VmHWM) to its current RSS. False when not permitted. */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- HTTP

export async function requestJson(
  url: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET with a plain http.get consumer that counts and discards the body. */
export async function drain(url: string): Promise<{ status: number; bytes: number; ms: number; headers: http.IncomingHttpHeaders }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - t0, headers: res.headers }));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`${url}: response aborted after ${bytes} bytes`)));
      })
      .on('error', reject);
  });
}

/** Bytes of one .npy array from its header, or null when the header is not complete yet. */
function npyArrayBytes(buf: Buffer, at: number): number | null {
  if (buf.length < at + 10) return null;
  const hlen = buf.readUInt16LE(at + 8);
  if (buf.length < at + 10 + hlen) return null;
  const header = buf.toString('latin1', at + 10, at + 10 + hlen);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').filter((s) => s.trim() !== '').map(Number);
  const item = Number(/'descr': '[<|>]?[a-z](\d+)'/.exec(header)![1]);
  return 10 + hlen + shape.reduce((a, b) => a * b, 1) * item;
}

export interface StreamTimes {
  status: number;
  /** Seconds from t0 to the first byte, to the end of batch 0 (its x and y arrays), to the end (NaN with firstOnly). */
  firstByte: number;
  firstBatch: number;
  end: number;
  bytes: number;
  batches: number;
  /** SHA-256 of the whole body (null with firstOnly). */
  sha256: string | null;
}

/**
 * GETs an npy batch stream (x, y per batch) and times it from `t0`. `firstOnly` closes the
 * connection after the first complete batch.
 */
export function streamNpy(url: string, t0: number, opts: { firstOnly?: boolean } = {}): Promise<StreamTimes> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const firstByte = (performance.now() - t0) / 1000;
        const hash = opts.firstOnly ? null : crypto.createHash('sha256');
        let head = Buffer.alloc(0);
        let firstBatch = NaN;
        let bytes = 0;
        const batches = Number(res.headers['x-audiofeed-batches']);
        if (res.statusCode !== 200) res.on('data', (c: Buffer) => console.error(c.toString().slice(0, 500)));
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash?.update(chunk);
          if (Number.isNaN(firstBatch)) {
            head = Buffer.concat([head, chunk]);
            const x = npyArrayBytes(head, 0);
            const y = x === null ? null : npyArrayBytes(head, x);
            if (x !== null && y !== null && head.length >= x + y) {
              firstBatch = (performance.now() - t0) / 1000;
              if (opts.firstOnly) {
                res.destroy();
                resolve({ status: res.statusCode ?? 0, firstByte, firstBatch, end: NaN, bytes, batches, sha256: null });
              }
            }
          }
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, firstByte, firstBatch, end: (performance.now() - t0) / 1000, bytes, batches, sha256: hash?.digest('hex') ?? null }),
        );
        res.on('error', reject);
        res.on('aborted', () => opts.firstOnly || reject(new Error(`${url}: response aborted after ${bytes} bytes`)));
      })
      .on('error', reject);
  });
}

// ---------------------------------------------------------------- stats and output

export function best(xs: number[], higherIsBetter = true): number {
  return higherIsBetter ? Math.max(...xs) : Math.min(...xs);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a positive integer`);
  return v;
}

export function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

// ---------------------------------------------------------------- child processes

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  /** The last lines it wrote (stdout and stderr), for error messages. */
  readonly tail: string[];
  /** Resolves when it exits. */
  readonly exited: Promise<void>;
  exitCode(): number | null;
  stop(): Promise<void>;
}

class Child implements ServiceProcess {
  readonly tail: string[] = [];
  readonly exited: Promise<void>;
  private code: number | null = null;
  private done = false;
  private readonly waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.code = code ?? (signal ? 128 : 1);
        this.done = true;
        resolve();
      });
    });
    for (const stream of [proc.stdout, proc.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => {
        const lines = (partial + d).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.line(line);
      });
    }
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  private line(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const m = this.waiters[i]!.re.exec(line);
      if (m) this.waiters.splice(i, 1)[0]!.resolve(m);
    }
  }

  exitCode(): number | null {
    return this.done ? this.code : null;
  }

  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    for (const line of this.tail) {
      const m = re.exec(line);
      if (m) return m;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<RegExpExecArray>((resolve) => this.waiters.push({ re, resolve })),
        this.exited.then(() => {
          throw new Error(`${this.name} exited (code ${this.code}) before it was ready:\n${this.tail.join('\n')}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.tail.join('\n')}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    if (this.done) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- session

let activeSessions = new Set<BenchSession>();
let handlersInstalled = false;

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping child processes and removing the benchmark's files and Redis keys…`);
    const sessions = [...activeSessions];
    activeSessions = new Set();
    void Promise.allSettled(sessions.map((s) => s.close())).then(() => process.exit(130));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

export class BenchSession {
  /** Everything on disk lives below base. */
  readonly base: string;
  /** DATA_ROOTS of the service: datasets are generated in here. */
  readonly root: string;
  readonly dataDir: string;
  readonly prefix: string;
  readonly redis: Redis;
  private readonly procs = new Set<Child>();
  private closing: Promise<void> | null = null;

  private constructor(label: string) {
    this.base = fs.mkdtempSync(path.join(os.tmpdir(), `audiofeed-bench-${label}-`));
    this.root = path.join(this.base, 'root');
    this.dataDir = path.join(this.base, 'data');
    fs.mkdirSync(this.root);
    fs.mkdirSync(this.dataDir);
    this.prefix = `afbench-${label}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    this.redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
    this.redis.on('error', () => {});
  }

  static async open(label: string): Promise<BenchSession> {
    installSignalHandlers();
    const s = new BenchSession(label);
    activeSessions.add(s);
    try {
      await s.redis.connect();
      await s.redis.ping();
    } catch (err) {
      await s.close();
      throw new Error(`no Redis answers at ${REDIS_URL} (set REDIS_URL): ${(err as Error).message}`);
    }
    return s;
  }

  get featuresDir(): string {
    return path.join(this.dataDir, 'features');
  }

  /** The service's configuration (src/services/config.ts) for this session, plus overrides. */
  serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_OPTIONS;
    return {
      ...env,
      REDIS_URL,
      REDIS_AUTOSTART: 'false',
      KEY_PREFIX: this.prefix,
      DATA_DIR: this.dataDir,
      DATA_ROOTS: this.root,
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  /** Starts `node --import tsx [nodeArgs] script` in the project root with an IPC channel. */
  spawn(name: string, script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Child {
    if (this.closing) throw new Error('session is closing');
    const proc = spawn(process.execPath, ['--import', 'tsx', '--import', EXIT_WITH_PARENT, ...nodeArgs, script], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const child = new Child(name, proc);
    this.procs.add(child);
    void child.exited.then(() => this.procs.delete(child));
    return child;
  }

  /** The API (`routes/server.ts`) without in-process workers, on a free loopback port. */
  async startApi(extra: Record<string, string> = {}, nodeArgs: string[] = []): Promise<{ url: string; proc: ServiceProcess }> {
    const env = this.serviceEnv({ HOST: '127.0.0.1', PORT: '0', IN_PROCESS_WORKERS: '0', ...extra });
    const proc = this.spawn('api', 'routes/server.ts', env, nodeArgs);
    const m = await proc.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 30_000);
    return { url: m[1]!, proc };
  }

  /**
   * `n` worker processes (`jobs/worker.ts`). Resolves once each has logged that it
   * started and BullMQ lists n workers on both queues, so start-up is not measured.
   */
  async startWorkers(
    n: number,
    extra: Record<string, string>,
    nodeArgs: string[] = [],
  ): Promise<{ procs: ServiceProcess[]; frontend: string }> {
    const procs = Array.from({ length: n }, (_, i) => this.spawn(`worker ${i + 1}`, 'jobs/worker.ts', this.serviceEnv(extra), nodeArgs));
    const started = await Promise.all(procs.map((p) => p.waitFor(/worker started \(frontend (\w+)/, 60_000)));
    await this.waitForBullWorkers(n, procs);
    return { procs, frontend: started[0]![1]! };
  }

  /** Resolves once BullMQ lists at least `n` workers on every featurization queue. */
  async waitForBullWorkers(n: number, procs: ServiceProcess[]): Promise<void> {
    const queues = QUEUE_NAMES.map((q) => new Queue(q, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: this.prefix }));
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const counts = await Promise.all(queues.map((q) => q.getWorkersCount()));
        if (counts.every((c) => c >= n)) break;
        if (Date.now() > deadline) {
          throw new Error(`only ${counts.join('/')} of ${n} workers registered with BullMQ; ${procs[0]?.name ?? 'no process'} said:\n${procs[0]?.tail.join('\n') ?? ''}`);
        }
        const dead = procs.find((p) => p.exitCode() !== null);
        if (dead) throw new Error(`${dead.name} exited:\n${dead.tail.join('\n')}`);
        await sleep(25);
      }
    } finally {
      await Promise.all(queues.map((q) => q.close()));
    }
  }

  /** Removes every BullMQ key of the featurization queues (call with no worker running). */
  async clearQueues(): Promise<void> {
    for (const q of QUEUE_NAMES) await this.deleteKeys(`${this.prefix}:${q}:*`);
  }

  private async deleteKeys(pattern: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }

  /** Idempotent: stops the children, deletes the Redis keys, removes the directory. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      activeSessions.delete(this);
      await Promise.allSettled([...this.procs].map((p) => p.stop()));
      try {
        if (this.redis.status === 'ready') await this.deleteKeys(`${this.prefix}:*`);
      } finally {
        this.redis.disconnect();
        fs.rmSync(this.base, { recursive: true, force: true });
      }
    })();
    return this.closing;
  }
}

/** Registers the generated dataset through the API: all clips in training (validation_split 0). */
export async function registerDataset(apiUrl: string, name: string, dir: string): Promise<{ training: number }> {
  const res = await requestJson(`${apiUrl}/v1/datasets`, 'POST', {
    name,
    source: { type: 'directory', path: dir },
    classes: BENCH_CLASSES,
    validation_split: 0,
    batch_size: 32,
  });
  if (res.status !== 201) throw new Error(`registration failed (${res.status}): ${JSON.stringify(res.json)}`);
  const info = await requestJson(`${apiUrl}/v1/datasets/${name}/samples?subset=training&limit=1`);
  if (info.status !== 200) throw new Error(`samples request failed (${info.status}): ${JSON.stringify(info.json)}`);
  return { training: Number(info.json.total) };
}

export interface FeaturizeOutcome {
  jobId: string;
  /** Enqueue (flow created) to parent job finished, from the job's own timestamps. */
  seconds: number;
  /** POST sent to completion observed by polling (an upper bound on `seconds`). */
  observedSeconds: number;
  clips: number;
  shards: number;
  failures: number;
}

/** POST /featurize, then polls GET /v1/jobs/{id} until the parent job is done. */
export async function featurize(apiUrl: string, dataset: string, pollMs = 100): Promise<FeaturizeOutcome> {
  const t0 = performance.now();
  const res = await requestJson(`${apiUrl}/v1/datasets/${dataset}/featurize`, 'POST', { subset: 'training' });
  if (res.status !== 202) throw new Error(`featurize request failed (${res.status}): ${JSON.stringify(res.json)}`);
  const jobId = res.json.job_id as string;
  for (;;) {
    await sleep(pollMs);
    const p = await requestJson(`${apiUrl}/v1/jobs/${jobId}`);
    if (p.status !== 200) throw new Error(`job progress failed (${p.status}): ${JSON.stringify(p.json)}`);
    const j = p.json;
    if (j.state === 'failed' || j.state === 'cancelled') throw new Error(`featurization ${j.state}: ${j.failed_reason}`);
    if (j.state === 'completed') {
      return {
        jobId,
        seconds: (Date.parse(j.finished_at) - Date.parse(j.created_at)) / 1000,
        observedSeconds: (performance.now() - t0) / 1000,
        clips: j.clips_total,
        shards: j.shards_total,
        failures: j.failures.length,
      };
    }
  }
}
