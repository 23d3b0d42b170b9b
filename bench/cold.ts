/**
 * The first batches of a cold epoch (issue #12): time to the first byte and to the first
 * complete batch of a never-featurized generated tree (distinct content per clip, 35
 * class directories like Speech Commands), default shuffle, through the real service
 * (`routes/server.ts` as `npm start` runs it: in-process workers at their defaults, a
 * private KEY_PREFIX, PORT and DATA_DIR); then the rest of that first epoch, so the
 * 105k-clip run is the whole first epoch (register + featurize + stream). Trees live in a
 * temp directory under /tmp and are removed afterwards. Prints, never asserts.
 *
 *   npx tsx bench/cold.ts [--sizes 10000,105000] [--batch-size 32] [--first-only] [--cpu-prof DIR]
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { spawn } from 'node:child_process';
import { BenchSession, PROJECT_ROOT, REDIS_URL, intArg, requestJson, speechLikeClip, streamNpy, stringArg, wavFile } from './helpers/harness.ts';
import { mulberry32 } from '../test/helpers/random.ts';

const SIZES = stringArg('--sizes', '10000,105000').split(',').map(Number);
const BATCH = intArg('--batch-size', 32);
/** Stop each stream after its first batch (no whole-epoch figure). */
const FIRST_ONLY = process.argv.includes('--first-only');
/** CPU profiles of the API process and its worker threads, written to DIR when they exit. */
const CPU_PROF = process.argv.includes('--cpu-prof') ? path.resolve(stringArg('--cpu-prof', 'cpu-prof')) : null;
const CLASSES = [
  'backward', 'bed', 'bird', 'cat', 'dog', 'down', 'eight', 'five', 'follow', 'forward', 'four', 'go', 'happy', 'house',
  'learn', 'left', 'marvin', 'nine', 'no', 'off', 'on', 'one', 'right', 'seven', 'sheila', 'six', 'stop', 'three',
  'tree', 'two', 'up', 'visual', 'wow', 'yes', 'zero',
];

/** One base clip, a per-file perturbation of a few samples: every file has its own content. */
async function generateTree(dir: string, clips: number): Promise<number> {
  const t0 = performance.now();
  for (const c of CLASSES) await fsp.mkdir(path.join(dir, c), { recursive: true });
  const base = wavFile(speechLikeClip(mulberry32(7), 16000, 16000, 150), 16000);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < clips; i++) {
    const wav = Buffer.from(base);
    for (let k = 0; k < 8; k++) wav.writeInt16LE(((i >> (2 * k)) & 0x3ff) - 512, 44 + 2 * (997 * k + (i % 1000)));
    const speaker = (Math.imul(i + 1, 2654435761) >>> 0).toString(16).padStart(8, '0');
    pending.push(fsp.writeFile(path.join(dir, CLASSES[i % CLASSES.length]!, `${speaker}_nohash_${i % 5}.wav`), wav));
    if (pending.length >= 256) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return (performance.now() - t0) / 1000;
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  console.log(`cold-epoch benchmark: node ${process.version}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
  console.log(`service: routes/server.ts with in-process workers (IN_PROCESS_WORKERS, WORKER_CONCURRENCY at their defaults), npy stream, batch_size ${BATCH}, default shuffle`);
  console.log('');
  for (const clips of SIZES) {
    const session = await BenchSession.open(`cold${clips}`);
    let stopApi = () => {};
    try {
      const gen = await generateTree(path.join(session.root, 'tree'), clips);
      const env = session.serviceEnv({ HOST: '127.0.0.1', PORT: '0' });
      delete env.IN_PROCESS_WORKERS;
      delete env.WORKER_CONCURRENCY;
      // Not session.spawn: its --import of bench/helpers/exit-with-parent.ts is inherited by the
      // in-process worker threads, which cannot load a .ts preload; the API is killed in `finally`.
      const profArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
      const api = spawn(process.execPath, [...profArgs, '--import', 'tsx', 'routes/server.ts'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      stopApi = () => api.kill('SIGTERM');
      const tail: string[] = [];
      api.stderr.on('data', (c: Buffer) => tail.push(c.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        api.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.length > 1e6) out = out.slice(-1e5);
          const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        api.on('exit', (code) => reject(new Error(`API exited (${code}): ${tail.join('').slice(-2000)}`)));
      });
      // Until the in-process workers are connected (start-up is not measured).
      const shards = new Queue('featurize-shards', { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: session.prefix });
      try {
        for (let i = 0; i < 600 && (await shards.getWorkersCount()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
      } finally {
        await shards.close();
      }
      const loadBefore = load();
      const t0 = performance.now();
      const reg = await requestJson(`${url}/v1/datasets`, 'POST', {
        name: 'cold',
        source: { type: 'directory', path: 'tree' },
        classes: CLASSES,
        validation_split: 0,
        batch_size: BATCH,
      });
      if (reg.status !== 201) throw new Error(`registration failed (${reg.status}): ${JSON.stringify(reg.json)}`);
      const registered = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const s = await streamNpy(`${url}/v1/datasets/cold/batches?format=npy`, t1, { firstOnly: FIRST_ONLY });
      if (s.status !== 200) throw new Error(`stream: HTTP ${s.status}`);
      const total = (performance.now() - t0) / 1000;
      console.log(
        `${clips} clips (generated in ${gen.toFixed(1)} s): register ${registered.toFixed(2)} s; cold stream: first byte ${s.firstByte.toFixed(3)} s, ` +
          `first complete batch ${s.firstBatch.toFixed(3)} s, whole epoch (${s.batches} batches, ${(s.bytes / 1e6).toFixed(0)} MB) ${s.end.toFixed(1)} s; ` +
          `first epoch incl. registration ${total.toFixed(1)} s; load average before ${loadBefore}, after ${load()}`,
      );
    } finally {
      stopApi();
      if (CPU_PROF) console.log(`API CPU profiles written to ${CPU_PROF}`);
      await new Promise((r) => setTimeout(r, 500));
      await session.close();
    }
  }
}

await main();
