/**
 * The native whole-clip pipeline (addon featurizeWav + TypeScript fallback) must give
 * the TypeScript pipeline's bytes (decodeWav -> prepareSample -> toInt16 -> the
 * TypeScript Frontend) for every clip, and the same failures (reason and message).
 * Every comparison also checks that the clips that should run natively did, so a
 * pipeline that silently fell back everywhere would fail here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resamplerStatus } from '../../src/core/audio/resample.ts';
import { WavDecodeError } from '../../src/core/errors.ts';
import {
  loadNativeFrontend,
  nativeFrontendUnavailableReason,
  WAV_CLIP_FALLBACK_FORMAT,
  WAV_CLIP_FALLBACK_TRIM,
  WAV_CLIP_NATIVE,
  type NativeFrontend,
} from '../../src/core/frontend/native.ts';
import { frontendSizes, resolveFrontendSettings, type FrontendSettings } from '../../src/core/frontend/settings.ts';
import {
  featurizeWavBatchNative,
  featurizeWavBatchTs,
  type WavBatchInput,
  type WavBatchResult,
} from '../../src/core/frontend/wav-batch.ts';
import { testdata } from '../helpers/paths.ts';
import { mulberry32 } from '../helpers/random.ts';

function requireNative(): NativeFrontend {
  const native = loadNativeFrontend();
  if (native === null) {
    assert.fail(`native frontend addon not available (${nativeFrontendUnavailableReason()}); build it with: npm run build:native`);
  }
  return native;
}

const DEFAULTS = resolveFrontendSettings({});
const BATCH = 64; // a shard

interface Clip {
  name: string;
  bytes: WavBatchInput;
}

function listWavs(dir: string): Clip[] {
  const out: Clip[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.wav')) out.push({ name: path.relative(dir, p), bytes: new Uint8Array(fs.readFileSync(p)) });
    }
  };
  walk(dir);
  return out;
}

function reasonOf(err: unknown): string {
  return err instanceof WavDecodeError ? err.reason : `${(err as Error).name}: ${(err as Error).message}`;
}

interface Compared {
  ts: WavBatchResult;
  native: WavBatchResult;
  /** The addon's own per-clip status (only when every input is a Uint8Array). */
  status: Uint8Array | null;
}

/**
 * Runs both pipelines over `clips` in shard-sized batches and asserts identical rows
 * and failures. Output arrays are prefilled with different garbage, so a row that one
 * side forgot to write shows up as a difference.
 */
async function compare(
  native: NativeFrontend,
  clips: Clip[],
  trim: number,
  settings: FrontendSettings = DEFAULTS,
): Promise<Compared> {
  const { height, width } = frontendSizes(settings);
  const row = height * width;
  const result: Compared = { ts: { failures: [], viaTypeScript: [] }, native: { failures: [], viaTypeScript: [] }, status: null };
  const statuses: number[] = [];
  for (let b = 0; b < clips.length; b += BATCH) {
    const part = clips.slice(b, b + BATCH);
    const wavs = part.map((c) => c.bytes);
    const files = part.map((c) => c.name);
    const outTs = new Uint16Array(part.length * row).fill(0xbeef);
    const outNative = new Uint16Array(part.length * row).fill(0x1234);
    const ts = await featurizeWavBatchTs(settings, trim, wavs, outTs, { files });
    const nat = await featurizeWavBatchNative(native, settings, trim, wavs, outNative, { files });
    for (let i = 0; i < part.length; i++) {
      const a = outNative.subarray(i * row, (i + 1) * row);
      const e = outTs.subarray(i * row, (i + 1) * row);
      const at = a.findIndex((v, k) => v !== e[k]);
      if (at >= 0) assert.fail(`${part[i]!.name}: value ${at} of its row: native pipeline ${a[at]}, TypeScript ${e[at]}`);
    }
    const show = (r: WavBatchResult) =>
      r.failures.map((f) => ({ clip: part[f.index]!.name, reason: reasonOf(f.error), message: (f.error as Error).message }));
    assert.deepEqual(show(nat), show(ts), 'same failures, same reasons, same messages');
    result.ts.failures.push(...ts.failures.map((f) => ({ ...f, index: f.index + b })));
    result.native.failures.push(...nat.failures.map((f) => ({ ...f, index: f.index + b })));
    result.ts.viaTypeScript.push(...ts.viaTypeScript.map((i) => i + b));
    result.native.viaTypeScript.push(...nat.viaTypeScript.map((i) => i + b));
    if (wavs.every((w) => w instanceof Uint8Array)) {
      const topDb = trim === 0 ? null : Math.trunc(trim);
      statuses.push(...(await native.featurizeWav(settings, topDb, wavs as Uint8Array[], new Uint16Array(part.length * row))));
    }
  }
  if (statuses.length === clips.length) result.status = Uint8Array.from(statuses);
  return result;
}

