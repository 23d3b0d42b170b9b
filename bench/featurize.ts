/**
 * Featurization throughput of the service as deployed, whole machine (WAV read ->
 * shard written). Generates a seeded tree of distinct one-second 16 kHz speech-like
 * clips (a temp dir, a private KEY_PREFIX, DATA_DIR and a free PORT, all removed
 * afterwards), registers it (validation_split 0: every clip in training), then
 * featurizes the whole subset from an empty feature cache in these configurations:
 *
 *   start         one `npm start` with every default: the API and its in-process worker
 *                 thread (IN_PROCESS_WORKERS=1, WORKER_CONCURRENCY=3, FRONTEND_THREADS=1)
 *   start+worker  the same plus one `npm run worker` process with its defaults
 *   job-per-core  one job per core: `npm start` with IN_PROCESS_WORKERS=0 plus one worker
 *                 process per core with WORKER_CONCURRENCY=1 (FRONTEND_THREADS=1)
 *   loop          not the service: one node process that reads each shard's 64 files
 *                 (readFileSync), runs featurizeWavs on 2 pool threads while it reads the
 *                 next shard, and writes each shard's rows to a file: no Redis, HTTP,
 *                 BullMQ or shard headers. The closest thing to a plain C loop here.
 *
 * A service run is timed from the flow's creation to the parent job finishing (the
 * job's own timestamps). Each fresh set of processes first featurizes a small separate
 * warm-up dataset, so JIT warm-up is not counted. Rounds interleave the configurations
 * and the medians are reported. Every row prints the load average before and after it
 * and how many cores other processes kept busy during it (the machine is shared).
 * The C reference of issue #12 (2 processes, 2,087 clips/s) is a quoted figure from
 * another machine state, not a measurement of this run. Prints, never asserts.
 *
 *   npx tsx bench/featurize.ts [--clips N] [--rounds R] [--backend auto|native|typescript]
 *                              [--only start,start+worker,job-per-core,loop] [--cpu-prof DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectFrontendBackend, type FrontendBackendPreference } from '../src/core/frontend/backend.ts';
import { frontendSizes, resolveFrontendSettings } from '../src/core/frontend/settings.ts';
import {
  BenchSession,
  cpuSeconds,
  featurize,
  generateDataset,
  intArg,
  machineBusySeconds,
  mainThreadCpuSeconds,
  median,
  registerDataset,
  stringArg,
  type ServiceProcess,
} from './helpers/harness.ts';

const CLIPS = intArg('--clips', 3000);
const ROUNDS = intArg('--rounds', 3);
const BACKEND = stringArg('--backend', 'auto') as FrontendBackendPreference;
const CPU_PROF = process.argv.includes('--cpu-prof') ? path.resolve(stringArg('--cpu-prof', 'cpu-prof')) : null;
const CORES = os.availableParallelism();
const WARMUP_CLIPS = 256;
/** Job progress polls: the timing comes from the job's own timestamps, so polling only adds API load. */
const POLL_MS = 250;
/** Issue #12: a C loop (reference microfrontend, -O2) in 2 processes on this 2-core machine. */
const QUOTED_C_CLIPS_PER_S = 2087;

type ConfigName = 'start' | 'start+worker' | 'job-per-core' | 'loop';
const ALL: ConfigName[] = ['start', 'start+worker', 'job-per-core', 'loop'];
const ONLY = stringArg('--only', ALL.join(',')).split(',') as ConfigName[];
const CONFIGS = ALL.filter((c) => ONLY.includes(c));

const LABEL: Record<ConfigName, string> = {
  start: '(1) npm start, defaults (API + 1 worker thread, concurrency 3, 1 frontend thread/shard)',
  'start+worker': '(2) npm start + 1 npm run worker, defaults',
  'job-per-core': `(3) one job per core: API only + ${CORES} worker processes, WORKER_CONCURRENCY=1`,
  loop: '(4) loop in one node process: readFileSync + featurizeWavs(64 clips, 2 threads), rows to a file; not the service',
};

/** Service settings a deployment would not set: the benchmark strips them so the defaults apply. */
const TUNING = ['IN_PROCESS_WORKERS', 'WORKER_CONCURRENCY', 'FRONTEND_THREADS', 'UV_THREADPOOL_SIZE'];

interface Run {
  config: ConfigName;
  seconds: number;
  clipsPerSecond: number;
  cpu: number;
  /** CPU of the processes' main threads: the API's event loop, a worker process's JavaScript. */
  mainCpu: number;
  otherCores: number;
  loadBefore: number;
  loadAfter: number;
}

