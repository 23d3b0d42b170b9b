import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import wavefile from 'wavefile';
import { decodeWav, inspectWav, type DecodedWav } from '../../src/core/audio/wav.ts';
import { WavDecodeError } from '../../src/core/errors.ts';
import { testdata } from '../helpers/paths.ts';

const read = (...parts: string[]): Uint8Array => new Uint8Array(readFileSync(testdata(...parts)));

/** Expected outcome per file in shared/testdata/bad-wavs (see its README.md). */
const BAD_WAVS: Record<string, { reason: string } | { frames: number }> = {
  'reference-valid.wav': { frames: 16000 },
  'valid-short.wav': { frames: 4000 },
  'empty.wav': { reason: 'empty-file' },
  'not-riff.wav': { reason: 'not-riff' },
  'riff-wrong-form-type.wav': { reason: 'not-wave' },
  'truncated-header.wav': { reason: 'truncated-header' },
  'truncated-data.wav': { reason: 'chunk-overruns-file' },
  'data-size-ffffffff.wav': { reason: 'chunk-overruns-file' },
  'claims-10-hours.wav': { reason: 'chunk-overruns-file' },
  'fmt-channels-0.wav': { reason: 'invalid-channels' },
  'fmt-sample-rate-0.wav': { reason: 'invalid-sample-rate' },
  'fmt-sample-rate-4ghz.wav': { reason: 'invalid-sample-rate' },
  'fmt-bits-7.wav': { reason: 'unsupported-bit-depth' },
  'fmt-block-align-mismatch.wav': { reason: 'block-align-mismatch' },
  'fmt-mp3-0x0055.wav': { reason: 'unsupported-encoding' },
  'fmt-adpcm-0x0002.wav': { reason: 'unsupported-encoding' },
  'fmt-chunk-too-small.wav': { reason: 'fmt-too-small' },
  'no-fmt-chunk.wav': { reason: 'missing-fmt' },
  'no-data-chunk.wav': { reason: 'missing-data' },
  'data-chunk-empty.wav': { reason: 'no-samples' },
  'odd-chunk-padded.wav': { frames: 4000 },
  'odd-chunk-unpadded.wav': { reason: 'chunk-overruns-file' },
  'chunk-size-2gib.wav': { reason: 'chunk-overruns-file' },
  'chunk-size-negative.wav': { reason: 'chunk-overruns-file' },
  'valid-then-garbage.wav': { frames: 4000 },
  'png-named-wav.wav': { reason: 'not-riff' },
};

/** Words the message must contain, so it names the problem and not just a slug. */
const MESSAGE_HINTS: Record<string, RegExp> = {
  'empty-file': /empty/,
  'not-riff': /not a RIFF/,
  'not-wave': /not "WAVE"/,
  'truncated-header': /fmt chunk declares 16 bytes/,
  'chunk-overruns-file': /past the end of the file/,
  'invalid-channels': /channel count 0/,
  'invalid-sample-rate': /sample rate \d+ Hz is outside/,
  'unsupported-bit-depth': /7-bit PCM is not supported/,
  'block-align-mismatch': /block align 3/,
  'unsupported-encoding': /format tag 0x00(55|02) is not supported/,
  'fmt-too-small': /fmt chunk is 8 bytes/,
  'missing-fmt': /no fmt chunk/,
  'missing-data': /no data chunk/,
  'no-samples': /data chunk holds 0 bytes/,
};

const badDir = testdata('bad-wavs');
const badFiles = readdirSync(badDir).filter((f) => f.endsWith('.wav')).sort();

test('bad-wavs: every file on disk has an expected outcome, and every expectation a file', () => {
  assert.deepEqual(badFiles, Object.keys(BAD_WAVS).sort());
});

for (const name of badFiles) {
  test(`bad-wavs/${name}`, () => {
    const expected = BAD_WAVS[name];
    assert.ok(expected, `no expected outcome recorded for ${name}`);
    const bytes = read('bad-wavs', name);
    if ('frames' in expected) {
      const w = decodeWav(bytes, name);
      assert.equal(w.frames, expected.frames);
      assert.equal(w.samples.length, expected.frames);
      assert.equal(w.sampleRate, 16000);
      assert.equal(w.channels, 1);
      return;
    }
    assert.throws(
      () => decodeWav(bytes, name),
      (err: unknown) => {
        assert.ok(err instanceof WavDecodeError, `expected WavDecodeError, got ${String(err)}`);
        assert.equal(err.reason, expected.reason);
        assert.equal(err.status, 422);
        assert.equal(err.extra.reason, expected.reason);
        assert.equal(err.extra.file, name);
        assert.ok(err.message.startsWith(`${name}: `), err.message);
        assert.match(err.message, MESSAGE_HINTS[expected.reason]!);
        return true;
      },
    );
    // inspectWav applies the same validation without decoding.
    assert.throws(() => inspectWav(bytes, name), (err: unknown) => err instanceof WavDecodeError && err.reason === expected.reason);
  });
}

