/**
 * The native augmentation pipeline (addon augmentBatch, augmentBatchNative) gives the
 * TypeScript reference's bytes (augmentBatchTs: applyTransform, toInt16, the TypeScript
 * Frontend) for every clip of a few hundred, and the same failures (reason and message):
 * every transform (offset, loudness, speed, pitch, VTLP, every noise colour at both
 * levels, background noise), odd lengths, stereo, 8/44.1 kHz, 24-bit and float WAVs,
 * silence entries, unreadable and malformed files, features and raw audio. Each case also
 * checks that the clips that should run natively did, so a pipeline that silently fell
 * back to TypeScript everywhere would fail here.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  augmentRng,
  drawTransformParams,
  loadBackgroundNoises,
  resolveAugmentation,
  type AugmentationSettings,
  type TransformParams,
} from '../../src/core/audio/augment/index.ts';
import { WavDecodeError } from '../../src/core/errors.ts';
import { augmentBatchNative, augmentBatchTs, type AugmentBatchJob, type AugmentClip } from '../../src/core/frontend/augment-batch.ts';
import { frontendSizes, resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import type { WavBatchResult } from '../../src/core/frontend/wav-batch.ts';
import { requireNative } from '../helpers/native.ts';
import { testdata } from '../helpers/paths.ts';
import { mulberry32 } from '../helpers/random.ts';
import { wavBytes } from '../helpers/wav.ts';

const native = requireNative();
const BG_DIR = testdata('corpus-mini', '_background_noise_');

interface Source {
  name: string;
  audio: AugmentClip['audio'];
  /** Expected to run natively (16-bit PCM or decoded, readable, within bounds). */
  native: boolean;
}

function wavsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...wavsUnder(p));
    else if (e.name.endsWith('.wav')) out.push(p);
  }
  return out;
}

/** A WAV of arbitrary encoding: 24-bit PCM or 32-bit float, mono. */
function encodedWav(samples: Float32Array, rate: number, kind: 'pcm24' | 'float'): Uint8Array {
  const bytesPer = kind === 'pcm24' ? 3 : 4;
  const buf = Buffer.alloc(44 + samples.length * bytesPer);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(36 + samples.length * bytesPer, 4);
  buf.write('WAVEfmt ', 8, 'latin1');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(kind === 'pcm24' ? 1 : 3, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * bytesPer, 28);
  buf.writeUInt16LE(bytesPer, 32);
  buf.writeUInt16LE(bytesPer * 8, 34);
  buf.write('data', 36, 'latin1');
  buf.writeUInt32LE(samples.length * bytesPer, 40);
  for (let i = 0; i < samples.length; i++) {
    if (kind === 'float') buf.writeFloatLE(samples[i]!, 44 + 4 * i);
    else buf.writeIntLE(Math.round(samples[i]! * 8388607), 44 + 3 * i, 3);
  }
  return new Uint8Array(buf);
}

function sources(): Source[] {
  const out: Source[] = [];
  for (const f of wavsUnder(testdata('corpus-mini'))) out.push({ name: path.relative(testdata(), f), audio: new Uint8Array(fs.readFileSync(f)), native: true });
  for (const f of wavsUnder(testdata('corpus-mini-odd'))) out.push({ name: path.relative(testdata(), f), audio: new Uint8Array(fs.readFileSync(f)), native: true });
  // Malformed files: the TypeScript decoder names the reason (never native).
  for (const f of ['empty.wav', 'not-riff.wav', 'fmt-adpcm-0x0002.wav', 'truncated-header.wav', 'no-data-chunk.wav']) {
    out.push({ name: f, audio: new Uint8Array(fs.readFileSync(testdata('bad-wavs', f))), native: false });
  }
  const r = mulberry32(2026);
  const tone = (n: number, f: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin(f * i) * (1 + 0.5 * Math.sin(i / 900)) + 0.02 * (r() - 0.5));
  for (const n of [1, 7, 513, 4095, 15999, 16001, 24321]) {
    out.push({ name: `pcm16-${n}`, audio: new Uint8Array(wavBytes(Int16Array.from(tone(n, 0.07), (v) => Math.round(v * 32767)))), native: true });
  }
  const st = new Int16Array(2 * 12000);
  for (let i = 0; i < 12000; i++) {
    st[2 * i] = Math.round(9000 * Math.sin(0.03 * i));
    st[2 * i + 1] = Math.round(20000 * (r() - 0.5));
  }
  out.push({ name: 'stereo-16k', audio: new Uint8Array(wavBytes(st, 16000, 2)), native: true });
  out.push({ name: 'pcm16-22050', audio: new Uint8Array(wavBytes(Int16Array.from(tone(22050, 0.05), (v) => Math.round(v * 32767)), 22050)), native: true });
  out.push({ name: 'pcm24-16k', audio: encodedWav(tone(16000, 0.11), 16000, 'pcm24'), native: true });
  out.push({ name: 'float-48k', audio: encodedWav(tone(48000, 0.02), 48000, 'float'), native: true });
  out.push({ name: 'decoded-11025', audio: { samples: tone(11025, 0.09), sampleRate: 11025 }, native: true });
  out.push({ name: 'silence', audio: null, native: true });
  out.push({ name: 'silence', audio: null, native: true });
  out.push({ name: 'unread', audio: undefined, native: false });
  // A rate the resampler refuses (below its floor): a failure from either side.
  out.push({ name: 'pcm16-500Hz', audio: new Uint8Array(wavBytes(new Int16Array(400).fill(1000), 500)), native: false });
  return out;
}

const SOURCES = sources();