const load1 = () => os.loadavg()[0]!;

function env(session: BenchSession, extra: Record<string, string>): NodeJS.ProcessEnv {
  const e = session.serviceEnv({ HOST: '127.0.0.1', PORT: '0', FRONTEND_BACKEND: BACKEND, ...extra });
  for (const k of TUNING) if (!(k in extra)) delete e[k];
  return e;
}

async function startService(session: BenchSession, config: ConfigName): Promise<{ url: string; procs: ServiceProcess[] }> {
  const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
  const apiExtra: Record<string, string> = config === 'job-per-core' ? { IN_PROCESS_WORKERS: '0' } : {};
  const api = session.spawn('api', 'routes/server.ts', env(session, apiExtra), nodeArgs);
  const procs: ServiceProcess[] = [api];
  const m = await api.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  const workers = config === 'start' ? 0 : config === 'start+worker' ? 1 : CORES;
  const workerExtra: Record<string, string> = config === 'job-per-core' ? { WORKER_CONCURRENCY: '1', WORKER_HEALTH_PORT: '0' } : { WORKER_HEALTH_PORT: '0' };
  for (let i = 0; i < workers; i++) procs.push(session.spawn(`worker ${i + 1}`, 'jobs/worker.ts', env(session, workerExtra), nodeArgs));
  await session.waitForBullWorkers(config === 'job-per-core' ? CORES : workers + 1, procs);
  return { url: m[1]!, procs };
}

