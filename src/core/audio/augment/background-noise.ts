/**
 * Background-noise files (`bg_noise_dir`): loading, and a cache object that keeps the
 * loaded noises and their trim bounds for the life of its owner (a worker), instead of
 * module state.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { InvalidSettingsError, WavDecodeError } from '../../errors.ts';
import { compareCodePoints } from '../../datasets/code-point-order.ts';
import { readBounded } from '../load.ts';
import { resample } from '../resample.ts';
import { trimBounds } from '../trim.ts';
import { decodeWav, inspectWav } from '../wav.ts';

/** All channels of a WAV, averaged (librosa `load(mono=True)`); decodeWav keeps channel 0. */
function decodeAveraged(bytes: Uint8Array, file: string): { samples: Float32Array; sampleRate: number } {
  const info = inspectWav(bytes, file);
  if (info.channels === 1) {
    const d = decodeWav(bytes, file);
    return { samples: d.samples, sampleRate: d.sampleRate };
  }
  const { frames, blockAlign, channels, bitsPerSample, format } = info;
  const view = new DataView(bytes.buffer, bytes.byteOffset + info.dataOffset, frames * blockAlign);
  const bytesPer = bitsPerSample / 8;
  // Same scaling as decodeWav, per channel.
  const read = (p: number): number => {
    if (format === 'float') {
      const v = view.getFloat32(p, true);
      if (!Number.isFinite(v)) throw new WavDecodeError('non-finite-samples', `non-finite float sample at byte ${p}`, file);
      return v;
    }
    switch (bitsPerSample) {
      case 8:
        return (view.getUint8(p) - 128) / 128;
      case 16:
        return view.getInt16(p, true) / 32768;
      case 24:
        return ((view.getInt8(p + 2) << 16) | (view.getUint8(p + 1) << 8) | view.getUint8(p)) / 8388608;
      default:
        return Math.min(Math.fround(view.getInt32(p, true) / 2147483648), 1 - 2 ** -24);
    }
  };
  const out = new Float32Array(frames);
  for (let i = 0, p = 0; i < frames; i++, p += blockAlign) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += Math.fround(read(p + c * bytesPer));
    out[i] = sum / channels;
  }
  return { samples: out, sampleRate: info.sampleRate };
}

/**
 * Load the background noises of `dir`: names ending exactly in '.wav' (case-sensitive),
 * in code-point order (MLTK uses os.listdir order, which is arbitrary; the file index
 * drawn must mean the same file on every run), channels averaged, resampled to
 * `sampleRateHz`. A missing directory is MLTK's "bg_noise_dir not found".
 */
export async function loadBackgroundNoises(dir: string, sampleRateHz: number): Promise<Float32Array[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new InvalidSettingsError(`bg_noise_dir not found: ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      field: 'bg_noise_dir',
    });
  }
  const wavs = names.filter((n) => n.endsWith('.wav')).sort(compareCodePoints);
  const out: Float32Array[] = [];
  for (const name of wavs) {
    const file = path.join(dir, name);
    // readBounded: a regular file of at most MAX_WAV_FILE_BYTES, opened without blocking (a FIFO is refused).
    const d = decodeAveraged(await readBounded(file), file);
    try {
      out.push(resample(d.samples, d.sampleRate, sampleRateHz));
    } catch (err) {
      // Name the file, as every other error of this loop does.
      if (err instanceof WavDecodeError && err.extra.file === undefined) throw new WavDecodeError(err.reason, err.message, file);
      throw err;
    }
  }
  return out;
}

/**
 * The background noises of each (directory, rate), loaded once per owner (a worker keeps
 * one for its life; a failed load is retried on the next request), and their trim
 * bounds per top_db (pass `trimBounds` as TransformContext.bgTrimBounds).
 */
export class BackgroundNoiseCache {
  private readonly loaded = new Map<string, Promise<Float32Array[]>>();
  private readonly trims = new WeakMap<Float32Array, Map<number, { start: number; end: number }>>();

  /** The noises of `dir` at `sampleRateHz`; none without a directory. */
  load(dir: string | null, sampleRateHz: number): Promise<Float32Array[]> {
    if (!dir) return Promise.resolve([]);
    const key = `${dir}\0${sampleRateHz}`;
    let p = this.loaded.get(key);
    if (!p) {
      p = loadBackgroundNoises(dir, sampleRateHz);
      p.catch(() => this.loaded.delete(key));
      this.loaded.set(key, p);
    }
    return p;
  }

  readonly trimBounds = (noise: Float32Array, topDb: number): { start: number; end: number } => {
    let perDb = this.trims.get(noise);
    if (perDb === undefined) {
      perDb = new Map();
      this.trims.set(noise, perDb);
    }
    let b = perDb.get(topDb);
    if (b === undefined) {
      b = trimBounds(noise, topDb);
      perDb.set(topDb, b);
    }
    return b;
  };
}