// ---------------------------------------------------------------- WAV writing

interface Encoding {
  rate: number;
  channels: number;
  bits: 8 | 16 | 24 | 32;
  float?: boolean;
  extensible?: boolean;
  layout?: 'canonical' | 'list-before-data' | 'data-before-fmt' | 'riff-size-0' | 'trailing-garbage' | 'odd-data-size' | 'fact-chunk';
}

/** Channel 0 is `x` (values in [-1, 1]); other channels get noise, so "first channel" matters. */
function encodeWav(x: Float64Array, enc: Encoding, rand: () => number): Uint8Array {
  const bytesPer = enc.bits / 8;
  const align = bytesPer * enc.channels;
  let dataLen = x.length * align;
  const oddTail = enc.layout === 'odd-data-size' ? 1 : 0;
  const data = Buffer.alloc(dataLen + oddTail);
  for (let i = 0; i < x.length; i++) {
    for (let c = 0; c < enc.channels; c++) {
      const v = c === 0 ? x[i]! : (rand() * 2 - 1) * 0.3;
      const at = i * align + c * bytesPer;
      if (enc.float) data.writeFloatLE(v, at);
      else if (enc.bits === 8) data.writeUInt8(Math.max(0, Math.min(255, Math.round(v * 128) + 128)), at);
      else if (enc.bits === 16) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32768))), at);
      else if (enc.bits === 24) data.writeIntLE(Math.max(-8388608, Math.min(8388607, Math.round(v * 8388608))), at, 3);
      else data.writeInt32LE(Math.max(-2147483648, Math.min(2147483647, Math.round(v * 2147483648))), at);
    }
  }
  dataLen += oddTail;
  const fmtLen = enc.extensible ? 40 : 16;
  const fmt = Buffer.alloc(8 + fmtLen);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(fmtLen, 4);
  fmt.writeUInt16LE(enc.extensible ? 0xfffe : enc.float ? 3 : 1, 8);
  fmt.writeUInt16LE(enc.channels, 10);
  fmt.writeUInt32LE(enc.rate, 12);
  fmt.writeUInt32LE(enc.rate * align, 16);
  fmt.writeUInt16LE(align, 20);
  fmt.writeUInt16LE(enc.bits, 22);
  if (enc.extensible) {
    fmt.writeUInt16LE(22, 24);
    fmt.writeUInt16LE(enc.bits, 26);
    fmt.writeUInt32LE(enc.channels === 1 ? 4 : 3, 28);
    Buffer.from([enc.float ? 3 : 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]).copy(fmt, 32);
  }
  const dataChunk = Buffer.concat([Buffer.from('data', 'latin1'), u32(dataLen), data, Buffer.alloc(dataLen & 1)]);
  const chunk = (id: string, body: Buffer) => Buffer.concat([Buffer.from(id, 'latin1'), u32(body.length), body, Buffer.alloc(body.length & 1)]);
  let chunks: Buffer[];
  switch (enc.layout) {
    case 'list-before-data':
      chunks = [fmt, chunk('LIST', Buffer.from('INFOICMT\x03\x00\x00\x00ab\x00', 'latin1')), dataChunk];
      break;
    case 'data-before-fmt':
      chunks = [dataChunk, fmt];
      break;
    case 'fact-chunk':
      chunks = [fmt, chunk('fact', u32(x.length)), dataChunk];
      break;
    default:
      chunks = [fmt, dataChunk];
  }
  const body = Buffer.concat(chunks);
  const riffSize = enc.layout === 'riff-size-0' ? 0 : 4 + body.length;
  const file = Buffer.concat([Buffer.from('RIFF', 'latin1'), u32(riffSize), Buffer.from('WAVE', 'latin1'), body]);
  return new Uint8Array(enc.layout === 'trailing-garbage' ? Buffer.concat([file, Buffer.from('garbage!'.repeat(20))]) : file);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

