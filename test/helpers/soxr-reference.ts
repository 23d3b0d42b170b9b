/**
 * The reference clips of test/fixtures/soxr-reference.json (made by
 * scripts/make-soxr-reference.py with python-soxr and librosa): the WAV bytes are rebuilt
 * here by the script's integer-only generator, and the fixture's sha256 proves they are
 * the very bytes the reference was computed from.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './paths.ts';
import { wavBytes } from './wav.ts';

export interface SoxrReferenceCase {
  name: string;
  rate: number;
  channels: number;
  frames: number;
  target_rate: number;
  wav_sha256: string;
  resampled_length: number;
  /** sha256 of the resampled first channel as little-endian float32. */
  resampled_sha256: string;
  resampled_values: Record<string, number>;
}

export interface SoxrReference {
  python_soxr: string;
  libsoxr: string;
  librosa: string | null;
  cases: SoxrReferenceCase[];
}

export function loadSoxrReference(): SoxrReference {
  return JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'soxr-reference.json'), 'utf8')) as SoxrReference;
}

/** Interleaved int16 samples: the script's clip_samples, step for step. */
export function referenceSamples(rate: number, channels: number, frames: number): Int16Array {
  let state = (rate * 131 + channels * 7 + frames) >>> 0 || 1;
  const period = Math.floor(rate / 300);
  const lo = Math.floor(frames / 10);
  const hi = frames - Math.floor(frames / 10);
  const out = new Int16Array(frames * channels);
  let k = 0;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      state = (state ^ (state << 13)) >>> 0;
      state = (state ^ (state >>> 17)) >>> 0;
      state = (state ^ (state << 5)) >>> 0;
      const noise = (state >>> 20) - 2048;
      let v: number;
      if (i >= lo && i < hi) {
        const saw = Math.floor(((i % period) * 24000) / period) - 12000;
        v = (c === 0 ? saw : Math.floor(-saw / 2)) + (noise >> 1);
      } else {
        v = noise >> 6;
      }
      out[k++] = Math.max(-32768, Math.min(32767, v));
    }
  }
  return out;
}

/** The case's WAV file; throws when its sha256 is not the fixture's (the generators drifted). */
export function referenceWav(c: SoxrReferenceCase): Buffer {
  const wav = wavBytes(referenceSamples(c.rate, c.channels, c.frames), c.rate, c.channels);
  const digest = crypto.createHash('sha256').update(wav).digest('hex');
  if (digest !== c.wav_sha256) throw new Error(`${c.name}: rebuilt WAV has sha256 ${digest}, the fixture ${c.wav_sha256}`);
  return wav;
}

export const sha256Of = (a: ArrayBufferView): string =>
  crypto.createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
