/**
 * Featurization scaling over worker processes. Generates a seeded dataset of one-second
 * 16 kHz speech-like clips (a temp dir, a private KEY_PREFIX and DATA_DIR, all removed
 * afterwards), registers it through the API (validation_split 0: every clip is in the
 * training subset), then for 1 and for 2 worker processes (`node --import tsx
 * jobs/worker.ts`, WORKER_CONCURRENCY=1) featurizes the whole subset from an empty
 * feature cache: the workers are started and registered with BullMQ first, then
 * POST /v1/datasets/{id}/featurize enqueues the flow, and the time from the flow's
 * creation to the parent job finishing (the job's own timestamps, GET /v1/jobs/{id})
 * is the measurement. Before it, each fresh set of workers featurizes a small separate
 * warm-up dataset (2 shards per worker), so JIT warm-up of the first shard is not counted
 * (--no-warmup counts it). Runs alternate 1, 2, 1, 2, … so background load hits both
 * alike; best and median are reported, and each run shows how many cores other processes
 * kept busy meanwhile (the machine is shared), plus the ratio over the quiet runs alone. Target: 2 workers ≥ 1.8 × 1 worker on 2
 * cores. No asserts.
 *
 * The native addon computes a shard's spectrograms on the libuv thread pool, so the
 * workers get UV_THREADPOOL_SIZE=1 by default: one worker process then uses about one
 * core, which is what the scaling question is about (--pool changes it).
 *
 *   npx tsx bench/featurize.ts [--clips N] [--runs R] [--backend native|typescript|auto]
 *                              [--pool N] [--no-warmup] [--cpu-prof DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BenchSession,
  best,
  cpuSeconds,
  featurize,
  generateDataset,
  intArg,
  machineBusySeconds,
  median,
  registerDataset,
  stringArg,
  type ServiceProcess,
} from './helpers/harness.ts';

const CLIPS = intArg('--clips', 2000);
const RUNS = intArg('--runs', 5);
/** A run counts as quiet when other processes kept fewer cores than this busy. */
const QUIET_CORES = 0.25;
const BACKEND = stringArg('--backend', 'native');
const POOL = intArg('--pool', 1);
const CPU_PROF = process.argv.includes('--cpu-prof') ? path.resolve(stringArg('--cpu-prof', 'cpu-prof')) : null;
const WARMUP = !process.argv.includes('--no-warmup');
const WARMUP_CLIPS_PER_WORKER = 128;
const TARGET = 1.8;
const WORKER_COUNTS = [1, 2];

interface Run {
  workers: number;
  seconds: number;
  clipsPerSecond: number;
  workerCpu: number;
  /** Cores kept busy by everything else on the machine during the run. */
  otherCores: number;
}