// ---------------------------------------------------------------- seeded clips

/**
 * A seeded clip: silence (zeros or low noise) around one to three speech-like bursts,
 * with the background sometimes set within a fraction of a dB of the trim threshold
 * relative to the bursts, random lengths from a few samples to 3 s, and a random
 * encoding (mostly 16-bit PCM at 16 kHz, the native case).
 */
function randomClip(rand: () => number, index: number, topDb: number): Clip & { expectNative: boolean } {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  const enc: Encoding =
    r < 0.62
      ? { rate: 16000, channels: 1, bits: 16 }
      : r < 0.68
        ? { rate: 16000, channels: pick([2, 3]), bits: 16 }
        : r < 0.72
          ? { rate: 16000, channels: 1, bits: 16, extensible: true }
          : r < 0.76
            ? { rate: 16000, channels: 1, bits: 8 }
            : r < 0.8
              ? { rate: 16000, channels: 1, bits: 24 }
              : r < 0.84
                ? { rate: 16000, channels: 1, bits: 32 }
                : r < 0.9
                  ? { rate: 16000, channels: 1, bits: 32, float: true }
                  : { rate: pick([8000, 11025, 22050, 44100, 48000]), channels: 1, bits: 16 };
  if (enc.bits === 16 && !enc.float) {
    enc.layout = pick(['canonical', 'canonical', 'canonical', 'list-before-data', 'data-before-fmt', 'riff-size-0', 'trailing-garbage', 'odd-data-size', 'fact-chunk'] as const);
  }
  const rate = enc.rate;
  const lengthKind = rand();
  const n =
    lengthKind < 0.1
      ? 1 + Math.floor(rand() * 600)
      : lengthKind < 0.35
        ? Math.floor(rate * (0.1 + rand() * 0.85))
        : lengthKind < 0.55
          ? rate
          : lengthKind < 0.75
            ? rate + Math.floor(rand() * 800) - 400
            : Math.floor(rate * (1 + rand() * 2));
  const x = new Float64Array(n);
  const gain = pick([0.002, 0.05, 0.3, 0.9, 1.2]); // 1.2 clips at full scale
  const background = rand();
  // Background: exact zeros, a faint hiss, or a steady tone `topDb + delta` dB below the bursts.
  const delta = pick([-1, -0.1, -0.01, -0.001, 0.001, 0.01, 0.1, 1]);
  const bgAmp = background < 0.3 ? 0 : background < 0.55 ? gain * 0.002 * rand() : gain * 0.5 * 10 ** (-(topDb + delta) / 20);
  const bgFreq = 50 + rand() * 3000;
  for (let i = 0; i < n; i++) {
    x[i] = background < 0.55 ? bgAmp * (rand() * 2 - 1) : bgAmp * Math.sin((2 * Math.PI * bgFreq * i) / rate);
  }
  const bursts = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < bursts; k++) {
    const len = Math.floor(rate * (0.03 + rand() * 0.4));
    const at = Math.floor(rand() * Math.max(1, n - len));
    const pitch = 90 + rand() * 200;
    for (let i = 0; i < len && at + i < n; i++) {
      const env = Math.sin((Math.PI * i) / len);
      let v = 0;
      for (let h = 1; h <= 6; h++) v += Math.sin((2 * Math.PI * pitch * h * i) / rate) / h;
      x[at + i] += gain * 0.5 * env * v;
    }
  }
  for (let i = 0; i < n; i++) x[i] = Math.max(-1, Math.min(1, x[i]!));
  // 16-bit PCM runs natively at any rate (other rates through libsoxr).
  const expectNative = enc.bits === 16 && !enc.float;
  const name = `seeded ${index}: ${enc.bits}-bit${enc.float ? ' float' : ''}${enc.extensible ? ' extensible' : ''} ${enc.channels}ch ${enc.rate} Hz ${enc.layout ?? ''} n=${n} gain=${gain} bg=${bgAmp.toExponential(2)}`;
  return { name, bytes: encodeWav(x, enc, rand), expectNative };
}