test('bad-wavs: padded LIST chunk and trailing garbage decode to the same samples as valid-short', () => {
  const base = decodeWav(read('bad-wavs', 'valid-short.wav')).samples;
  assert.deepEqual(decodeWav(read('bad-wavs', 'odd-chunk-padded.wav')).samples, base);
  assert.deepEqual(decodeWav(read('bad-wavs', 'valid-then-garbage.wav')).samples, base);
});

test('bad-wavs: the unpadded odd chunk message points at the missing pad byte', () => {
  assert.throws(() => decodeWav(read('bad-wavs', 'odd-chunk-unpadded.wav')), /"LIST" before it may be missing its pad byte/);
});

// --- independent reader (wavefile) for cross-checks -------------------------------

/** Channel `ch` scaled to [-1, 1) by wavefile's own parser. */
function referenceChannel(bytes: Uint8Array, ch: number): Float64Array {
  const wf = new wavefile.WaveFile(bytes);
  const fmt = wf.fmt as { numChannels: number; bitsPerSample: number; audioFormat: number };
  const raw = wf.getSamples(false, Float64Array) as unknown as Float64Array | Float64Array[];
  const chan = fmt.numChannels > 1 ? (raw as Float64Array[])[ch]! : (raw as Float64Array);
  if (fmt.audioFormat === 3) return chan;
  const full = 2 ** (fmt.bitsPerSample - 1);
  return chan.map((v) => v / full);
}

const ODD: Record<string, { rate: number; channels: number; bits: number; format: 'pcm' | 'float'; frames: number }> = {
  'yes/0dd08000_nohash_0.wav': { rate: 8000, channels: 1, bits: 16, format: 'pcm', frames: 8000 },
  'yes/0dd44100_nohash_0.wav': { rate: 44100, channels: 1, bits: 16, format: 'pcm', frames: 44100 },
  'yes/0dd0c2c2_nohash_0.wav': { rate: 16000, channels: 2, bits: 16, format: 'pcm', frames: 16000 },
  'yes/0dd24b17_nohash_0.wav': { rate: 16000, channels: 1, bits: 24, format: 'pcm', frames: 16000 },
  'no/0dd32f10_nohash_0.wav': { rate: 16000, channels: 1, bits: 32, format: 'float', frames: 16000 },
  'no/0dd01400_nohash_0.wav': { rate: 16000, channels: 1, bits: 16, format: 'pcm', frames: 22400 },
  'no/0dd00300_nohash_0.wav': { rate: 16000, channels: 1, bits: 16, format: 'pcm', frames: 4800 },
  'no/0dd0115f_nohash_0.wav': { rate: 16000, channels: 1, bits: 16, format: 'pcm', frames: 16000 },
  'yes/0dd0fffe_nohash_0.wav': { rate: 16000, channels: 1, bits: 16, format: 'pcm', frames: 16000 },
};

test('corpus-mini-odd: the table covers every file', () => {
  const onDisk = ['yes', 'no'].flatMap((d) =>
    readdirSync(testdata('corpus-mini-odd', d))
      .filter((f) => f.endsWith('.wav'))
      .map((f) => `${d}/${f}`),
  );
  assert.deepEqual(onDisk.sort(), Object.keys(ODD).sort());
});

for (const [rel, want] of Object.entries(ODD)) {
  test(`corpus-mini-odd/${rel}: header facts and channel-0 values match an independent reader`, () => {
    const bytes = read('corpus-mini-odd', rel);
    const w: DecodedWav = decodeWav(bytes, rel);
    assert.deepEqual(
      { rate: w.sampleRate, channels: w.channels, bits: w.bitsPerSample, format: w.format, frames: w.frames },
      want,
    );
    const ref = referenceChannel(bytes, 0);
    assert.equal(ref.length, w.frames);
    for (let i = 0; i < w.frames; i++) {
      if (w.samples[i] !== Math.fround(ref[i]!)) assert.fail(`sample ${i}: ${w.samples[i]} != ${ref[i]}`);
    }
    let peak = 0;
    for (const v of w.samples) peak = Math.max(peak, Math.abs(v));
    assert.ok(peak > 0.05 && peak <= 1, `peak ${peak}`);
  });
}

