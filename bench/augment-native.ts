/**
 * Per-clip cost of augmentation, TypeScript against native (1-s 16 kHz speech-like WAVs,
 * MLTK default frontend, in memory: no file reads, no queue, no stream).
 *
 * Stage rows: each stage of the pipeline on one clip, called one clip at a time on the
 * JS thread (native through the addon's augmentStage test entry, which copies its input
 * and output: a few µs of the figure), median CPU µs per call.
 * Batch rows: the whole per-clip pipeline (decode, speed 0.9–1.1, MLTK's pitch grid
 * (10–12 semitones), loudness 0.2–1.0, offset, coloured noise 'all' at factor 0–0.1, trim,
 * int16, frontend) over batches of 32: augmentBatchTs, and augmentBatchNative with 1 and 2
 * pool threads. `cpu ms/clip` is the process's user+system CPU per clip, all threads
 * (what a worker pays); `wall ms/clip` the elapsed time. Median over rounds, with the
 * range. Nothing here is asserted.
 *
 *   npx tsx bench/augment-native.ts [clips=256] [rounds=5]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { augmentRng, drawTransformParams, resolveAugmentation } from '../src/core/audio/augment/index.ts';
import { drawNoiseSeed, mltkColourNoise } from '../src/core/audio/noise.ts';
import { stretchAndShift, vtlp } from '../src/core/audio/pitch.ts';
import { timeStretch } from '../src/core/audio/stretch.ts';
import { trimBounds } from '../src/core/audio/trim.ts';
import { decodeWav } from '../src/core/audio/wav.ts';
import { augmentBatchNative, augmentBatchTs, type AugmentBatchJob, type AugmentClip } from '../src/core/frontend/augment-batch.ts';
import { Frontend } from '../src/core/frontend/frontend.ts';
import { loadNativeFrontend, nativeFrontendUnavailableReason } from '../src/core/frontend/native.ts';
import { frontendSizes, resolveFrontendSettings } from '../src/core/frontend/settings.ts';
import { log10 } from '../src/core/math/detmath.ts';
import { mulberry32 } from '../test/helpers/random.ts';
import { speechLikeClip, wavFile } from './helpers/harness.ts';

const CLIPS = Math.max(32, Math.floor(Number(process.argv[2] ?? 256)) || 256);
const ROUNDS = Math.max(3, Math.floor(Number(process.argv[3] ?? 5)) || 5);
const BATCH = 32;

const native = loadNativeFrontend();
if (native === null) {
  console.error(`native addon not available (${nativeFrontendUnavailableReason()}): npm run build:native`);
  process.exit(1);
}

const rand = mulberry32(42);
const wavs = Array.from({ length: CLIPS }, (_, i) => new Uint8Array(wavFile(speechLikeClip(rand, 16000, 16000, 120 + (i % 7) * 30), 16000)));
const settings = resolveFrontendSettings({});
const augmentation = resolveAugmentation({
  offset_range: [0, 1],
  loudness_range: [0.2, 1.0],
  speed_range: [0.9, 1.1],
  pitch_range: [0.9, 1.1],
  noise_colors: 'all',
  noise_color_range: [0, 0.1],
});
const job: AugmentBatchJob = { settings, frontendEnabled: true, trimThresholdDb: 20, noiseLevel: 'mltk', bgNoises: [] };
const row = frontendSizes(settings).height * frontendSizes(settings).width;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
/** CPU time (user + system, µs) of a synchronous call: less sensitive than wall time to other processes. */
function cpuMicros(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
}
const fmt = (xs: number[], digits = 2): string => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

// ---------------------------------------------------------------- stages