function seededClips(count: number, seed: number, topDb: number): (Clip & { expectNative: boolean })[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => randomClip(rand, i, topDb));
}

function clipOf(name: string, samples: number[] | Int16Array, rate = 16000): Clip {
  const x = Float64Array.from(samples, (s) => s / 32768);
  return { name, bytes: encodeWav(x, { rate, channels: 1, bits: 16 }, () => 0) };
}

/** Native status of every clip the test expects to run natively: native, or (rarely) the trim fallback. */
function assertRanNatively(c: Compared, clips: { name: string }[], expected: (i: number) => boolean): { trimFallbacks: number } {
  assert.ok(c.status, 'statuses');
  let trimFallbacks = 0;
  clips.forEach((clip, i) => {
    const s = c.status![i]!;
    if (expected(i)) {
      assert.ok(s === WAV_CLIP_NATIVE || s === WAV_CLIP_FALLBACK_TRIM, `${clip.name}: expected the native path, got status ${s}`);
      if (s === WAV_CLIP_FALLBACK_TRIM) trimFallbacks++;
    } else {
      assert.equal(s, WAV_CLIP_FALLBACK_FORMAT, `${clip.name}: expected the TypeScript path`);
    }
  });
  return { trimFallbacks };
}

// ---------------------------------------------------------------- tests

