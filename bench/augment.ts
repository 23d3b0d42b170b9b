/**
 * Augmented epochs (issue #19): in one run, interleaved rounds on the same clips (default
 * 2,016 one-second clips: the corpus-mini words of ../shared/testdata, each copy with a few
 * samples changed so every file has its own content), three pipelines:
 *
 *   augmented   the service's augmented epoch (offset, loudness 0.2–1.0, speed 0.9–1.1,
 *               pitch −2…1 semitones, coloured noise) streamed as npy, nothing of it
 *               computed before the request (an epoch number no earlier stream was next to)
 *   plain cold  the service's plain epoch from an empty feature cache (featurize + stream)
 *   frontend    the MLTK frontend alone on the same clips (decode -> int16 -> frontend,
 *               in memory, in this process, on every core: the addon's featurizeWav), the
 *               ceiling of any pipeline that ends in that frontend, augmented or not, on
 *               this machine
 *   baseline    an MLTK-style Python pipeline (bench/baseline/mltk_augment.py: librosa
 *               time_stretch / pitch_shift / effects.trim, numpy coloured noise as MLTK's
 *               _get_color_noise, the C microfrontend of native/ through ctypes), in as
 *               many processes as the service has cores
 *
 * The service is `npm start` with every default (routes/server.ts with its in-process
 * workers, the thread pool sized as the package.json line sizes it), a private KEY_PREFIX,
 * DATA_DIR and PORT. It prints clips/s of each (median and range over the rounds), the
 * ratios augmented ÷ plain cold and augmented ÷ baseline, the cores the service kept busy
 * during its augmented epochs, the time to the first complete batch of a cached plain epoch
 * and of augmented epochs, with their ratios: the epoch after a streamed one asked for after
 * a pause (as after Keras' validation pass: the head the previous epoch queued is computed
 * by then), the same asked for the moment the previous epoch ends, and an epoch nothing
 * was computed ahead for; and whether an augmented epoch streamed twice is byte-identical.
 * Prints, never asserts; the issue's targets are printed beside the figures.
 *
 * The baseline needs g++, python3 with numpy, librosa (and the scikit-learn, numba, scipy,
 * soxr and lazy_loader it imports; scikit-learn 1.9 imports narwhals):
 * `pip install --no-deps librosa soxr lazy_loader` plus what is missing of those (Debian:
 * python3-numba python3-scipy python3-lazy-loader python3-sklearn). Without them the bench
 * says why and prints the service's own figures.
 *
 *   npm run bench:augment -- [--clips 2016] [--rounds 3] [--batch-size 32] [--processes <cores>] [--no-baseline]
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import {
  BenchSession,
  PROJECT_ROOT,
  REDIS_URL,
  cpuSeconds,
  intArg,
  median,
  requestJson,
  streamNpy,
  type StreamTimes,
} from './helpers/harness.ts';
import { loadNativeFrontend, WAV_CLIP_NATIVE } from '../src/core/frontend/native.ts';
import { frontendSizes, resolveFrontendSettings } from '../src/core/frontend/settings.ts';
import { TESTDATA } from '../test/helpers/paths.ts';

const run = promisify(execFile);

const CLIPS = intArg('--clips', 2016);
const ROUNDS = intArg('--rounds', 3);
const BATCH = intArg('--batch-size', 32);
const CORES = os.availableParallelism();
const PROCESSES = intArg('--processes', CORES);
const BASELINE = !process.argv.includes('--no-baseline');
/** Queue names of jobs/queues.ts. */
const QUEUES = ['featurize', 'featurize-shards', 'augment-batches'];
const AUGMENTATION = {
  offset_range: [0, 1],
  loudness_range: [0.2, 1.0],
  speed_range: [0.9, 1.1],
  pitch_range: [-2, 2],
  noise_colors: 'all',
  noise_color_range: [0, 0.1],
};
/** The frontend sources of the addon (binding.gyp) the baseline's shared library is built from, less the N-API files. */
const FRONTEND_SOURCES = ['activity_detection', 'dc_notch', 'fft', 'filterbank', 'frontend', 'log_scale', 'noise_reduction', 'pcan', 'window'];

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const fmt = (xs: number[], digits = 0) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

