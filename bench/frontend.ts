/**
 * Frontend throughput: native addon (one clip per synchronous call, and
 * batched on the libuv thread pool) versus the TypeScript frontend, on seeded
 * speech-like one-second clips with MLTK default settings. Best of 3 runs each.
 *
 *   npx tsx bench/frontend.ts [clips]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Frontend } from '../src/core/frontend/frontend.ts';
import { loadNativeFrontend, nativeFrontendUnavailableReason } from '../src/core/frontend/native.ts';
import { frontendSizes, resolveFrontendSettings } from '../src/core/frontend/settings.ts';
import { mulberry32 } from '../test/helpers/random.ts';

/** frontend.md §14: reference C, gcc -O2, one core, MLTK defaults. Quoted, not measured here. */
const REFERENCE_FRAMES_PER_S = 156_000;
const RUNS = 3;
const CLIPS = Math.max(2000, Number(process.argv[2] ?? 2000) || 2000);


/** Voiced segments (gliding pitch with harmonics and a syllable envelope), noise, and pauses. */
function speechLike(rand: () => number, n: number, rate: number): Int16Array {
  const out = new Int16Array(n);
  const gain = 2000 + rand() * 14000;
  let phase = 0;
  let pitch = 100 + rand() * 150;
  let segmentEnd = 0;
  let voiced = true;
  let silent = false;
  for (let i = 0; i < n; i++) {
    if (i >= segmentEnd) {
      segmentEnd = i + Math.floor(rate * (0.05 + rand() * 0.2));
      silent = rand() < 0.25;
      voiced = rand() < 0.7;
      pitch = 100 + rand() * 150;
    }
    const t = i / rate;
    pitch *= 1 + (rand() - 0.5) * 1e-4;
    phase += (2 * Math.PI * pitch) / rate;
    const envelope = Math.abs(Math.sin(2 * Math.PI * 4 * t));
    let v = 0;
    if (!silent) {
      if (voiced) {
        for (let h = 1; h <= 8; h++) v += Math.sin(h * phase) / h;
        v *= gain * envelope * 0.5;
      } else {
        v = (rand() * 2 - 1) * gain * 0.3 * envelope;
      }
    }
    v += (rand() * 2 - 1) * 30;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

async function bestOf(run: () => unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const ratio = (x: number, y: number): string => (x / y).toFixed(2);

async function main(): Promise<void> {
  const settings = resolveFrontendSettings({});
  const { sampleLength, height, width } = frontendSizes(settings);
  const rand = mulberry32(20240601);
  const clips = Array.from({ length: CLIPS }, () => speechLike(rand, sampleLength, settings.sample_rate_hz));
  const frames = CLIPS * height;
  console.log(`frontend benchmark: ${CLIPS} seeded speech-like clips, MLTK defaults (${height}x${width}), best of ${RUNS}`);
  console.log(
    `node ${process.version}, ${os.availableParallelism()} cores, libuv pool ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
  );

  const rows: [string, number][] = [];
  const native = loadNativeFrontend();
  if (native === null) {
    console.log(`native addon: not available (${nativeFrontendUnavailableReason()}); build it with npm run build:native`);
  } else {
    const addon = native.addon;
    native.processSync(settings, clips[0]!); // warm the table cache and the code
    rows.push([
      'native, 1 clip per sync call',
      frames / (await bestOf(() => {
        for (const c of clips) addon.processSync(settings, c);
      })),
    ]);
    rows.push([
      `native, one async batch of ${CLIPS} (thread pool)`,
      frames / (await bestOf(() => native.processBatch(settings, clips))),
    ]);
    rows.push([
      'native, async batches of 64, 2 in flight',
      frames / (await bestOf(async () => {
        const chunks: Int16Array[][] = [];
        for (let i = 0; i < clips.length; i += 64) chunks.push(clips.slice(i, i + 64));
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < chunks.length) await native.processBatch(settings, chunks[next++]!);
        };
        await Promise.all([lane(), lane()]);
      })),
    ]);
  }

  const ts = new Frontend(settings);
  ts.process(clips[0]!);
  const tsRate = frames / (await bestOf(() => {
    for (const c of clips) ts.process(c);
  }));
  rows.push(['TypeScript, 1 clip per call', tsRate]);

  console.log('');
  const w = Math.max(...rows.map(([l]) => l.length));
  for (const [label, rate] of rows) {
    console.log(
      `${label.padEnd(w)}  ${fmt(rate).padStart(10)} frames/s  ${fmt(rate / height).padStart(7)} clips/s  ` +
        `x${ratio(rate, REFERENCE_FRAMES_PER_S)} of reference` +
        (label.startsWith('native') ? `  x${ratio(rate, tsRate)} of TypeScript` : ''),
    );
  }
  console.log('');
  console.log(
    `reference = ${fmt(REFERENCE_FRAMES_PER_S)} frames/s: the single-thread C reference figure quoted from ` +
      'shared/spec/frontend.md §14 (measured on another machine), not measured here.',
  );
}

await main();
