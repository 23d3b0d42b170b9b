/**
 * Frontend and per-clip pipeline throughput, MLTK default settings (98x32).
 *
 * Frontend rows (int16 clips in memory -> uint16 spectrograms): the TypeScript frontend
 * and native processSync one clip per call, native processBatch in shard-sized batches
 * of 64 with 1 and with 2 pool threads, and one batch of every clip on 1 thread.
 * Pipeline rows (16-bit 16 kHz WAV bytes in memory -> uint16 rows of a shard buffer,
 * trim 20 dB, pad/crop to 1 s): the JS pipeline the service runs today (decodeWav +
 * prepareSample + toInt16 in JS, then native processBatch per shard) against the
 * native featurizeWav pipeline, each with 1 and 2 pool threads, plus the all-TypeScript
 * fallback.
 *
 * Every round runs every row once (the starting row rotates per round); the figure
 * printed is the median over rounds, with the range. The `cpu ms/clip` column is the
 * process's user+system CPU time per clip (all threads): less sensitive than wall time
 * to other processes on a shared machine. Nothing here is asserted.
 *
 *   npx tsx bench/frontend.ts [clips=1000] [rounds=7]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { prepareSample } from '../src/core/audio/load.ts';
import { toInt16 } from '../src/core/audio/pcm.ts';
import { decodeWav } from '../src/core/audio/wav.ts';
import { Frontend } from '../src/core/frontend/frontend.ts';
import { loadNativeFrontend, nativeFrontendUnavailableReason } from '../src/core/frontend/native.ts';
import { frontendSizes, resolveFrontendSettings } from '../src/core/frontend/settings.ts';
import { featurizeWavBatchNative, featurizeWavBatchTs } from '../src/core/frontend/wav-batch.ts';
import { mulberry32 } from '../test/helpers/random.ts';
import { wavBytes } from '../test/helpers/wav.ts';
import { speechLikeClip } from './helpers/harness.ts';

/**
 * Quoted, not measured: ../shared/spec/frontend.md §14, "Speed anchor (reference C)": the
 * reference compiled with gcc 12.2 -O2, one AMD EPYC core of a shared VM, MLTK defaults,
 * ~156,000 frames/s (median of 7 runs of 2000 clips; range 143k-157k).
 */
const REFERENCE_FRAMES_PER_S = 156_000;
const CLIPS = Math.max(64, Math.floor(Number(process.argv[2] ?? 1000)) || 1000);
const ROUNDS = Math.max(5, Math.floor(Number(process.argv[3] ?? 7)) || 7);
const SHARD = 64;
const TRIM_DB = 20;

interface Row {
  label: string;
  threads: string;
  kind: 'frontend' | 'pipeline';
  /** Pool threads the row asks for (0: none, the JS thread does the work). */
  pool: number;
  run: () => unknown;
  wall: number[];
  cpu: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' / ');

function shards<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += SHARD) out.push(xs.slice(i, i + SHARD));
  return out;
}

