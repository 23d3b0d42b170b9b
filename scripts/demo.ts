/**
 * `npm run demo`: a small synthetic keyword-like corpus under ./datasets/demo, then (when a
 * service answers at AUDIOFEED_URL) registers it as `demo`, prints its summary and input
 * shape, and streams one batch. For a newcomer with no audio of their own, and for the
 * README walkthrough test (test/walkthrough.test.ts), so it needs nothing beside the
 * checkout: the clips are computed, never downloaded.
 *
 * Every run writes the same bytes (a seeded generator) and leaves alone files that are
 * already right, so the index files of a registered `demo` stay valid; a registered `demo`
 * is reused, not replaced. It talks to the service over HTTP only (the CLI's client for
 * JSON and text, the Node training client for the batch), like any other client.
 *
 * Exit status as the CLI's: 0 ok, 1 the service refused a request, 2 usage error, 3 no
 * service answers (or it failed).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RandomState } from '../src/core/random.ts';
import { encodeWavPcm16 } from '../src/core/audio/wav-encode.ts';
import { ApiClient, DEFAULT_URL, RejectedError, UnavailableError } from '../cli/http.ts';
import { AudiofeedClient } from '../clients/js/client.ts';

export const DEMO_ID = 'demo';
/** The keyword classes and their sound; `other` is not a class: `_unknown_` is drawn from it. */
export const DEMO_FOLDERS = ['up', 'down', 'tone', 'noise', 'other'] as const;
export const DEMO_CLASSES = ['up', 'down', 'tone', 'noise', '_unknown_', '_silence_'];
export const CLIPS_PER_FOLDER = 12;
const SAMPLE_RATE = 16000;
const SEED = 20261206;

/** What `npm run demo` registers (MLTK names; the rest keeps MLTK's defaults). */
export const DEMO_SETTINGS = {
  name: DEMO_ID,
  source: { type: 'directory', path: 'demo' },
  classes: DEMO_CLASSES,
  validation_split: 0.2,
  batch_size: 16,
};

type Folder = (typeof DEMO_FOLDERS)[number];

/** One second of audio: a sound of the folder's kind at a random place, over faint noise. */
function synthesize(kind: Folder, rng: RandomState): Int16Array {
  const uniform = (lo: number, hi: number) => lo + ((hi - lo) * rng.nextUint32()) / 2 ** 32;
  const noise = () => 2 * (rng.nextUint32() / 2 ** 32) - 1;
  const out = new Float64Array(SAMPLE_RATE);
  const start = Math.floor(uniform(0.08, 0.4) * SAMPLE_RATE);
  const length = Math.floor(uniform(0.4, 0.55) * SAMPLE_RATE);
  const amplitude = uniform(0.3, 0.7);
  const ramp = 0.015 * SAMPLE_RATE; // 15 ms fade in and out: no clicks
  const envelope = (i: number) => Math.min(1, i / ramp, (length - i) / ramp);
  const f0 = uniform(300, 500);
  const f1 = uniform(1800, 2600);
  const toneHz = uniform(700, 1300);
  const beepHz = uniform(2500, 3500);
  let phase = 0;
  let smooth = 0;
  for (let i = 0; i < length && start + i < SAMPLE_RATE; i++) {
    const t = i / length;
    let v: number;
    if (kind === 'up' || kind === 'down') {
      // A chirp: the frequency glides from f0 to f1 (up) or back (down).
      const hz = kind === 'up' ? f0 + (f1 - f0) * t : f1 + (f0 - f1) * t;
      phase += (2 * Math.PI * hz) / SAMPLE_RATE;
      v = Math.sin(phase);
    } else if (kind === 'tone') {
      phase += (2 * Math.PI * toneHz) / SAMPLE_RATE;
      v = 0.8 * Math.sin(phase) + 0.2 * Math.sin(2 * phase);
    } else if (kind === 'noise') {
      smooth = 0.6 * smooth + 0.4 * noise(); // a little low-passed: a hiss, not a click
      v = smooth * 1.5;
    } else {
      // other: two short high beeps
      phase += (2 * Math.PI * beepHz) / SAMPLE_RATE;
      v = t < 0.3 || t > 0.6 ? Math.sin(phase) : 0;
    }
    out[start + i]! += amplitude * envelope(i) * v;
  }
  const samples = new Int16Array(SAMPLE_RATE);
  for (let i = 0; i < SAMPLE_RATE; i++) {
    const x = out[i]! + 0.003 * noise();
    samples[i] = Math.max(-32768, Math.min(32767, Math.round(x * 32767)));
  }
  return samples;
}

/** The corpus as files: `<folder>/<folder>_<nn>.wav` → WAV bytes, the same on every run. */
export function demoCorpus(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  DEMO_FOLDERS.forEach((folder, f) => {
    for (let n = 0; n < CLIPS_PER_FOLDER; n++) {
      const rng = new RandomState(SEED + 1000 * f + n);
      const name = `${folder}/${folder}_${String(n).padStart(2, '0')}.wav`;
      files.set(name, encodeWavPcm16(synthesize(folder, rng), SAMPLE_RATE));
    }
  });
  return files;
}