async function measureService(session: BenchSession, config: ConfigName): Promise<Run> {
  fs.rmSync(session.featuresDir, { recursive: true, force: true });
  await session.clearQueues();
  const { url, procs } = await startService(session, config);
  try {
    // Registrations live in Redis, so every fresh API sees them; the first run registers.
    await ensureRegistered(url);
    await featurize(url, 'warmup', POLL_MS);
    const loadBefore = load1();
    const cpu0 = procs.map((p) => cpuSeconds(p.pid));
    const main0 = procs.map((p) => mainThreadCpuSeconds(p.pid));
    const busy0 = machineBusySeconds();
    const out = await featurize(url, 'bench', POLL_MS);
    const busy = machineBusySeconds() - busy0;
    const cpu = procs.reduce((a, p, i) => a + cpuSeconds(p.pid) - cpu0[i]!, 0);
    const mainCpu = procs.reduce((a, p, i) => a + mainThreadCpuSeconds(p.pid) - main0[i]!, 0);
    if (out.clips !== CLIPS || out.failures !== 0) throw new Error(`featurized ${out.clips} clips with ${out.failures} failures; expected ${CLIPS} and none`);
    return {
      config,
      seconds: out.seconds,
      clipsPerSecond: out.clips / out.seconds,
      cpu,
      mainCpu,
      otherCores: Math.max(0, busy - cpu) / out.observedSeconds,
      loadBefore,
      loadAfter: load1(),
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

let registered = false;
let clipsDir = '';
let warmupDir = '';
async function ensureRegistered(url: string): Promise<void> {
  if (registered) return;
  const reg = await registerDataset(url, 'bench', clipsDir);
  if (reg.training !== CLIPS) throw new Error(`training subset has ${reg.training} clips, expected ${CLIPS}`);
  await registerDataset(url, 'warmup', warmupDir);
  registered = true;
}

function listWavs(dir: string): string[] {
  const out: string[] = [];
  for (const c of fs.readdirSync(dir).sort()) for (const f of fs.readdirSync(path.join(dir, c)).sort()) out.push(path.join(dir, c, f));
  return out;
}

/** The plain loop (4): same clips, same rows, none of the service around it. */
async function measureLoop(session: BenchSession, files: string[]): Promise<Run> {
  const backend = selectFrontendBackend(BACKEND, () => {});
  const settings = resolveFrontendSettings({});
  const { height, width } = frontendSizes(settings);
  const row = height * width;
  const outFile = path.join(session.base, 'loop-rows.bin');
  const bufs = [new Uint16Array(64 * row), new Uint16Array(64 * row)];
  const shard = async (k: number, wavs: Uint8Array[]) => {
    const out = bufs[k % 2]!.subarray(0, wavs.length * row);
    const r = await backend.featurizeWavs(settings, 20, wavs, out, { threads: 2 });
    if (r.failures.length > 0) throw new Error(`loop: ${r.failures.length} failures`);
    fs.writeFileSync(outFile, out);
  };
  const pass = async () => {
    let pending: Promise<void> | null = null;
    for (let k = 0, at = 0; at < files.length; k++, at += 64) {
      const wavs = files.slice(at, at + 64).map((f) => fs.readFileSync(f));
      if (pending) await pending;
      pending = shard(k, wavs);
    }
    if (pending) await pending;
  };
  await pass(); // warm-up
  const loadBefore = load1();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuSeconds(process.pid);
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  await pass();
  const seconds = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(cpu0);
  const cpu = (u.user + u.system) / 1e6;
  return {
    config: 'loop',
    seconds,
    clipsPerSecond: files.length / seconds,
    cpu,
    mainCpu: mainThreadCpuSeconds(process.pid) - main0,
    otherCores: Math.max(0, machineBusySeconds() - busy0 - cpu) / seconds,
    loadBefore,
    loadAfter: load1(),
  };
}

async function main(): Promise<void> {
  const session = await BenchSession.open('featurize');
  try {
    const g0 = performance.now();
    clipsDir = path.join(session.root, 'clips');
    warmupDir = path.join(session.root, 'warmup');
    const bytes = await generateDataset(clipsDir, CLIPS);
    await generateDataset(warmupDir, WARMUP_CLIPS, 7);
    const files = listWavs(clipsDir);
    console.log(
      `featurize benchmark: ${CLIPS} distinct generated one-second 16 kHz clips (${(bytes / 1e6).toFixed(0)} MB of WAV, ` +
        `${((performance.now() - g0) / 1000).toFixed(1)} s to generate), MLTK default frontend, shards of 64, FRONTEND_BACKEND=${BACKEND}`,
    );
    console.log(`node ${process.version}, ${CORES} cores; ${ROUNDS} interleaved rounds; "others" = cores other processes kept busy during the run`);
    console.log('');
    console.log('"main" = CPU s of the processes\' main threads (the API\'s event loop; a worker process\'s JavaScript: reads, BullMQ, logs);');
    console.log('the rest of "CPU s" is thread-pool threads (the native pipeline), npm start\'s worker thread and V8\'s helpers');
    console.log('round  config          wall s   clips/s   CPU s   main   cores   others   load before -> after');
    const runs: Run[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of CONFIGS) {
        const run = c === 'loop' ? await measureLoop(session, files) : await measureService(session, c);
        runs.push(run);
        console.log(
          `${String(r + 1).padStart(5)}  ${c.padEnd(13)} ${run.seconds.toFixed(3).padStart(7)}  ${run.clipsPerSecond.toFixed(0).padStart(8)}  ` +
            `${run.cpu.toFixed(2).padStart(6)}  ${run.mainCpu.toFixed(2).padStart(5)}  ${(run.cpu / run.seconds).toFixed(2).padStart(6)}  ${run.otherCores.toFixed(2).padStart(7)}   ` +
            `${run.loadBefore.toFixed(2)} -> ${run.loadAfter.toFixed(2)}`,
        );
      }
    }
    const rate = (c: ConfigName) => median(runs.filter((r) => r.config === c).map((r) => r.clipsPerSecond));
    const cpuPerClip = (c: ConfigName) => median(runs.filter((r) => r.config === c).map((r) => (r.cpu / CLIPS) * 1000));
    console.log('');
    console.log('medians:');
    for (const c of CONFIGS) console.log(`  ${LABEL[c]}: ${rate(c).toFixed(0)} clips/s, ${cpuPerClip(c).toFixed(2)} CPU ms per clip`);
    console.log('');
    if (CONFIGS.includes('start') && CONFIGS.includes('start+worker')) {
      console.log(`(2) / (1), adding one worker process to npm start: x${(rate('start+worker') / rate('start')).toFixed(2)}`);
    }
    for (const c of CONFIGS.filter((x) => x !== 'loop')) {
      const parts = [`x${(rate(c) / QUOTED_C_CLIPS_PER_S).toFixed(2)} of the quoted C figure (${QUOTED_C_CLIPS_PER_S} clips/s, 2 processes, issue #12; not measured here)`];
      if (CONFIGS.includes('loop')) parts.unshift(`x${(rate(c) / rate('loop')).toFixed(2)} of the loop (4)`);
      console.log(`${c}: ${parts.join('; ')}`);
    }
    console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (CPU_PROF) console.log(`CPU profiles of the service processes written to ${CPU_PROF}`);
  } finally {
    await session.close();
  }
}

await main();
