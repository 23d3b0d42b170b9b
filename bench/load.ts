/**
 * Load benchmark (loopback only; a benchmark, not a test: it prints, never asserts).
 *
 * 1. Latency of the metadata endpoints (GET /v1/datasets/{id}, /summary, /class-counts)
 *    at 64 concurrent connections with autocannon, next to a fastify hello-world in its
 *    own process in the same run. Target: p99 within 2x of the hello-world's.
 * 2. Peak RSS of the API process while it serves 64 concurrent epoch streams.
 * 3. Memory run (`npm run bench:load -- memory` runs only this): 64 concurrent streams
 *    plus 6 requests for oversize batches and 6 for large ones, against a configured
 *    MAX_BATCH_BYTES / STREAM_MEMORY_BUDGET; prints the answers and the API's peak RSS
 *    next to the budget plus the process's RSS before the run.
 *
 * The API (`node --import tsx routes/server.ts`) and one worker process run as children on a
 * private KEY_PREFIX, DATA_DIR and ports. BENCH_SECONDS sets the duration per case
 * (default 10). Run: `npm run bench:load`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedis, ensureRedis, freePort } from '../store/redis.ts';

interface AutocannonResult {
  latency: { p50: number; p99: number; average: number };
  requests: { average: number };
  non2xx: number;
  errors: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object) => Promise<AutocannonResult>;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 64;
const STREAMS = 64;
const MEMORY_ONLY = process.argv.includes('memory');
/** The memory run's limits (small, so a laptop-sized run reaches them). */
const MEM_MAX_BATCH_BYTES = 4 * 1024 * 1024;
const MEM_BUDGET = 64 * 1024 * 1024;

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(args: string[], env: Record<string, string>, ready: RegExp | null): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    if (ready === null) resolve(child);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready?.test(out)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

function rssKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const redis = await ensureRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', true, { info: () => {}, warn: console.warn });
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-bench-load-'));
  const root = path.join(base, 'root');
  fs.cpSync(path.resolve(ROOT, '..', 'shared', 'testdata', 'corpus-mini'), path.join(root, 'mini'), { recursive: true, filter: (s) => !s.includes('.index') });
  const prefix = `bench-load-${crypto.randomBytes(4).toString('hex')}`;
  const env = {
    REDIS_URL: redis.url,
    REDIS_AUTOSTART: 'false',
    KEY_PREFIX: prefix,
    DATA_DIR: path.join(base, 'data'),
    DATA_ROOTS: root,
    LOG_LEVEL: 'warn',
    IN_PROCESS_WORKERS: '0',
    MAX_BATCH_BYTES: String(MEM_MAX_BATCH_BYTES),
    STREAM_MEMORY_BUDGET: String(MEM_BUDGET),
  };
  try {
    const apiPort = await freePort();
    const helloPort = await freePort();
    const api = await start(['--import', 'tsx', 'routes/server.ts'], { ...env, PORT: String(apiPort) }, null);
    await start(['--import', 'tsx', 'jobs/worker.ts'], { ...env, LOG_LEVEL: 'info', WORKER_HEALTH_PORT: String(await freePort()) }, /worker started/);
    const hello = `import Fastify from 'fastify'; const app = Fastify(); app.get('/', async () => ({ hello: 'world' })); await app.listen({ host: '127.0.0.1', port: ${helloPort} }); console.log('hello listening');`;
    await start(['--input-type=module', '-e', hello], {}, /hello listening/);

    // LOG_LEVEL=warn: the API logs nothing at startup, so wait for it to answer.
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    for (;;) {
      try {
        if ((await fetch(`${apiUrl}/healthz`)).ok) break;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const reg = await fetch(`${apiUrl}/v1/datasets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'mini', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no', '_unknown_', '_silence_'], validation_split: 0.2 }),
    });
    if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${await reg.text()}`);

    if (MEMORY_ONLY) {
      await memoryRun(apiUrl, api.pid!);
      return;
    }
    console.log(`audiofeed load bench: ${CONNECTIONS} connections, ${SECONDS} s per case, Node ${process.version}, ${os.cpus().length} CPUs`);
    const cases: [string, string][] = [
      ['fastify hello-world', `http://127.0.0.1:${helloPort}/`],
      ['GET /v1/datasets/{id}', `${apiUrl}/v1/datasets/mini`],
      ['GET /v1/datasets/{id}/summary', `${apiUrl}/v1/datasets/mini/summary`],
      ['GET /v1/datasets/{id}/class-counts', `${apiUrl}/v1/datasets/mini/class-counts`],
    ];
    const rows: { name: string; r: AutocannonResult }[] = [];
    for (const [name, url] of cases) {
      const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
      rows.push({ name, r });
    }
    const helloP99 = rows[0]!.r.latency.p99;
    console.log('\ncase                                   req/s     p50 ms   p99 ms   p99/hello  non-2xx');
    for (const { name, r } of rows) {
      console.log(
        `${name.padEnd(36)} ${r.requests.average.toFixed(0).padStart(8)} ${r.latency.p50.toFixed(1).padStart(9)} ${r.latency.p99.toFixed(1).padStart(8)} ${(r.latency.p99 / helloP99).toFixed(2).padStart(10)}x ${String(r.non2xx + r.errors).padStart(8)}`,
      );
    }
    const worst = Math.max(...rows.slice(1).map(({ r }) => r.latency.p99 / helloP99));
    console.log(`worst p99 ratio: ${worst.toFixed(2)}x (target <= 2x): ${worst <= 2 ? 'met' : 'NOT met'}`);

    // Epoch streams: featurize once, then 64 concurrent full epochs.
    const streamUrl = `${apiUrl}/v1/datasets/mini/batches?subset=training&format=npy`;
    const warm = await fetch(streamUrl);
    const epochBytes = (await warm.arrayBuffer()).byteLength;
    const rssBefore = rssKb(api.pid!, 'VmRSS');
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(api.pid!, 'VmRSS'))), 20);
    const t0 = performance.now();
    const sizes = await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        const res = await fetch(`${streamUrl}&epoch=${i}`);
        let n = 0;
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) n += chunk.byteLength;
        return n;
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const total = sizes.reduce((a, b) => a + b, 0);
    console.log(`\n${STREAMS} concurrent epoch streams (npy float32, ${(epochBytes / 1e6).toFixed(2)} MB each): ${seconds.toFixed(2)} s, ${(total / 1e6 / seconds).toFixed(0)} MB/s`);
    console.log(`API RSS before ${(rssBefore / 1024).toFixed(0)} MiB, peak during ${(peak / 1024).toFixed(0)} MiB (+${((peak - rssBefore) / 1024).toFixed(0)} MiB, ${((peak - rssBefore) / STREAMS).toFixed(0)} KiB per stream); process high-water mark ${(rssKb(api.pid!, 'VmHWM') / 1024).toFixed(0)} MiB`);
    if (sizes.some((s) => s !== epochBytes)) console.log('warning: some streams differ in length from the warm-up epoch');
    await memoryRun(apiUrl, api.pid!);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    const r = createRedis(redis.url);
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
    r.disconnect();
    await redis.child?.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/** 64 concurrent streams + 6 oversize-batch requests + 6 large-batch requests; peak RSS against the budget. */