/** Writes the files that are missing or differ (temp file + rename); leaves the rest alone. */
export function writeDemoCorpus(dir: string): { written: number; unchanged: number } {
  let written = 0;
  let unchanged = 0;
  for (const [rel, bytes] of demoCorpus()) {
    const file = path.join(dir, rel);
    if (fs.existsSync(file) && fs.readFileSync(file).equals(bytes)) {
      unchanged++;
      continue;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
    written++;
  }
  return { written, unchanged };
}

const HELP = `Usage: npm run demo [-- --corpus-only]

Writes a synthetic corpus to datasets/demo (${DEMO_FOLDERS.length * CLIPS_PER_FOLDER} one-second 16 kHz clips in ${DEMO_FOLDERS.length} folders:
${DEMO_FOLDERS.join(', ')}), then registers it as "${DEMO_ID}" with the service at $AUDIOFEED_URL
(default ${DEFAULT_URL}; $AUDIOFEED_TOKEN is sent as a bearer token), prints its summary and
input shape, and streams one batch. Running it again reuses both.

  --corpus-only   write the corpus and stop (no service needed)
`;

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** How long to wait for /readyz (in-process workers start a moment after the API). */
const READY_TIMEOUT_MS = 60_000;

async function waitUntilReady(api: ApiClient, io: Io): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let said = false;
  for (;;) {
    try {
      await api.request('/readyz');
      return;
    } catch (err) {
      // 503 not-ready (no worker yet) is worth a wait; nothing answering is not.
      if (!(err instanceof UnavailableError) || /cannot reach/.test(err.message) || Date.now() > deadline) throw err;
      if (!said) io.out(`waiting for the service to be ready (${err.message})`);
      said = true;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function runDemo(args: string[], env: NodeJS.ProcessEnv, io: Io, datasetsDir: string): Promise<number> {
  let corpusOnly: boolean;
  try {
    const { values } = parseArgs({ args, options: { 'corpus-only': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    corpusOnly = values['corpus-only'] ?? false;
  } catch (err) {
    io.err(`demo: ${(err as Error).message}\n${HELP}`);
    return 2;
  }

  const dir = path.join(datasetsDir, 'demo');
  const { written, unchanged } = writeDemoCorpus(dir);
  const rel = path.relative(process.cwd(), dir) || dir;
  io.out(
    `demo corpus: ${written + unchanged} clips in ${rel}/{${DEMO_FOLDERS.join(',')}} ` +
      `(${written === 0 ? 'already there' : unchanged === 0 ? 'written' : `${written} written, ${unchanged} already there`})`,
  );
  if (corpusOnly) return 0;

  const url = env.AUDIOFEED_URL || DEFAULT_URL;
  const token = env.AUDIOFEED_TOKEN || undefined;
  const api = new ApiClient(url, token);
  try {
    await waitUntilReady(api, io);
    let info: Record<string, unknown>;
    try {
      info = await api.json('/v1/datasets', { method: 'POST', json: DEMO_SETTINGS });
      io.out(`registered dataset ${DEMO_ID} (directory demo under a data root)`);
    } catch (err) {
      if (!(err instanceof RejectedError && err.type.endsWith('/dataset-exists'))) throw err;
      info = await api.json(`/v1/datasets/${DEMO_ID}`);
      io.out(`dataset ${DEMO_ID} is already registered: reusing it`);
    }
    io.out('');
    io.out((await api.text(`/v1/datasets/${DEMO_ID}/summary`, { accept: 'text/plain' })).trimEnd());
    io.out('');
    io.out(`input shape (audio_input_shape): ${JSON.stringify(info.audio_input_shape)}; classes: ${(info.audio_classes as string[]).join(', ')}`);

    const client = new AudiofeedClient(url, { token });
    for await (const batch of client.batches(DEMO_ID, { subset: 'training', epoch: 0, stepsPerEpoch: 1 })) {
      io.out(
        `streamed batch 0 of training epoch 0: x ${JSON.stringify(batch.x.shape)} ${batch.x.data.constructor.name.replace('Array', '').toLowerCase()}, ` +
          `y ${JSON.stringify(batch.y?.shape ?? null)}`,
      );
    }
    io.out('');
    io.out(`next: curl -s ${url}/v1/datasets/${DEMO_ID}/summary, the dashboard at ${url}/, or a training client (docs/clients.md)`);
    return 0;
  } catch (err) {
    if (err instanceof RejectedError) {
      io.err(`demo: ${err.status} ${err.message}`);
      if (/directory-not-found|path-not-allowed/.test(err.type)) {
        io.err(`demo: the service must read ${datasetsDir} as a data root (DATA_ROOTS): start it from this checkout with \`npm start\``);
      }
      return 1;
    }
    if (err instanceof UnavailableError) {
      io.err(`demo: ${err.message}`);
      if (/cannot reach/.test(err.message)) io.err('demo: start the service with `npm start` in another terminal, then run `npm run demo` again');
      return 3;
    }
    throw err;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const datasets = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'datasets');
  const io: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };
  process.exitCode = await runDemo(process.argv.slice(2), process.env, io, datasets);
}