test('corpus-mini-odd: stereo keeps channel 0, not the mean of both channels', () => {
  const bytes = read('corpus-mini-odd', 'yes', '0dd0c2c2_nohash_0.wav');
  const w = decodeWav(bytes);
  const left = referenceChannel(bytes, 0);
  const right = referenceChannel(bytes, 1);
  let diffFromMean = 0;
  for (let i = 0; i < w.frames; i++) {
    assert.equal(w.samples[i], left[i]);
    diffFromMean = Math.max(diffFromMean, Math.abs(w.samples[i]! - (left[i]! + right[i]!) / 2));
  }
  assert.ok(diffFromMean > 0.01, 'decoded channel looks like a down-mix');
});

test('corpus-mini-odd: the LIST chunk file has its samples at byte 98', () => {
  const info = inspectWav(read('corpus-mini-odd', 'no', '0dd0115f_nohash_0.wav'));
  assert.equal(info.dataOffset, 98);
  assert.deepEqual(info.chunks, ['fmt ', 'LIST', 'data']);
  assert.equal(info.dataBytes, 32000);
});

test('corpus-mini-odd: extensible header facts', () => {
  const info = inspectWav(read('corpus-mini-odd', 'yes', '0dd0fffe_nohash_0.wav'));
  assert.equal(info.formatTag, 0xfffe);
  assert.equal(info.format, 'pcm');
  assert.equal(info.bitsPerSample, 16);
  assert.equal(info.dataOffset, 68);
});

// --- synthetic files ----------------------------------------------------------------

interface Spec {
  tag?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  /** Sub-format code for WAVE_FORMAT_EXTENSIBLE (tag 0xFFFE). */
  sub?: number;
  fmtSize?: number;
  data: Uint8Array;
  /** Put the data chunk before the fmt chunk. */
  dataFirst?: boolean;
}

function chunk(id: string, body: Uint8Array): Uint8Array {
  const pad = body.length & 1;
  const out = new Uint8Array(8 + body.length + pad);
  for (let i = 0; i < 4; i++) out[i] = id.charCodeAt(i);
  new DataView(out.buffer).setUint32(4, body.length, true);
  out.set(body, 8);
  return out;
}

function makeWav(s: Spec): Uint8Array {
  const channels = s.channels ?? 1;
  const bits = s.bits ?? 16;
  const tag = s.tag ?? 1;
  const fmtSize = s.fmtSize ?? (tag === 0xfffe ? 40 : 16);
  const fmt = new Uint8Array(fmtSize);
  const v = new DataView(fmt.buffer);
  const rate = s.rate ?? 16000;
  const align = s.blockAlign ?? channels * (bits / 8);
  v.setUint16(0, tag, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate, true);
  v.setUint32(8, rate * align, true);
  v.setUint16(12, align, true);
  v.setUint16(14, bits, true);
  if (fmtSize >= 18) v.setUint16(16, fmtSize - 18, true);
  if (tag === 0xfffe && fmtSize >= 40) {
    v.setUint16(18, bits, true);
    v.setUint32(20, 4, true);
    v.setUint16(24, s.sub ?? 1, true);
    fmt.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  }
  const parts = s.dataFirst ? [chunk('data', s.data), chunk('fmt ', fmt)] : [chunk('fmt ', fmt), chunk('data', s.data)];
  const size = 4 + parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(8 + size);
  out.set([0x52, 0x49, 0x46, 0x46], 0);
  new DataView(out.buffer).setUint32(4, size, true);
  out.set([0x57, 0x41, 0x56, 0x45], 8);
  let at = 12;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function le(values: number[], bytesPer: number, write: (v: DataView, at: number, x: number) => void): Uint8Array {
  const out = new Uint8Array(values.length * bytesPer);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => write(v, i * bytesPer, x));
  return out;
}

const rejectReason = (bytes: Uint8Array): string => {
  try {
    decodeWav(bytes);
  } catch (err) {
    if (err instanceof WavDecodeError) return err.reason;
    throw err;
  }
  return 'accepted';
};

test('16-bit PCM: int16 / 32768 exactly (TensorFlow decode_wav values)', () => {
  const ints = [-32768, -1, 0, 1, 12345, 32767];
  const w = decodeWav(makeWav({ data: le(ints, 2, (v, a, x) => v.setInt16(a, x, true)) }));
  assert.deepEqual(Array.from(w.samples), ints.map((x) => Math.fround(x / 32768)));
  assert.equal(w.samples[5], 32767 / 32768);
});

