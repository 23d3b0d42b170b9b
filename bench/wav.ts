/**
 * WAV decoding throughput: 1-s 16-bit mono clips (the shared reference-valid.wav)
 * through decodeWav, best of 3 runs, next to the rate one worker needs to keep the
 * native frontend busy (the featurize bench's ~1,000 clips/s per process). Moved out of
 * the test suite: a speed is measured and printed here, never asserted in a test.
 *
 *   npx tsx bench/wav.ts [clips]
 */
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { decodeWav } from '../src/core/audio/wav.ts';
import { testdata } from '../test/helpers/paths.ts';

const RUNS = 3;
const CLIPS = Math.max(200, Number(process.argv[2] ?? 2000) || 2000);
/** Clips/s one worker process featurizes end to end (docs/performance.md, featurize bench): decoding must stay far above it. */
const FEATURIZE_CLIPS_PER_S = 1000;

const bytes = new Uint8Array(fs.readFileSync(testdata('bad-wavs', 'reference-valid.wav')));
for (let i = 0; i < 200; i++) decodeWav(bytes); // warm-up
const rates: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const t0 = performance.now();
  for (let i = 0; i < CLIPS; i++) decodeWav(bytes);
  rates.push(CLIPS / ((performance.now() - t0) / 1000));
}
const best = Math.max(...rates);
console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(2)}`);
console.log(`decodeWav: ${Math.round(best)} clips/s (best of ${RUNS} x ${CLIPS} 1-s clips; runs ${rates.map(Math.round).join(', ')})`);
console.log(`ratio to one worker's featurize rate (${FEATURIZE_CLIPS_PER_S} clips/s): x${(best / FEATURIZE_CLIPS_PER_S).toFixed(1)}`);