async function main(): Promise<void> {
  const settings = resolveFrontendSettings({});
  const { sampleLength, height, width } = frontendSizes(settings);
  const rowElems = height * width;
  const rate = settings.sample_rate_hz;
  const rand = mulberry32(20240601);
  // Frontend rows: one-second int16 clips. Pipeline rows: WAV files of 0.6-1.4 s (so both
  // padding and cropping occur), speech-like with leading silence for the trimmer.
  const clips = Array.from({ length: CLIPS }, () => speechLikeClip(rand, sampleLength, rate, 100 + rand() * 150));
  const wavs = Array.from({ length: CLIPS }, () => {
    const n = Math.floor(rate * (0.6 + rand() * 0.8));
    return new Uint8Array(wavBytes(speechLikeClip(rand, n, rate, 100 + rand() * 150), rate));
  });
  const clipShards = shards(clips);
  const wavShards = shards(wavs);
  const shardOut = new Uint16Array(SHARD * rowElems);
  const loadOpts = { sampleRateHz: rate, sampleLengthMs: settings.sample_length_ms, trimThresholdDb: TRIM_DB };

  console.log(`frontend and pipeline benchmark: ${CLIPS} seeded speech-like clips, MLTK defaults (${height}x${width}), trim ${TRIM_DB} dB`);
  console.log(
    `node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), ` +
      `libuv pool ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; median of ${ROUNDS} interleaved rounds`,
  );
  console.log(`load average (1/5/15 min) at start: ${load()}`);

  const rows: Row[] = [];
  const add = (label: string, threads: string, kind: Row['kind'], run: () => unknown) =>
    rows.push({ label, threads, kind, pool: Number(/(\d+) \(pool\)/.exec(threads)?.[1] ?? 0), run, wall: [], cpu: [] });

  const ts = new Frontend(settings);
  ts.process(clips[0]!);
  add('TypeScript frontend, 1 clip per call', '1 (JS)', 'frontend', () => {
    for (const c of clips) ts.process(c);
  });

  const native = loadNativeFrontend();
  if (native === null) {
    console.log(`native addon: not available (${nativeFrontendUnavailableReason()}); build it with npm run build:native`);
  } else {
    const addon = native.addon;
    addon.processSync(settings, clips[0]!); // warm the table cache and the code
    add('native processSync, 1 clip per call', '1 (JS)', 'frontend', () => {
      for (const c of clips) addon.processSync(settings, c);
    });
    for (const threads of [1, 2]) {
      add(`native processBatch, batches of ${SHARD}`, `${threads} (pool)`, 'frontend', async () => {
        for (const part of clipShards) await addon.processBatch(settings, part, { threads });
      });
    }
    add(`native processBatch, one batch of ${CLIPS}`, '1 (pool)', 'frontend', () => addon.processBatch(settings, clips, { threads: 1 }));

    for (const threads of [1, 2]) {
      add(`JS decode+trim+pad+int16, native processBatch`, `JS + ${threads} (pool)`, 'pipeline', async () => {
        for (const part of wavShards) {
          const pcm = part.map((w) => toInt16(prepareSample(decodeWav(w), loadOpts)));
          const r = await native.processBatch(settings, pcm, { threads });
          r.uint16.forEach((u, k) => shardOut.set(u, k * rowElems)); // as packFeatures does
        }
      });
      add(`native featurizeWav (whole pipeline)`, `${threads} (pool)`, 'pipeline', async () => {
        for (const part of wavShards) {
          await featurizeWavBatchNative(native, settings, TRIM_DB, part, shardOut.subarray(0, part.length * rowElems), { threads });
        }
      });
    }
  }
  add('TypeScript pipeline (the fallback)', '1 (JS)', 'pipeline', async () => {
    for (const part of wavShards) {
      await featurizeWavBatchTs(settings, TRIM_DB, part, shardOut.subarray(0, part.length * rowElems), { frontend: ts });
    }
  });

  for (const row of rows) await row.run(); // warm-up round, not counted
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < rows.length; k++) {
      const row = rows[(k + r) % rows.length]!;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await row.run();
      const wall = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      row.wall.push(wall);
      row.cpu.push((c.user + c.system) / 1000);
    }
  }

  const frontendSync = rows.find((r) => r.label.startsWith('native processSync'));
  const jsPipeline = (pool: number) => rows.find((r) => r.label.startsWith('JS decode') && r.pool === pool);
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  const threadWidth = Math.max(...rows.map((r) => r.threads.length), 7);
  console.log('');
  console.log(
    `${'row'.padEnd(labelWidth)}  ${'threads'.padEnd(threadWidth)}  ${'clips/s'.padStart(8)}  ${'(range)'.padStart(17)}  ` +
      `${'frames/s'.padStart(9)}  cpu ms/clip  ratios`,
  );
  for (const row of rows) {
    const clipsPerS = CLIPS / median(row.wall);
    const lo = CLIPS / Math.max(...row.wall);
    const hi = CLIPS / Math.min(...row.wall);
    const ratios: string[] = [];
    if (row.kind === 'frontend') {
      ratios.push(`x${((clipsPerS * height) / REFERENCE_FRAMES_PER_S).toFixed(2)} of quoted C`);
      if (frontendSync && row !== frontendSync && row.label.startsWith('native')) {
        ratios.push(`x${(median(frontendSync.wall) / median(row.wall)).toFixed(2)} of processSync`);
      }
    } else if (row.label.startsWith('native featurizeWav')) {
      const base = jsPipeline(row.pool);
      if (base) ratios.push(`x${(median(base.wall) / median(row.wall)).toFixed(2)} of the JS pipeline with the same pool threads`);
    }
    console.log(
      `${row.label.padEnd(labelWidth)}  ${row.threads.padEnd(threadWidth)}  ${fmt(clipsPerS).padStart(8)}  ` +
        `${`(${fmt(lo)}-${fmt(hi)})`.padStart(17)}  ${fmt(clipsPerS * height).padStart(9)}  ` +
        `${(median(row.cpu) / CLIPS).toFixed(3).padStart(11)}  ${ratios.join(', ')}`,
    );
  }
  console.log('');
  console.log(
    `quoted C = ${fmt(REFERENCE_FRAMES_PER_S)} frames/s: the single-thread reference C figure quoted from ` +
      '../shared/spec/frontend.md §14 (gcc 12.2 -O2, one AMD EPYC core, another machine), not measured here.',
  );
  console.log('threads: "JS" = the JavaScript thread; "pool" = libuv pool threads working while the JS thread waits.');
  console.log(`load average (1/5/15 min) at end: ${load()}`);
}

await main();