test('8-bit PCM is unsigned with 128 as zero', () => {
  const w = decodeWav(makeWav({ bits: 8, data: Uint8Array.from([0, 64, 128, 192, 255]) }));
  assert.deepEqual(Array.from(w.samples), [-1, -0.5, 0, 0.5, 127 / 128]);
});

test('24-bit PCM: sign-extended, v / 2^23, exact', () => {
  const ints = [-8388608, -1, 0, 1, 0x123456, 8388607];
  const data = le(ints, 3, (v, a, x) => {
    v.setUint8(a, x & 0xff);
    v.setUint8(a + 1, (x >> 8) & 0xff);
    v.setUint8(a + 2, (x >> 16) & 0xff);
  });
  const w = decodeWav(makeWav({ bits: 24, data }));
  assert.deepEqual(Array.from(w.samples), ints.map((x) => x / 8388608));
});

test('32-bit PCM: v / 2^31 rounded to float32, full scale stays below 1', () => {
  const ints = [-2147483648, 0, 65536, 2147483647, -1];
  const w = decodeWav(makeWav({ bits: 32, data: le(ints, 4, (v, a, x) => v.setInt32(a, x, true)) }));
  assert.equal(w.samples[0], -1);
  assert.equal(w.samples[1], 0);
  assert.equal(w.samples[2], 2 ** -15);
  assert.ok(w.samples[3]! < 1 && w.samples[3]! > 0.9999999);
  assert.equal(w.samples[4], Math.fround(-1 / 2147483648));
});

test('32-bit float is passed through; NaN/Infinity are rejected', () => {
  const vals = [0.25, -1, 1.5, Math.fround(0.1)];
  const w = decodeWav(makeWav({ tag: 3, bits: 32, data: le(vals, 4, (v, a, x) => v.setFloat32(a, x, true)) }));
  assert.equal(w.format, 'float');
  assert.deepEqual(Array.from(w.samples), vals);
  const nan = makeWav({ tag: 3, bits: 32, data: le([0, NaN], 4, (v, a, x) => v.setFloat32(a, x, true)) });
  assert.equal(rejectReason(nan), 'non-finite-samples');
  const inf = makeWav({ tag: 3, bits: 32, data: le([Infinity], 4, (v, a, x) => v.setFloat32(a, x, true)) });
  assert.equal(rejectReason(inf), 'non-finite-samples');
  assert.equal(rejectReason(makeWav({ tag: 3, bits: 16, data: new Uint8Array(4) })), 'unsupported-bit-depth');
  assert.equal(rejectReason(makeWav({ tag: 3, bits: 64, data: new Uint8Array(16) })), 'unsupported-bit-depth');
});

test('WAVE_FORMAT_EXTENSIBLE: PCM and float sub-formats decode, others are rejected', () => {
  const pcm = decodeWav(makeWav({ tag: 0xfffe, sub: 1, data: le([16384, -16384], 2, (v, a, x) => v.setInt16(a, x, true)) }));
  assert.deepEqual(Array.from(pcm.samples), [0.5, -0.5]);
  const flt = decodeWav(makeWav({ tag: 0xfffe, sub: 3, bits: 32, data: le([0.75, -0.125], 4, (v, a, x) => v.setFloat32(a, x, true)) }));
  assert.equal(flt.format, 'float');
  assert.deepEqual(Array.from(flt.samples), [0.75, -0.125]);
  assert.equal(rejectReason(makeWav({ tag: 0xfffe, sub: 2, bits: 4, blockAlign: 256, data: new Uint8Array(256) })), 'unsupported-encoding');
  assert.equal(rejectReason(makeWav({ tag: 0xfffe, fmtSize: 18, data: new Uint8Array(4) })), 'fmt-too-small');
  const oddGuid = makeWav({ tag: 0xfffe, sub: 1, data: new Uint8Array(4) });
  oddGuid[20 + 8 + 30] ^= 0xff; // last GUID byte: RIFF(12) + fmt header(8) + 38
  assert.equal(rejectReason(oddGuid), 'unsupported-encoding');
});

test('multi-channel 24-bit: only channel 0 is returned', () => {
  const ints = [100, -200, 300, 1000, -2000, 3000]; // frames (100,-200,300) and (1000,-2000,3000)
  const data = le(ints, 3, (v, a, x) => {
    v.setUint8(a, x & 0xff);
    v.setUint8(a + 1, (x >> 8) & 0xff);
    v.setUint8(a + 2, (x >> 16) & 0xff);
  });
  const w = decodeWav(makeWav({ bits: 24, channels: 3, data }));
  assert.equal(w.channels, 3);
  assert.deepEqual(Array.from(w.samples), [100 / 8388608, 1000 / 8388608]);
});