async function memoryRun(apiUrl: string, pid: number): Promise<void> {
  // A subset large enough for big batches: _silence_ rows need no file.
  const reg = await fetch(`${apiUrl}/v1/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'big', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no', '_silence_'], silence_class_percentage: 100 }),
  });
  if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${await reg.text()}`);
  const url = `${apiUrl}/v1/datasets/big/batches?subset=training&format=npy`;
  await (await fetch(url)).arrayBuffer(); // featurize once
  const rssBefore = rssKb(pid, 'VmRSS');
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid, 'VmRSS'))), 10);
  const statuses = new Map<string, number>();
  const count = (what: string, status: number) => statuses.set(`${what} ${status}`, (statuses.get(`${what} ${status}`) ?? 0) + 1);
  const drain = async (what: string, u: string) => {
    const res = await fetch(u);
    count(what, res.status);
    for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>) void _;
  };
  const t0 = performance.now();
  await Promise.all([
    ...Array.from({ length: STREAMS }, (_, i) => drain('stream batch_size=32', `${url}&epoch=${i}`)),
    ...Array.from({ length: 6 }, (_, i) => drain('oversize batch_size=65536', `${url}&epoch=${i}&batch_size=65536`)),
    ...Array.from({ length: 6 }, (_, i) => drain('large batch_size=300', `${url}&epoch=${i}&batch_size=300`)),
  ]);
  clearInterval(sampler);
  const mib = (kb: number) => (kb / 1024).toFixed(0);
  console.log(`\nmemory run: MAX_BATCH_BYTES ${MEM_MAX_BATCH_BYTES / 2 ** 20} MiB, STREAM_MEMORY_BUDGET ${MEM_BUDGET / 2 ** 20} MiB, ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  for (const [k, v] of [...statuses].sort()) console.log(`  ${k.padEnd(36)} x${v}`);
  const growth = peak - rssBefore;
  // What the budget does not cover: sockets, the socket buffers of each stream, GC slack.
  console.log(
    `API RSS before ${mib(rssBefore)} MiB, peak ${mib(peak)} MiB (+${mib(growth)} MiB) = budget ${MEM_BUDGET / 2 ** 20} MiB ${growth > MEM_BUDGET / 1024 ? '+' : '-'} ${mib(Math.abs(growth - MEM_BUDGET / 1024))} MiB`,
  );
}

await main();
process.exit(0);