describe('native WAV pipeline: parity with the TypeScript pipeline', () => {
  it('corpus-mini: every clip gives the same bytes, and every clip runs natively', async () => {
    const native = requireNative();
    const clips = listWavs(testdata('corpus-mini'));
    assert.ok(clips.length >= 90, `expected the corpus-mini clips, found ${clips.length}`);
    const c = await compare(native, clips, 20);
    assert.deepEqual(c.ts.failures, []);
    const { trimFallbacks } = assertRanNatively(c, clips, () => true);
    assert.equal(trimFallbacks, 0, 'no corpus clip has a frame within 1e-9 dB of the threshold');
  });

  it('corpus-mini-odd: every clip gives the same bytes; 16-bit PCM (also stereo, extensible, LIST, 8 and 44.1 kHz) runs natively', async () => {
    const native = requireNative();
    const clips = listWavs(testdata('corpus-mini-odd'));
    assert.equal(clips.length, 9);
    const c = await compare(native, clips, 20);
    assert.deepEqual(c.ts.failures, []);
    const nativeNames = ['0dd0c2c2', '0dd0fffe', '0dd01400', '0dd00300', '0dd0115f', '0dd08000', '0dd44100'];
    assertRanNatively(c, clips, (i) => nativeNames.some((id) => clips[i]!.name.includes(id)));
  });

  it('bad-wavs: every file gets the same failure reason and message (or the same bytes when valid)', async () => {
    const native = requireNative();
    const clips = listWavs(testdata('bad-wavs'));
    assert.ok(clips.length >= 25, `expected the bad-wavs files, found ${clips.length}`);
    const c = await compare(native, clips, 20);
    const accepted = ['reference-valid.wav', 'valid-short.wav', 'odd-chunk-padded.wav', 'valid-then-garbage.wav'];
    const failed = new Set(c.ts.failures.map((f) => clips[f.index]!.name));
    for (const clip of clips) assert.equal(failed.has(clip.name), !accepted.includes(clip.name), clip.name);
    // Failure messages name the file, as loadSample's do.
    for (const f of c.native.failures) assert.match((f.error as Error).message, new RegExp(clips[f.index]!.name.replace('.', '\\.')));
    assertRanNatively(c, clips, (i) => accepted.includes(clips[i]!.name));
  });

  it('320 seeded random clips (lengths, silences, near-threshold backgrounds, 8/24/32-bit, float, other rates, odd layouts)', async () => {
    const native = requireNative();
    const clips = seededClips(320, 0x5eed12, 20);
    const c = await compare(native, clips, 20);
    const { trimFallbacks } = assertRanNatively(c, clips, (i) => clips[i]!.expectNative);
    const nativeCount = c.status!.filter((s) => s === WAV_CLIP_NATIVE).length;
    assert.ok(nativeCount >= 200, `most seeded clips are 16-bit PCM and run natively (${nativeCount})`);
    assert.ok(nativeCount < clips.length - 30, 'and a good share (other encodings) takes the TypeScript path');
    assert.ok(trimFallbacks <= 3, `trim fallbacks are rare (${trimFallbacks})`);
    assert.ok(c.ts.failures.length === 0, 'every seeded clip is valid');
  });

  it('16-bit clips at 8k..96k and 16001 Hz, mono and stereo, run natively through libsoxr with the TypeScript bytes; refused rates fall back with the reason', async () => {
    const native = requireNative();
    assert.equal(resamplerStatus().engine, 'soxr', `libsoxr is linked (${resamplerStatus().reason}): install libsoxr-dev and rebuild`);
    const rand = mulberry32(0x50c5);
    const clips: Clip[] = [];
    for (const rate of [8000, 11025, 16001, 22050, 44100, 48000, 96000]) {
      for (const channels of [1, 2]) {
        for (const seconds of [0.4, 1.3]) {
          const n = Math.floor(rate * seconds);
          const x = Float64Array.from({ length: n }, (_, i) => {
            const t = i / rate;
            const burst = t > 0.1 && t < seconds - 0.1 ? Math.sin((Math.PI * (t - 0.1)) / (seconds - 0.2)) : 0;
            return burst * 0.4 * (Math.sin(2 * Math.PI * 300 * t) + 0.5 * Math.sin(2 * Math.PI * 2900 * t)) + (rand() - 0.5) * 1e-3;
          });
          clips.push({ name: `${rate} Hz ${channels}ch ${seconds} s`, bytes: encodeWav(x, { rate, channels, bits: 16 }, rand) });
        }
      }
    }
    const refused = [1, 7, 999].map((rate) => clipOf(`${rate} Hz`, Int16Array.from({ length: 400 }, (_, i) => (i * 37) % 2000), rate));
    const all = [...clips, ...refused];
    for (const trim of [20, 0]) {
      const c = await compare(native, all, trim);
      assertRanNatively(c, all, (i) => i < clips.length);
      assert.deepEqual(
        c.native.failures.map((f) => [all[f.index]!.name, reasonOf(f.error)]),
        refused.map((r) => [r.name, 'sample-rate-too-low']),
      );
    }
  });

  for (const [label, trim, settings] of [
    ['no trim (threshold 0)', 0, DEFAULTS],
    ['top_db 0 (threshold 0.5: nothing is louder than the loudest frame)', 0.5, DEFAULTS],
    ['threshold 60.7 (top_db 60)', 60.7, DEFAULTS],
    ['threshold 10', 10, DEFAULTS],
    [
      'micro_speech-like frontend (1.2 s, 30/20 ms, 40 channels, noise reduction, PCAN, DC notch)',
      20,
      resolveFrontendSettings({
        sample_length_ms: 1200,
        window_size_ms: 30,
        window_step_ms: 20,
        filterbank_n_channels: 40,
        noise_reduction_enable: true,
        pcan_enable: true,
        dc_notch_filter_enable: true,
      }),
    ],
  ] as const) {
    it(`96 seeded clips with ${label}`, async () => {
      const native = requireNative();
      const topDb = trim === 0 ? 0 : Math.trunc(trim);
      const clips = seededClips(96, 0xc0ffee + Math.round(trim * 10), topDb);
      const c = await compare(native, clips, trim, settings);
      assertRanNatively(c, clips, (i) => clips[i]!.expectNative);
    });
  }

  it('a frame 20 dB below the loudest, past the last loud frame, takes the TypeScript trim (where C and V8 log10 disagree)', async () => {
    const native = requireNative();
    // Constant 2930 then constant 293: frames inside the second part are 20 dB down in
    // exact arithmetic. V8's Math.log10 puts them at -19.999999999999996 dB (loud, kept),
    // glibc's log10 at exactly -20 (not loud): a native trim that trusted its own log10
    // would cut the clip at 0.45 s instead of 0.96 s.
    const samples = new Int16Array(16000);
    samples.fill(2930, 0, 6000);
    samples.fill(293, 6000);
    const edge = clipOf('exact -20 dB tail', samples);
    const c = await compare(native, [edge], 20);
    assert.deepEqual([...c.status!], [WAV_CLIP_FALLBACK_TRIM]);
    assert.deepEqual(c.native.viaTypeScript, [0]);
    // The same frames between two louder parts do not move the kept range: native.
    const inner = new Int16Array(24000);
    inner.fill(2930, 0, 6000);
    inner.fill(293, 6000, 18000);
    inner.fill(2930, 18000);
    const c2 = await compare(native, [clipOf('exact -20 dB middle', inner)], 20);
    assert.deepEqual([...c2.status!], [WAV_CLIP_NATIVE]);
  });

  it('edge clips: all zeros, one sample, one loud sample, full scale, exactly T, T +- 1, kept part exactly T, quiet below the 1e-5 floor', async () => {
    const native = requireNative();
    const T = 16000;
    const loudAt = (n: number, at: number, v: number) => {
      const s = new Int16Array(n);
      s[at] = v;
      return s;
    };
    const clips = [
      clipOf('zeros T', new Int16Array(T)),
      clipOf('zeros 3 s', new Int16Array(3 * T)),
      clipOf('one sample', [1234]),
      clipOf('one loud sample in silence', loudAt(T, 9000, -32768)),
      clipOf('full scale square', Int16Array.from({ length: T }, (_, i) => (i % 40 < 20 ? 32767 : -32768))),
      clipOf('T+1 loud', Int16Array.from({ length: T + 1 }, (_, i) => 8000 * Math.sin(i / 3))),
      clipOf('T-1 loud', Int16Array.from({ length: T - 1 }, (_, i) => 8000 * Math.sin(i / 3))),
      clipOf('T loud', Int16Array.from({ length: T }, (_, i) => 8000 * Math.sin(i / 3))),
      clipOf('quiet +-1', Int16Array.from({ length: T }, (_, i) => (i % 7 === 0 ? 1 : i % 11 === 0 ? -1 : 0))),
      // 1024 zeros then loud to T + 512: the kept part is [512, T + 512), exactly T long,
      // and MLTK then keeps the head of the untrimmed clip (quirk Q-18).
      clipOf('kept part exactly T (quirk Q-18)', Int16Array.from({ length: T + 512 }, (_, i) => (i < 1024 ? 0 : 6000 * Math.sin(i / 4)))),
      clipOf('512 samples', Int16Array.from({ length: 512 }, (_, i) => 1000 * Math.sin(i))),
      clipOf('513 samples', Int16Array.from({ length: 513 }, (_, i) => 1000 * Math.sin(i))),
    ];
    for (const trim of [20, 0, 0.5]) {
      const c = await compare(native, clips, trim);
      assertRanNatively(c, clips, () => true);
    }
  });

  it('silence entries (null) run natively as sample_length zeros; unread clips (undefined) get zero rows', async () => {
    const native = requireNative();
    const real = listWavs(testdata('corpus-mini')).slice(0, 3);
    const clips: Clip[] = [{ name: 'silence', bytes: null }, real[0]!, { name: 'unread', bytes: undefined }, real[1]!, { name: 'silence 2', bytes: null }];
    const c = await compare(native, clips, 20);
    assert.deepEqual(c.native.viaTypeScript, [], 'silence runs natively; unread clips are skipped');
    assert.deepEqual(c.ts.viaTypeScript, [0, 1, 3, 4]);
    const { height, width } = frontendSizes(DEFAULTS);
    const out = new Uint16Array(clips.length * height * width).fill(7);
    await featurizeWavBatchNative(native, DEFAULTS, 20, clips.map((x) => x.bytes), out);
    assert.ok(out.subarray(2 * height * width, 3 * height * width).every((v) => v === 0), 'the unread row is zeros');
  });

  it('1 and 2 threads give the same bytes', async () => {
    const native = requireNative();
    const clips = seededClips(64, 77, 20);
    const { height, width } = frontendSizes(DEFAULTS);
    const outs = [new Uint16Array(64 * height * width), new Uint16Array(64 * height * width)];
    await featurizeWavBatchNative(native, DEFAULTS, 20, clips.map((c) => c.bytes), outs[0]!, { threads: 1 });
    await featurizeWavBatchNative(native, DEFAULTS, 20, clips.map((c) => c.bytes), outs[1]!, { threads: 2 });
    assert.ok(Buffer.from(outs[0]!.buffer).equals(Buffer.from(outs[1]!.buffer)));
  });
});

