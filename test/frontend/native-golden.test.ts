/**
 * The native addon must reproduce every golden vector byte for byte. The addon
 * is built by the project's install step, so a missing addon fails this file.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FrontendSettingsError } from '../../src/core/errors.ts';
import { loadNativeFrontend, nativeFrontendUnavailableReason, type NativeFrontend } from '../../src/core/frontend/native.ts';
import { resolveFrontendSettings, type FrontendSettings } from '../../src/core/frontend/settings.ts';
import { testdata } from '../helpers/paths.ts';

interface Vector {
  name: string;
  settings: FrontendSettings;
  input: { num_samples: number; pcm_int16_base64: string };
  shape: [number, number];
  uint16_base64: string;
  activity_detected?: boolean;
}

const VECTOR_DIR = testdata('frontend');
const vectors: Vector[] = readdirSync(VECTOR_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(`${VECTOR_DIR}/${f}`, 'utf8')) as Vector);

function decode<T extends Int16Array | Uint16Array>(b64: string, Ctor: { new (b: ArrayBuffer): T }): T {
  const bytes = Buffer.from(b64, 'base64');
  // Copy into a fresh, aligned buffer (the vectors are little-endian, as is every supported host).
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return new Ctor(ab);
}

const pcmOf = (v: Vector): Int16Array => decode(v.input.pcm_int16_base64, Int16Array);
const expectedOf = (v: Vector): Uint16Array => decode(v.uint16_base64, Uint16Array);

/** First differing index with both values, so a failure says where. */
function assertSameU16(actual: Uint16Array, expected: Uint16Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: first difference at value ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

function requireNative(): NativeFrontend {
  const native = loadNativeFrontend();
  if (native === null) {
    assert.fail(`native frontend addon not available (${nativeFrontendUnavailableReason()}); build it with: npm run build:native`);
  }
  return native;
}

describe('native frontend addon: golden vectors', () => {
  it('finds the vectors', () => {
    assert.ok(vectors.length >= 13, `expected the shared golden vectors in ${VECTOR_DIR}`);
  });

  for (const v of vectors) {
    it(`${v.name}: processSync is bit-exact`, () => {
      const native = requireNative();
      const r = native.processSync(v.settings, pcmOf(v));
      assert.deepEqual([r.height, r.width], v.shape);
      assertSameU16(r.uint16, expectedOf(v), v.name);
      if (v.activity_detected !== undefined) assert.equal(r.activity, v.activity_detected, `${v.name}: activity flag`);
    });

    it(`${v.name}: processBatch is bit-exact`, async () => {
      const native = requireNative();
      const r = await native.processBatch(v.settings, [pcmOf(v)]);
      assert.deepEqual([r.height, r.width], v.shape);
      assert.equal(r.uint16.length, 1);
      assertSameU16(r.uint16[0]!, expectedOf(v), v.name);
      if (v.activity_detected !== undefined) assert.equal(r.activity[0], v.activity_detected, `${v.name}: activity flag`);
    });
  }
});

describe('native frontend addon: batches', () => {
  const defaults = resolveFrontendSettings({});
  const sameSettings = vectors.filter(
    (v) => JSON.stringify(resolveFrontendSettings(v.settings)) === JSON.stringify(defaults),
  );

  it('a batch equals clip-by-clip processing, in order, across several work items', async () => {
    const native = requireNative();
    assert.ok(sameSettings.length >= 3, 'need several default-settings vectors');
    // 4 copies of each clip, interleaved, so the batch spans several pool work items.
    const batch: Vector[] = [];
    for (let rep = 0; rep < 4; rep++) batch.push(...sameSettings);
    const r = await native.processBatch(defaults, batch.map(pcmOf));
    assert.equal(r.uint16.length, batch.length);
    assert.equal(r.activity.length, batch.length);
    batch.forEach((v, i) => {
      assertSameU16(r.uint16[i]!, expectedOf(v), `clip ${i} (${v.name})`);
      assertSameU16(r.uint16[i]!, native.processSync(defaults, pcmOf(v)).uint16, `clip ${i} vs sync`);
    });
  });

  it('gives the same bytes with 1 and 2 threads (options.threads), and through a callback after options', async () => {
    const native = requireNative();
    const batch: Vector[] = [];
    for (let rep = 0; rep < 3; rep++) batch.push(...sameSettings);
    const one = await native.processBatch(defaults, batch.map(pcmOf), { threads: 1 });
    const two = await native.processBatch(defaults, batch.map(pcmOf), { threads: 2 });
    batch.forEach((v, i) => {
      assertSameU16(one.uint16[i]!, expectedOf(v), `1 thread, clip ${i}`);
      assertSameU16(two.uint16[i]!, expectedOf(v), `2 threads, clip ${i}`);
    });
    const viaCallback = await new Promise<Uint16Array>((resolve, reject) => {
      native.addon.processBatch(defaults, [pcmOf(batch[1]!)], { threads: 1 }, (err, res) => (err ? reject(err) : resolve(res!.uint16)));
    });
    assertSameU16(viaCallback, expectedOf(batch[1]!), 'options + callback');
  });

  it('rejects a bad options.threads', async () => {
    const native = requireNative();
    for (const threads of [0, 1.5, -1, 'two', Number.NaN]) {
      await assert.rejects(
        native.addon.processBatch(defaults, [], { threads } as unknown as { threads: number }),
        /options\.threads must be an integer/,
        `threads ${String(threads)}`,
      );
    }
  });

  it('reads every clip before taking any data pointer: a getter that detaches an earlier clip is caught', async () => {
    const native = requireNative();
    const first = new Int16Array(16000);
    const clips: Int16Array[] = [first, new Int16Array(16000)];
    Object.defineProperty(clips, 1, {
      get() {
        structuredClone(first.buffer, { transfer: [first.buffer] }); // detaches clip 0
        return new Int16Array(16000);
      },
    });
    await assert.rejects(native.processBatch(defaults, clips), /clip 0 has 0 samples/);
  });

  it('honours the byteOffset of clips that are views into a larger buffer', async () => {
    const native = requireNative();
    const v = sameSettings[0]!;
    const pcm = pcmOf(v);
    const big = new Int16Array(pcm.length + 7).fill(-32768);
    big.set(pcm, 3);
    const view = big.subarray(3, 3 + pcm.length);
    assertSameU16(native.processSync(defaults, view).uint16, expectedOf(v), 'sync on a view');
    const r = await native.processBatch(defaults, [view, view]);
    assertSameU16(r.uint16[1]!, expectedOf(v), 'batch on a view');
  });

  it('activity flags are per clip', async () => {
    const native = requireNative();
    const act = vectors.find((v) => v.activity_detected === true);
    const silence = vectors.find((v) => v.name === 'defaults_silence');
    assert.ok(act && silence);
    const r = await native.processBatch(act.settings, [pcmOf(silence), pcmOf(act), pcmOf(silence), pcmOf(act)]);
    assert.deepEqual(r.activity, [false, true, false, true]);
  });

  it('copies its inputs: mutating clips after the call does not change the result', async () => {
    const native = requireNative();
    const v = sameSettings[0]!;
    const clips = Array.from({ length: 8 }, () => pcmOf(v));
    const pending = native.processBatch(defaults, clips);
    for (const c of clips) c.fill(12345);
    const r = await pending;
    for (let i = 0; i < clips.length; i++) assertSameU16(r.uint16[i]!, expectedOf(v), `clip ${i}`);
  });

  it('an empty batch resolves with no clips and the settings shape', async () => {
    const native = requireNative();
    const r = await native.processBatch(defaults, []);
    assert.deepEqual(r, { uint16: [], activity: [], height: 98, width: 32 });
  });

  it('the raw addon also supports a node-style callback', async () => {
    const native = requireNative();
    const v = sameSettings[0]!;
    const result = await new Promise<Uint16Array>((resolve, reject) => {
      const ret = native.addon.processBatch(defaults, [pcmOf(v)], (err, res) => {
        if (err) reject(err);
        else resolve(res!.uint16);
      });
      assert.equal(ret, undefined);
    });
    assertSameU16(result, expectedOf(v), 'callback result');
  });
});

describe('native frontend addon: validation', () => {
  const clip16k = new Int16Array(16000);

  const invalid: [string, Partial<FrontendSettings>, RegExp][] = [
    ['pcan without noise reduction', { pcan_enable: true }, /pcan_enable/],
    ['step longer than window', { window_step_ms: 30 }, /window_step_ms/],
    ['upper band limit above Nyquist', { sample_rate_hz: 8000, sample_length_ms: 1000 }, /filterbank_upper_band_limit/],
    ['clip shorter than a window', { sample_length_ms: 10 }, /sample_length_ms/],
    ['PCAN with too few smoothing bits', { noise_reduction_enable: true, pcan_enable: true, noise_reduction_smoothing_bits: 2 }, /noise_reduction_smoothing_bits/],
    ['DC notch coefficient of 1', { dc_notch_filter_enable: true, dc_notch_filter_coefficient: 1 }, /dc_notch_filter_coefficient/],
    ['non-integer channel count', { filterbank_n_channels: 32.5 }, /filterbank_n_channels/],
    ['string sample rate', { sample_rate_hz: '16000' as unknown as number }, /sample_rate_hz/],
    ['non-boolean toggle', { log_scale_enable: 'yes' as unknown as boolean }, /log_scale_enable/],
  ];

  for (const [what, settings, pattern] of invalid) {
    it(`raw addon rejects ${what}, naming the setting`, async () => {
      const native = requireNative();
      await assert.rejects(native.addon.processBatch(settings, [clip16k]), (err: Error) => {
        assert.match(err.message, pattern);
        return true;
      });
      assert.throws(() => native.addon.processSync(settings, clip16k), pattern);
    });

    it(`wrapper rejects ${what} with FrontendSettingsError`, async () => {
      const native = requireNative();
      const s = settings as FrontendSettings;
      await assert.rejects(native.processBatch(s, [clip16k]), (err: Error) => {
        assert.ok(err instanceof FrontendSettingsError, `got ${err.name}: ${err.message}`);
        assert.match(err.message, pattern);
        return true;
      });
    });
  }

  it('rejects a clip of the wrong length, naming its index and the expected length', async () => {
    const native = requireNative();
    const good = new Int16Array(16000);
    await assert.rejects(native.processBatch(resolveFrontendSettings({}), [good, good, new Int16Array(15999)]), (err: Error) => {
      assert.match(err.message, /clip 2\b/);
      assert.match(err.message, /15999/);
      assert.match(err.message, /16000/);
      return true;
    });
    assert.throws(() => native.processSync(resolveFrontendSettings({}), new Int16Array(100)), /100 samples.*16000/);
  });

  it('rejects a clip that is not an Int16Array, naming its index', async () => {
    const native = requireNative();
    const clips = [new Int16Array(16000), new Float32Array(16000)] as unknown as Int16Array[];
    await assert.rejects(native.processBatch(resolveFrontendSettings({}), clips), /clip 1 is not an Int16Array/);
  });

  it('callback mode reports argument errors on a later tick, never synchronously', async () => {
    const native = requireNative();
    let calledSync = true;
    const err = await new Promise<Error | null>((resolve) => {
      native.addon.processBatch({ pcan_enable: true }, [clip16k], (e) => resolve(e));
      calledSync = false;
    });
    assert.equal(calledSync, false);
    assert.match(String(err?.message), /pcan_enable/);
  });

  it('rejects non-array clips and non-object settings', async () => {
    const native = requireNative();
    await assert.rejects(native.addon.processBatch({}, 'nope' as unknown as Int16Array[]), /clips must be an array/);
    await assert.rejects(native.addon.processBatch(null as unknown as FrontendSettings, []), /settings must be an object/);
  });
});