async function measure(session: BenchSession, apiUrl: string, workers: number): Promise<Run & { frontend: string }> {
  fs.rmSync(session.featuresDir, { recursive: true, force: true });
  await session.clearQueues();
  const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
  const started = await session.startWorkers(
    workers,
    { WORKER_CONCURRENCY: '1', FRONTEND_BACKEND: BACKEND, UV_THREADPOOL_SIZE: String(POOL) },
    nodeArgs,
  );
  const procs: ServiceProcess[] = started.procs;
  try {
    if (WARMUP) await featurize(apiUrl, `warmup${workers}`);
    const cpu0 = procs.map((p) => cpuSeconds(p.pid));
    const busy0 = machineBusySeconds();
    const out = await featurize(apiUrl, 'bench');
    const busy = machineBusySeconds() - busy0;
    const cpu = procs.reduce((a, p, i) => a + cpuSeconds(p.pid) - cpu0[i]!, 0);
    if (out.clips !== CLIPS || out.failures !== 0) {
      throw new Error(`featurized ${out.clips} clips with ${out.failures} failures; expected ${CLIPS} and none`);
    }
    return {
      workers,
      seconds: out.seconds,
      clipsPerSecond: out.clips / out.seconds,
      workerCpu: cpu,
      otherCores: Math.max(0, busy - cpu) / out.observedSeconds,
      frontend: started.frontend,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

async function main(): Promise<void> {
  const session = await BenchSession.open('featurize');
  try {
    const g0 = performance.now();
    const bytes = await generateDataset(path.join(session.root, 'clips'), CLIPS);
    console.log(
      `featurize benchmark: ${CLIPS} generated one-second 16 kHz clips (${(bytes / 1e6).toFixed(0)} MB of WAV, ` +
        `${((performance.now() - g0) / 1000).toFixed(1)} s to generate), MLTK default frontend, shards of 64`,
    );
    console.log(
      `node ${process.version}, ${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
        `workers: separate processes, WORKER_CONCURRENCY=1, UV_THREADPOOL_SIZE=${POOL}, FRONTEND_BACKEND=${BACKEND}`,
    );
    const { url, proc: api } = await session.startApi();
    const reg = await registerDataset(url, 'bench', 'clips');
    if (reg.training !== CLIPS) throw new Error(`training subset has ${reg.training} clips, expected ${CLIPS}`);
    if (WARMUP) {
      // One small dataset per worker count, so a warm-up never reuses the previous run's job.
      for (const n of WORKER_COUNTS) {
        await generateDataset(path.join(session.root, `warmup${n}`), WARMUP_CLIPS_PER_WORKER * n, 7 + n);
        await registerDataset(url, `warmup${n}`, `warmup${n}`);
      }
    }

    const runs: Run[] = [];
    let frontend = '';
    console.log('');
    console.log(`${WARMUP ? 'warm workers (a warm-up dataset ran first)' : 'cold workers (no warm-up)'}; "others" = cores other processes kept busy`);
    console.log('run  workers   wall s    clips/s   worker CPU s   worker cores   others');
    for (let r = 0; r < RUNS; r++) {
      for (const n of WORKER_COUNTS) {
        const run = await measure(session, url, n);
        frontend = run.frontend;
        runs.push(run);
        console.log(
          `${String(runs.length).padStart(3)}  ${String(n).padStart(7)}  ${run.seconds.toFixed(3).padStart(7)}  ` +
            `${run.clipsPerSecond.toFixed(0).padStart(9)}  ${run.workerCpu.toFixed(2).padStart(13)}  ${(run.workerCpu / run.seconds).toFixed(2).padStart(13)}  ${run.otherCores.toFixed(2).padStart(7)}`,
        );
      }
    }
    if (api.exitCode() !== null) throw new Error(`the API exited during the benchmark:\n${api.tail.join('\n')}`);

    const rate = (n: number) => runs.filter((r) => r.workers === n).map((r) => r.clipsPerSecond);
    console.log('');
    console.log(`frontend backend: ${frontend}`);
    for (const n of WORKER_COUNTS) {
      console.log(
        `${n} worker process${n > 1 ? 'es' : ''}: best ${best(rate(n)).toFixed(0)} clips/s, median ${median(rate(n)).toFixed(0)} clips/s ` +
          `(${rate(n).length} runs)`,
      );
    }
    const ratioBest = best(rate(2)) / best(rate(1));
    const ratioMedian = median(rate(2)) / median(rate(1));
    const verdict = (x: number) => (x >= TARGET ? 'ok' : 'BELOW TARGET');
    console.log(
      `2 vs 1 workers: x${ratioBest.toFixed(2)} best/best (${verdict(ratioBest)}), x${ratioMedian.toFixed(2)} median/median ` +
        `(${verdict(ratioMedian)}); target >= ${TARGET} on ${os.availableParallelism()} cores`,
    );
    const quiet = (n: number) => runs.filter((r) => r.workers === n && r.otherCores < QUIET_CORES).map((r) => r.clipsPerSecond);
    if (quiet(1).length > 0 && quiet(2).length > 0) {
      console.log(
        `quiet runs only (others < ${QUIET_CORES} cores: ${quiet(1).length} + ${quiet(2).length}): ` +
          `1 worker median ${median(quiet(1)).toFixed(0)} clips/s, 2 workers median ${median(quiet(2)).toFixed(0)} clips/s, ` +
          `x${(median(quiet(2)) / median(quiet(1))).toFixed(2)}`,
      );
    } else {
      console.log(`no quiet run for both worker counts (others < ${QUIET_CORES} cores): the machine was busy, the ratio above understates scaling`);
    }
    if (CPU_PROF) console.log(`worker CPU profiles written to ${CPU_PROF}`);
  } finally {
    await session.close();
  }
}

await main();