describe('native WAV pipeline: argument errors', () => {
  const { height, width } = frontendSizes(DEFAULTS);
  const row = height * width;
  const wav = clipOf('tone', Int16Array.from({ length: 16000 }, (_, i) => 5000 * Math.sin(i / 5))).bytes as Uint8Array;

  it('both implementations reject a wrong output size and a bad trim threshold alike', async () => {
    const native = requireNative();
    for (const impl of [featurizeWavBatchTs, (...a: Parameters<typeof featurizeWavBatchTs>) => featurizeWavBatchNative(native, ...a)]) {
      await assert.rejects(impl(DEFAULTS, 20, [wav, wav], new Uint16Array(row)), /out has 3136 values; 2 clips of 98x32 need 6272/);
      await assert.rejects(impl(DEFAULTS, -1, [wav], new Uint16Array(row)), /trim_threshold_db must be a finite number >= 0/);
      await assert.rejects(impl({ ...DEFAULTS, pcan_enable: true }, 20, [wav], new Uint16Array(row)), /pcan_enable/);
    }
  });

  it('the raw addon rejects bad arguments without touching memory', async () => {
    const native = requireNative();
    const a = native.addon;
    await assert.rejects(a.featurizeWav(DEFAULTS, 20, [wav], new Uint16Array(row + 1)), /out has 3137 values/);
    await assert.rejects(a.featurizeWav(DEFAULTS, 20, [wav], new Int16Array(row) as unknown as Uint16Array), /out must be a Uint16Array/);
    await assert.rejects(a.featurizeWav(DEFAULTS, 20, ['x' as unknown as Uint8Array], new Uint16Array(row)), /wav 0 is not a Uint8Array/);
    await assert.rejects(a.featurizeWav(DEFAULTS, -3, [wav], new Uint16Array(row)), /topDb must be null/);
    await assert.rejects(a.featurizeWav(DEFAULTS, 20, [wav], new Uint16Array(row), { threads: 0 }), /options\.threads/);
  });

  it('an output array detached while the pool works is reported, not written', async () => {
    const native = requireNative();
    const out = new Uint16Array(8 * row);
    const pending = native.addon.featurizeWav(DEFAULTS, 20, Array(8).fill(wav), out);
    structuredClone(out.buffer, { transfer: [out.buffer] });
    await assert.rejects(pending, /detached or resized while the batch ran/);
  });

  it('a getter that detaches an earlier wav is seen before any pointer is taken (that clip falls back)', async () => {
    const native = requireNative();
    const first = new Uint8Array(wav);
    const wavs: Uint8Array[] = [first, wav];
    Object.defineProperty(wavs, 1, {
      get() {
        structuredClone(first.buffer, { transfer: [first.buffer] });
        return wav;
      },
    });
    const status = await native.addon.featurizeWav(DEFAULTS, 20, wavs, new Uint16Array(2 * row));
    assert.deepEqual([...status], [WAV_CLIP_FALLBACK_FORMAT, WAV_CLIP_NATIVE]);
  });
});