/** `clips` WAVs in the corpus-mini word dirs: copy i of clip i mod n, with 8 samples changed by i. Returns their paths. */
async function generateClips(dir: string, clips: number): Promise<{ classes: string[]; files: string[] }> {
  const corpus = path.join(TESTDATA, 'corpus-mini');
  const classes = fs
    .readdirSync(corpus)
    .filter((d) => !d.startsWith('_') && !d.startsWith('.') && fs.statSync(path.join(corpus, d)).isDirectory())
    .sort();
  const sources = classes.flatMap((c) =>
    fs
      .readdirSync(path.join(corpus, c))
      .filter((f) => f.endsWith('.wav'))
      .sort()
      .map((f) => ({ cls: c, bytes: fs.readFileSync(path.join(corpus, c, f)) })),
  );
  for (const c of classes) await fsp.mkdir(path.join(dir, c), { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < clips; i++) {
    const src = sources[i % sources.length]!;
    const wav = Buffer.from(src.bytes);
    const samples = (wav.length - 44) >> 1;
    for (let k = 0; k < 8; k++) wav.writeInt16LE(((i >> (2 * k)) & 0x3ff) - 512, 44 + 2 * ((997 * k + i) % samples));
    const file = path.join(dir, src.cls, `${(Math.imul(i + 1, 2654435761) >>> 0).toString(16).padStart(8, '0')}_nohash_${i % 5}.wav`);
    await fsp.writeFile(file, wav);
    files.push(file);
  }
  return { classes, files };
}

/** The baseline's frontend library, built into `dir`; or why it cannot be. */
async function buildFrontendLibrary(dir: string): Promise<{ lib: string } | { error: string }> {
  const lib = path.join(dir, 'libaudiofeed_frontend_shim.so');
  const sources = [...FRONTEND_SOURCES.map((s) => path.join(PROJECT_ROOT, 'native', `${s}.cc`)), path.join(PROJECT_ROOT, 'bench', 'baseline', 'frontend_shim.cc')];
  try {
    // The addon's flags (binding.gyp): the same frontend the service runs.
    await run('g++', ['-std=c++17', '-O2', '-ffp-contract=off', '-fno-fast-math', '-shared', '-fPIC', `-I${path.join(PROJECT_ROOT, 'native')}`, ...sources, '-o', lib]);
    return { lib };
  } catch (err) {
    return { error: `the C frontend library could not be built (g++): ${(err as Error).message.split('\n')[0]}` };
  }
}

/** One baseline epoch over `listFile`; clips/s, or why it did not run. */
async function runBaseline(lib: string, listFile: string, seed: number): Promise<{ clipsPerSecond: number } | { error: string }> {
  const script = path.join(PROJECT_ROOT, 'bench', 'baseline', 'mltk_augment.py');
  const args = [script, '--lib', lib, '--files', listFile, '--processes', String(PROCESSES), '--batch-size', String(BATCH), '--seed', String(seed)];
  let stdout: string;
  try {
    ({ stdout } = await run('python3', args, { maxBuffer: 16 * 1024 * 1024 }));
  } catch (err) {
    const e = err as { stdout?: string; message: string };
    const said = (e.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      return { error: (JSON.parse(said) as { error: string }).error };
    } catch {
      return { error: e.message.split('\n').slice(0, 3).join(' ') };
    }
  }
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as { clips_per_second: number };
  return { clipsPerSecond: out.clips_per_second };
}

/**
 * Clips/s of the MLTK frontend alone over `files` (read into memory first): decode, int16,
 * frontend with the default settings, no trim, on `CORES` pool threads of this process.
 * Every augmented clip goes through this frontend, so no augmented epoch here can be faster.
 */
async function frontendAlone(files: string[]): Promise<{ clipsPerSecond: number } | { error: string }> {
  const native = loadNativeFrontend();
  if (native === null) return { error: 'the native addon is not built (npm run build:native)' };
  const wavs = await Promise.all(files.map(async (f) => new Uint8Array(await fsp.readFile(f))));
  const settings = resolveFrontendSettings({});
  const { height, width } = frontendSizes(settings);
  const out = new Uint16Array(wavs.length * height * width);
  const t0 = performance.now();
  const status = await native.featurizeWav(settings, null, wavs, out, { threads: CORES });
  const skipped = status.filter((v) => v !== WAV_CLIP_NATIVE).length;
  if (skipped > 0) return { error: `${skipped} of ${wavs.length} clips are not 16-bit PCM at 16 kHz: the figure would not be the frontend's` };
  return { clipsPerSecond: wavs.length / ((performance.now() - t0) / 1000) };
}

async function main(): Promise<void> {
  console.log(`augmentation benchmark: node ${process.version}, ${CORES} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${load()}`);
  console.log(`${CLIPS} one-second clips, batch_size ${BATCH}, ${ROUNDS} interleaved rounds; augmentation ${JSON.stringify(AUGMENTATION)}`);
  const session = await BenchSession.open('augment');
  const queues = QUEUES.map((q) => new Queue(q, { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: session.prefix }));
  try {
    const { classes, files } = await generateClips(path.join(session.root, 'clips'), CLIPS);
    const listFile = path.join(session.base, 'clips.txt');
    fs.writeFileSync(listFile, files.join('\n') + '\n');

    let baseline: { lib: string } | { error: string } = { error: 'skipped (--no-baseline)' };
    if (BASELINE) baseline = await buildFrontendLibrary(session.base);

    // `npm start` as its package.json line runs it: defaults, the pool sized to the cores.
    const env = session.serviceEnv({ HOST: '127.0.0.1', PORT: '0', UV_THREADPOOL_SIZE: String(Math.max(4, CORES)) });
    for (const k of ['IN_PROCESS_WORKERS', 'WORKER_CONCURRENCY', 'FRONTEND_THREADS', 'AUGMENT_LOOKAHEAD']) delete env[k];
    const api = session.spawn('api (npm start)', 'routes/server.ts', env);
    const url = (await api.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 60_000))[1]!;
    for (let i = 0; i < 600 && (await queues[2]!.getWorkersCount()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    /** Until no job of any queue is waiting or running: the next measurement starts on a quiet service. */
    const drain = async () => {
      for (;;) {
        const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'prioritized', 'active', 'delayed')));
        if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    for (const [name, augmentation] of [['plain', undefined], ['aug', AUGMENTATION]] as const) {
      const reg = await requestJson(`${url}/v1/datasets`, 'POST', { name, source: { type: 'directory', path: 'clips' }, classes, validation_split: 0, batch_size: BATCH, augmentation });
      if (reg.status !== 201) throw new Error(`registration of ${name} failed (${reg.status}): ${JSON.stringify(reg.json)}`);
    }
    const stream = async (dataset: string, epoch: number, firstOnly = false): Promise<StreamTimes> => {
      const s = await streamNpy(`${url}/v1/datasets/${dataset}/batches?epoch=${epoch}&batch_size=${BATCH}&format=npy`, performance.now(), { firstOnly });
      if (s.status !== 200) throw new Error(`${dataset} epoch ${epoch}: HTTP ${s.status}`);
      return s;
    };
    const coldPlain = async () => {
      await drain();
      await fsp.rm(session.featuresDir, { recursive: true, force: true });
      return stream('plain', 0);
    };
    // Warm-up (JIT, the workers' first batches; not counted): a plain cold epoch and an augmented one.
    await drain();
    await coldPlain();
    await stream('aug', 1);
    console.log(`warm-up done; load average ${load()}`);
    console.log('');

    const r = { plain: [] as number[], aug: [] as number[], baseline: [] as number[], frontend: [] as number[], busy: [] as number[], cachedFirst: [] as number[], augPaused: [] as number[], augAtOnce: [] as number[], augFresh: [] as number[] };
    let baselineError = 'error' in baseline ? baseline.error : null;
    let frontendError: string | null = null;
    let firstHash: string | null = null;
    for (let round = 0; round < ROUNDS; round++) {
      const order = ['plain', 'aug', 'baseline', 'frontend'].map((_, i, a) => a[(i + round) % a.length]!);
      for (const which of order) {
        if (which === 'plain') {
          const s = await coldPlain();
          r.plain.push(CLIPS / s.end);
          // Every clip's features are cached now: a cached epoch's first batch (the median of
          // five epochs, as one request's figure is mostly noise on a shared machine).
          const cached: number[] = [];
          for (let e = 1; e <= 5; e++) cached.push((await stream('plain', e, true)).firstBatch);
          r.cachedFirst.push(median(cached));
          console.log(`round ${round + 1}: plain cold epoch ${(CLIPS / s.end).toFixed(0)} clips/s; cached epoch first batch ${(r.cachedFirst.at(-1)! * 1000).toFixed(1)} ms (load ${load()})`);
        } else if (which === 'aug') {
          const epoch = 100 * (round + 1);
          await drain();
          const cpu0 = cpuSeconds(api.pid);
          const s = await stream('aug', epoch);
          const busy = (cpuSeconds(api.pid) - cpu0) / s.end;
          // The next epoch after a pause (Keras' validation pass): its head, queued during
          // this epoch's last batches, is computed by then.
          await drain();
          const paused = await stream('aug', epoch + 1, true);
          // The whole next epoch (not timed), and the one after it asked for the moment it ends.
          await stream('aug', epoch + 1);
          const atOnce = await stream('aug', epoch + 2, true);
          // An epoch nothing was computed ahead for.
          await drain();
          const fresh = await stream('aug', epoch + 50, true);
          r.aug.push(CLIPS / s.end);
          r.busy.push(busy);
          r.augPaused.push(paused.firstBatch);
          r.augAtOnce.push(atOnce.firstBatch);
          r.augFresh.push(fresh.firstBatch);
          firstHash ??= s.sha256;
          const ms = (x: StreamTimes) => `${(x.firstBatch * 1000).toFixed(1)} ms`;
          console.log(
            `round ${round + 1}: augmented epoch ${(CLIPS / s.end).toFixed(0)} clips/s, ${busy.toFixed(2)} of ${CORES} cores busy; first batch: ` +
              `next epoch after a pause ${ms(paused)}, at once ${ms(atOnce)}, fresh epoch ${ms(fresh)} (load ${load()})`,
          );
        } else if (which === 'frontend') {
          if (frontendError !== null) continue;
          await drain();
          const f = await frontendAlone(files);
          if ('error' in f) frontendError = f.error;
          else {
            r.frontend.push(f.clipsPerSecond);
            console.log(`round ${round + 1}: the MLTK frontend alone (in memory, ${CORES} threads) ${f.clipsPerSecond.toFixed(0)} clips/s (load ${load()})`);
          }
        } else if (!baselineError && 'lib' in baseline) {
          await drain();
          const b = await runBaseline(baseline.lib, listFile, round + 1);
          if ('error' in b) baselineError = b.error;
          else {
            r.baseline.push(b.clipsPerSecond);
            console.log(`round ${round + 1}: MLTK-style baseline (${PROCESSES} processes) ${b.clipsPerSecond.toFixed(1)} clips/s (load ${load()})`);
          }
        }
      }
    }
    await drain();
    const again = await stream('aug', 100);
    const identical = firstHash !== null && again.sha256 === firstHash;

    console.log('');
    console.log('clips/s, median (range) over the rounds:');
    console.log(`  augmented epoch           ${fmt(r.aug)}   (the service kept ${fmt(r.busy, 2)} of ${CORES} cores busy)`);
    console.log(`  plain cold epoch          ${fmt(r.plain)}`);
    if (r.baseline.length > 0) console.log(`  MLTK-style baseline       ${fmt(r.baseline, 1)}   (${PROCESSES} processes)`);
    else console.log(`  MLTK-style baseline       not measured: ${baselineError}`);
    console.log(`  augmented ÷ plain cold    ×${(median(r.aug) / median(r.plain)).toFixed(2)}   (target ≥ 0.5)`);
    if (r.frontend.length > 0) console.log(`  the MLTK frontend alone   ${fmt(r.frontend)}   (decode + frontend in memory: no augmented epoch here can be faster)`);
    else console.log(`  the MLTK frontend alone   not measured: ${frontendError}`);
    if (r.baseline.length > 0) {
      console.log(`  augmented ÷ baseline      ×${(median(r.aug) / median(r.baseline)).toFixed(1)}   (target ≥ 15)`);
      // What bounds that ratio: an augmented epoch does all of a plain cold epoch's work
      // (read, decode, frontend, stream) and the augmentation on top.
      console.log(`  plain cold ÷ baseline     ×${(median(r.plain) / median(r.baseline)).toFixed(1)}   (an augmented epoch does all of this work and the augmentation besides)`);
      if (r.frontend.length > 0) console.log(`  frontend alone ÷ baseline ×${(median(r.frontend) / median(r.baseline)).toFixed(1)}`);
      const need = 15 * median(r.baseline);
      if (need > median(r.plain)) {
        console.log(`  ×15 the baseline is ${need.toFixed(0)} clips/s: more than the plain cold epoch itself on this machine`);
      }
    }
    const ms = (xs: number[]) => fmt(xs.map((x) => x * 1000), 1);
    console.log('first complete batch, ms, median (range):');
    console.log(`  cached plain epoch        ${ms(r.cachedFirst)}`);
    const ratio = (xs: number[]) => `×${(median(xs) / median(r.cachedFirst)).toFixed(2)} of cached`;
    console.log(`  augmented, next epoch after a pause (its head computed)   ${ms(r.augPaused)}   ${ratio(r.augPaused)} (target ≤ 2)`);
    console.log(`  augmented, next epoch asked at once                       ${ms(r.augAtOnce)}   ${ratio(r.augAtOnce)}`);
    console.log(`  augmented, fresh epoch (nothing computed ahead)           ${ms(r.augFresh)}   ${ratio(r.augFresh)}`);
    console.log(`augmented epoch streamed twice: ${identical ? 'byte-identical' : 'DIFFERENT'} (${again.bytes} bytes, sha256 ${again.sha256})`);
    console.log(`load average at the end ${load()}`);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await session.close();
  }
}

await main();