const x = decodeWav(wavs[0]!).samples;
const seed = drawNoiseSeed(augmentRng(1, 0, 0, 0));
const stages: [string, () => unknown, () => unknown][] = [
  ['time stretch x1.1', () => timeStretch(x, 1.1), () => native.addon.augmentStage('timeStretch', x, [1.1])],
  ['stretch 0.9 + pitch +11', () => stretchAndShift(x, 0.9, 11), () => native.addon.augmentStage('stretchAndShift', x, [0.9, 11])],
  ['VTLP x2', () => vtlp(x, 16000, 2), () => native.addon.augmentStage('vtlp', x, [16000, 2])],
  ["MLTK's pink noise (irfft 16000)", () => mltkColourNoise('pink', 16000, -0.5, 0.5, seed), () => native.addon.augmentStage('mltkNoise', x, [3, 16000, -0.5, 0.5, ...seed])],
  ['trim (detmath log10)', () => trimBounds(x, 20, log10), () => native.addon.augmentStage('trim', x, [20])],
];
const fe = new Frontend(settings);
const pcm = new Int16Array(16000).map((_, i) => Math.round(8000 * Math.sin(i / 7)));
console.log(`augmentation per clip, 1-s clips, ${CLIPS} clips, ${ROUNDS} rounds (median CPU µs per call, range); ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}`);
console.log('stage                              | TypeScript CPU µs    | native CPU µs');
for (const [name, ts, nat] of stages) {
  const t: number[] = [];
  const n: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [fn, into] of [[ts, t], [nat, n]] as const) {
      fn();
      into.push(cpuMicros(() => {
        for (let i = 0; i < 20; i++) fn();
      }) / 20);
    }
  }
  console.log(`${name.padEnd(34)} | ${fmt(t, 0).padEnd(20)} | ${fmt(n, 0)}`);
}
{
  const t: number[] = [];
  const n: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    t.push(cpuMicros(() => {
      for (let i = 0; i < 20; i++) fe.process(pcm);
    }) / 20);
    n.push(cpuMicros(() => {
      for (let i = 0; i < 20; i++) native.processSync(settings, pcm);
    }) / 20);
  }
  console.log(`${'frontend (98x32)'.padEnd(34)} | ${fmt(t, 0).padEnd(20)} | ${fmt(n, 0)}`);
}

// ---------------------------------------------------------------- whole batches

function clipsOf(batch: number): AugmentClip[] {
  const out: AugmentClip[] = [];
  for (let i = 0; i < BATCH; i++) {
    const k = (batch * BATCH + i) % CLIPS;
    out.push({ audio: wavs[k]!, params: drawTransformParams(augmentation, augmentRng(7, 0, batch, i), 0) });
  }
  return out;
}

async function runBatches(fn: (clips: AugmentClip[], out: Uint16Array) => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  const batches = Math.ceil(CLIPS / BATCH);
  const out = new Uint16Array(BATCH * row);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) await fn(clipsOf(b), out);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const clips = batches * BATCH;
  return { cpu: (c.user + c.system) / 1000 / clips, wall: wall / clips };
}

const rows: [string, (clips: AugmentClip[], out: Uint16Array) => Promise<unknown>][] = [
  ['TypeScript (augmentBatchTs)', (c, o) => augmentBatchTs(job, c, o, { frontend: fe })],
  ['native, 1 pool thread', (c, o) => augmentBatchNative(native, job, c, o, { threads: 1 })],
  ['native, 2 pool threads', (c, o) => augmentBatchNative(native, job, c, o, { threads: 2 })],
];
const results = rows.map(() => ({ cpu: [] as number[], wall: [] as number[] }));
await runBatches(rows[1]![1]); // warm the tables
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < rows.length; k++) {
    const j = (k + r) % rows.length;
    const m = await runBatches(rows[j]![1]);
    results[j]!.cpu.push(m.cpu);
    results[j]!.wall.push(m.wall);
  }
}
console.log('\nwhole pipeline, batches of 32              | cpu ms/clip          | wall ms/clip');
for (const [k, [name]] of rows.entries()) {
  console.log(`${name.padEnd(43)} | ${fmt(results[k]!.cpu).padEnd(20)} | ${fmt(results[k]!.wall)}`);
}
const ratio = median(results[0]!.cpu) / median(results[1]!.cpu);
console.log(`native ÷ TypeScript CPU per clip: ×${ratio.toFixed(1)} less; load average now ${os.loadavg()[0]!.toFixed(1)}`);