function describeError(e: unknown): string {
  if (e instanceof WavDecodeError) return `${e.reason}: ${e.message}`;
  return `${(e as Error).constructor.name}: ${(e as Error).message}`;
}

interface Case {
  name: string;
  augmentation: AugmentationSettings;
  frontend?: { sample_rate_hz?: number; sample_length_ms?: number; filterbank_upper_band_limit?: number };
  frontendEnabled?: boolean;
  trimThresholdDb?: number;
}

const ALL_TRANSFORMS: AugmentationSettings = {
  offset_range: [0, 1],
  loudness_range: [0.4, 1.6],
  noise_colors: 'all',
  noise_color_range: [0.02, 0.6],
  bg_noise_range: [0.05, 0.3],
  bg_noise_dir: BG_DIR,
  speed_range: [0.8, 1.2],
  pitch_range: [-3, 4],
  vtlp_range: [1, 4],
};

const CASES: Case[] = [
  { name: "every transform, MLTK's noise levels", augmentation: ALL_TRANSFORMS },
  { name: "every transform, 'peak' noise levels", augmentation: { ...ALL_TRANSFORMS, noise_color_level: 'peak' } },
  { name: "MLTK's pitch grid (10–12 steps) and colour noise only", augmentation: { pitch_range: [0.9, 1.1], noise_colors: ['pink', 'brown', 'violet', 'none'], noise_color_range: [0, 1] } },
  { name: 'raw audio rows (frontend off), trim off', augmentation: ALL_TRANSFORMS, frontendEnabled: false, trimThresholdDb: 0 },
  { name: '8 kHz, 750 ms, top_db 35', augmentation: { ...ALL_TRANSFORMS, noise_color_range: [0, 0.2] }, frontend: { sample_rate_hz: 8000, sample_length_ms: 750, filterbank_upper_band_limit: 3800 }, trimThresholdDb: 35.5 },
];

async function run(c: Case, seed: number): Promise<void> {
  const settings = resolveFrontendSettings(c.frontend ?? {});
  const resolved = resolveAugmentation(c.augmentation);
  const bgNoises = resolved.bg_noise_dir ? await loadBackgroundNoises(resolved.bg_noise_dir, settings.sample_rate_hz) : [];
  const job: AugmentBatchJob = {
    settings,
    frontendEnabled: c.frontendEnabled ?? true,
    trimThresholdDb: c.trimThresholdDb ?? 20,
    noiseLevel: resolved.noise_color_level,
    bgNoises,
  };
  const params: TransformParams[] = SOURCES.map((_, i) => drawTransformParams(resolved, augmentRng(seed, 1, 2, i), bgNoises.length));
  const clips: AugmentClip[] = SOURCES.map((s, i) => ({ audio: s.audio, params: params[i]!, file: s.name }));
  const z = frontendSizes(settings);
  const row = job.frontendEnabled ? z.height * z.width : z.sampleLength;
  const make = () => (job.frontendEnabled ? new Uint16Array(clips.length * row) : new Float32Array(clips.length * row));
  const want = make();
  const got = make().fill(7); // rows the native path leaves must be overwritten with zeros
  const rt: WavBatchResult = await augmentBatchTs(job, clips, want);
  const rn: WavBatchResult = await augmentBatchNative(native, job, clips, got, { threads: 2 });
  assert.deepEqual(
    rn.failures.map((f) => [f.index, describeError(f.error)]),
    rt.failures.map((f) => [f.index, describeError(f.error)]),
    'failures',
  );
  const expectFail = SOURCES.map((s, i) => (!s.native && s.audio !== undefined ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(rt.failures.map((f) => f.index), expectFail, 'the malformed and refused clips fail');
  // Nothing that should run natively went through TypeScript.
  const nativeExpected = new Set(SOURCES.map((s, i) => (s.native ? i : -1)).filter((i) => i >= 0));
  assert.deepEqual(rn.viaTypeScript.filter((i) => nativeExpected.has(i)), [], 'clips left to TypeScript');
  for (let i = 0; i < clips.length; i++) {
    const a = Buffer.from(got.buffer, i * row * got.BYTES_PER_ELEMENT, row * got.BYTES_PER_ELEMENT);
    const b = Buffer.from(want.buffer, i * row * want.BYTES_PER_ELEMENT, row * want.BYTES_PER_ELEMENT);
    if (!a.equals(b)) {
      const k = got.subarray(i * row, (i + 1) * row).findIndex((v, j) => !Object.is(v, want[i * row + j]));
      assert.fail(`${c.name}: clip ${i} (${SOURCES[i]!.name}, ${JSON.stringify(params[i])}) differs at value ${k}: native ${got[i * row + k]}, TypeScript ${want[i * row + k]}`);
    }
  }
}

describe('native augmentation == TypeScript augmentation, clip for clip', () => {
  for (const [k, c] of CASES.entries()) {
    test(c.name, async () => {
      await run(c, 100 + k);
    });
  }

  test('the draws cover every transform: all colours, background noise, pitch, speed, VTLP, offsets', () => {
    const resolved = resolveAugmentation(ALL_TRANSFORMS);
    const ps = SOURCES.map((_, i) => drawTransformParams(resolved, augmentRng(100, 1, 2, i), 2));
    assert.ok(SOURCES.length >= 100, `${SOURCES.length} clips per case`);
    assert.deepEqual(new Set(ps.filter((p) => p.noiseColor !== null && p.noiseFactor > 0).map((p) => p.noiseColor)).size, 5);
    assert.ok(ps.some((p) => p.bgNoise !== null) && ps.some((p) => p.pitch !== 0) && ps.some((p) => p.vtlp > 1) && ps.every((p) => p.speed !== 1));
  });
});