test('header limits: channels 1..64, rate 1..384000', () => {
  const d = (channels: number) => new Uint8Array(channels * 2);
  assert.equal(rejectReason(makeWav({ channels: 65, data: d(65) })), 'invalid-channels');
  assert.equal(decodeWav(makeWav({ channels: 64, data: d(64) })).channels, 64);
  assert.equal(rejectReason(makeWav({ rate: 384001, data: d(1) })), 'invalid-sample-rate');
  assert.equal(decodeWav(makeWav({ rate: 384000, data: d(1) })).sampleRate, 384000);
  assert.equal(decodeWav(makeWav({ rate: 1, data: d(1) })).sampleRate, 1);
});

test('a trailing partial frame is ignored; less than one frame is no-samples', () => {
  assert.equal(decodeWav(makeWav({ data: new Uint8Array(5) })).frames, 2);
  assert.equal(rejectReason(makeWav({ data: new Uint8Array(1) })), 'no-samples');
  assert.equal(rejectReason(makeWav({ channels: 2, data: new Uint8Array(3) })), 'no-samples');
});

test('fmt may follow data', () => {
  const w = decodeWav(makeWav({ dataFirst: true, data: le([8192], 2, (v, a, x) => v.setInt16(a, x, true)) }));
  assert.deepEqual(Array.from(w.samples), [0.25]);
});

test('short and odd prefixes: truncated header, RIFX, partial chunk header', () => {
  assert.equal(rejectReason(Uint8Array.from([0x52, 0x49])), 'truncated-header');
  assert.equal(rejectReason(new TextEncoder().encode('RIFF\x04\x00\x00\x00WAV')), 'truncated-header');
  assert.equal(rejectReason(new TextEncoder().encode('RIFX\x00\x00\x00\x00WAVE')), 'not-riff');
  assert.throws(() => decodeWav(new TextEncoder().encode('RIFX\x00\x00\x00\x00WAVE')), /big-endian RIFX/);
  // RIFF/WAVE followed by 5 bytes: a chunk header needs 8.
  assert.equal(rejectReason(new TextEncoder().encode('RIFF\x0d\x00\x00\x00WAVEfmt \x10')), 'truncated-header');
  // Only the WAVE form type, no chunks at all.
  assert.equal(rejectReason(new TextEncoder().encode('RIFF\x04\x00\x00\x00WAVE')), 'missing-fmt');
});

test('RIFF size: 0 means unknown (walk to EOF); too small hides the chunks after it', () => {
  const wav = makeWav({ data: le([8192], 2, (v, a, x) => v.setInt16(a, x, true)) });
  const zero = wav.slice();
  new DataView(zero.buffer).setUint32(4, 0, true);
  assert.deepEqual(Array.from(decodeWav(zero).samples), [0.25]);
  const short = wav.slice();
  new DataView(short.buffer).setUint32(4, 4 + 24, true); // covers fmt only
  assert.throws(() => decodeWav(short), /no data chunk found \(the RIFF size 28 ends the chunk list at byte 36; the 10 bytes after it were ignored\)/);
});

test('decoding works on a view with a non-zero byteOffset', () => {
  const wav = makeWav({ data: le([8192, -8192], 2, (v, a, x) => v.setInt16(a, x, true)) });
  const host = new Uint8Array(wav.length + 3);
  host.set(wav, 3);
  assert.deepEqual(Array.from(decodeWav(host.subarray(3)).samples), [0.25, -0.25]);
});

test('mutated headers never crash, hang or throw anything but WavDecodeError', () => {
  const base = read('bad-wavs', 'odd-chunk-padded.wav');
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  // A hang fails the test by its timeout; no wall-clock assert (CI is a loaded machine).
  let accepted = 0;
  for (let iter = 0; iter < 3000; iter++) {
    const b = base.slice(0, rand() < 0.2 ? Math.floor(rand() * base.length) : base.length);
    const flips = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < flips; k++) {
      const at = Math.floor(rand() * Math.min(80, b.length));
      b[at] = rand() < 0.5 ? Math.floor(rand() * 256) : [0x00, 0xff, 0x7f, 0x80][Math.floor(rand() * 4)]!;
    }
    try {
      const w = decodeWav(b);
      assert.ok(w.frames * (w.bitsPerSample / 8) * w.channels <= b.length);
      accepted++;
    } catch (err) {
      if (!(err instanceof WavDecodeError)) throw err;
    }
  }
  assert.ok(accepted > 0 && accepted < 3000, `accepted ${accepted}`);
});
