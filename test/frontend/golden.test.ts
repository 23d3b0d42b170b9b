import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FrontendSettingsError } from '../../src/core/errors.ts';
import { activityDetectionConstants } from '../../src/core/frontend/activity-detection.ts';
import { dcNotchCoefficient, dcNotchFilter } from '../../src/core/frontend/dc-notch.ts';
import { FixedPointRealFft } from '../../src/core/frontend/fft.ts';
import {
  buildFilterbank,
  filterbankAccumulate,
  filterbankEnergy,
  filterbankSqrt,
} from '../../src/core/frontend/filterbank.ts';
import type { SpectrogramResult } from '../../src/core/frontend/frontend.ts';
import { Frontend, computeSpectrogram } from '../../src/core/frontend/frontend.ts';
import { logScaleApply } from '../../src/core/frontend/log-scale.ts';
import { noiseReductionApply, noiseReductionConstants } from '../../src/core/frontend/noise-reduction.ts';
import { convertSpectrogram, dynamicInt8, dynamicQuantizeRange, staticInt8 } from '../../src/core/frontend/output.ts';
import { pcanApply, pcanConstants } from '../../src/core/frontend/pcan.ts';
import type { FrontendSettings } from '../../src/core/frontend/settings.ts';
import {
  correctionBits,
  frontendShape,
  frontendSizes,
  resolveFrontendSettings,
  settingsHash,
} from '../../src/core/frontend/settings.ts';
import { fftInputShift, hannWindowQ12, windowFrame } from '../../src/core/frontend/window.ts';
import { testdata } from '../helpers/paths.ts';

interface TraceFrame {
  frame: number;
  window_output: number[];
  max_abs_window_output: number;
  input_shift: number;
  fft_real: number[];
  fft_imag: number[];
  energy_start_index: number;
  energy: number[];
  accumulators: number[];
  filterbank_sqrt_shifted: number[];
  after_noise_reduction?: number[];
  noise_estimate?: number[];
  after_pcan?: number[];
  log_correction_bits: number;
  output_uint16: number[];
}

interface Vector {
  name: string;
  settings: Record<string, unknown>;
  input: { sample_rate_hz: number; num_samples: number; pcm_int16_base64: string };
  shape: [number, number];
  derived: { sample_length: number; window_size_samples: number; window_step_samples: number; fft_size: number };
  uint16_base64: string;
  uint16_sha256: string;
  int8_base64: string;
  int8_dynamic_base64?: string;
  dynamic_quantize_range?: number;
  int8_returned_by_mltk: 'int8_base64' | 'int8_dynamic_base64';
  activity_detected?: boolean;
  tables?: {
    window_size: number;
    window_step: number;
    fft_size: number;
    window_coefficients: number[];
    filterbank: {
      num_channels: number;
      start_index: number;
      end_index: number;
      bands: { first_bin: number; weights: number[]; unweights: number[] }[];
    };
    noise_reduction?: { smoothing_bits: number; even_smoothing: number; odd_smoothing: number; min_signal_remaining: number };
    pcan?: { snr_shift: number; gain_lut: number[] };
    activity_detection?: { scale: number; alpha_a: number; alpha_b: number; arm_threshold: number; trip_threshold: number };
    dc_notch_coef?: number;
    dynamic_range: number;
  };
  trace?: TraceFrame[];
}

const DIR = testdata('frontend');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

const bytes = (b64: string): Buffer => Buffer.from(b64, 'base64');
const view = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function int16(b64: string): Int16Array {
  const b = bytes(b64);
  const out = new Int16Array(b.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(2 * i);
  return out;
}

function uint16(b64: string): Uint16Array {
  const b = bytes(b64);
  const out = new Uint16Array(b.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = b.readUInt16LE(2 * i);
  return out;
}

/** Byte comparison that reports the first differing [frame, channel]. */
function assertSameSpectrogram(actual: ArrayLike<number>, expected: ArrayLike<number>, width: number): void {
  assert.equal(actual.length, expected.length, 'value count');
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `first difference at frame ${Math.floor(i / width)}, channel ${i % width}: got ${actual[i]}, expected ${expected[i]}`,
      );
    }
  }
}

function load(file: string): Vector {
  return JSON.parse(readFileSync(`${DIR}/${file}`, 'utf8')) as Vector;
}

it('finds golden vectors in the shared test data', () => {
  assert.ok(FILES.length > 0, `no *.json vectors in ${DIR}`);
});

for (const file of FILES) {
  const v = load(file);
  const settings = resolveFrontendSettings(v.settings as Partial<FrontendSettings>);
  const pcm = int16(v.input.pcm_int16_base64);
  let cached: SpectrogramResult | undefined;
  const result = (): SpectrogramResult => (cached ??= computeSpectrogram(settings, pcm));
  const [height, width] = v.shape;

  describe(`vector ${v.name}`, () => {
    it('reproduces the uint16 spectrogram byte for byte', () => {
      const r = result();
      assertSameSpectrogram(r.uint16, uint16(v.uint16_base64), width);
      assert.ok(view(r.uint16).equals(bytes(v.uint16_base64)));
    });

    it('matches the uint16 sha256', () => {
      assert.equal(createHash('sha256').update(view(result().uint16)).digest('hex'), v.uint16_sha256);
    });

    it('has the vector shape', () => {
      const r = result();
      assert.deepEqual([r.height, r.width], [height, width]);
      assert.deepEqual(frontendShape(settings), { height, width });
      assert.equal(r.uint16.length, height * width);
    });

    it('derives the vector sizes', () => {
      const z = frontendSizes(settings);
      assert.deepEqual(
        [z.sampleLength, z.windowSize, z.windowStep, z.fftSize],
        [v.derived.sample_length, v.derived.window_size_samples, v.derived.window_step_samples, v.derived.fft_size],
      );
      assert.equal(pcm.length, v.input.num_samples);
    });

    it('reproduces the static int8 conversion', () => {
      const got = staticInt8(result().uint16);
      assertSameSpectrogram(got, new Int8Array(bytes(v.int8_base64)), width);
    });

    if (v.int8_dynamic_base64 !== undefined) {
      const dynamic = v.int8_dynamic_base64;
      it('derives the dynamic quantize range', () => {
        assert.equal(dynamicQuantizeRange(settings), v.dynamic_quantize_range);
      });
      it('reproduces the dynamic int8 conversion', () => {
        const got = dynamicInt8(result().uint16, dynamicQuantizeRange(settings));
        assertSameSpectrogram(got, new Int8Array(bytes(dynamic)), width);
      });
    }

    it(`returns ${v.int8_returned_by_mltk} for dtype int8, as MLTK does`, () => {
      const expected = v[v.int8_returned_by_mltk];
      assert.ok(expected !== undefined, `vector lacks ${v.int8_returned_by_mltk}`);
      const got = convertSpectrogram(result().uint16, settings, 'int8');
      assert.ok(got instanceof Int8Array);
      assertSameSpectrogram(got, new Int8Array(bytes(expected)), width);
    });

    it('returns the uint16 values cast to float32 for dtype float32', () => {
      const u = result().uint16;
      const got = convertSpectrogram(u, settings, 'float32');
      assert.ok(got instanceof Float32Array);
      assertSameSpectrogram(got, Array.from(u), width);
    });

    it('returns the uint16 spectrogram itself for dtype uint16', () => {
      const u = result().uint16;
      assert.equal(convertSpectrogram(u, settings, 'uint16'), u);
    });

    if (v.activity_detected !== undefined) {
      const flag = v.activity_detected;
      it(`reports activity_detected = ${flag}`, () => {
        assert.equal(result().activityDetected, flag);
      });
    } else {
      it('reports no activity when activity detection is off', () => {
        assert.equal(result().activityDetected, false);
      });
    }

    const t = v.tables;
    if (t !== undefined) {
      const z = frontendSizes(settings);

      it('builds the Q12 window coefficients', () => {
        assert.deepEqual([z.windowSize, z.windowStep, z.fftSize], [t.window_size, t.window_step, t.fft_size]);
        assert.deepEqual(Array.from(hannWindowQ12(z.windowSize)), t.window_coefficients);
      });

      it('builds the filterbank bands and weights', () => {
        const fb = buildFilterbank({
          sampleRateHz: settings.sample_rate_hz,
          spectrumSize: z.spectrumSize,
          numChannels: settings.filterbank_n_channels,
          lowerBandLimit: settings.filterbank_lower_band_limit,
          upperBandLimit: settings.filterbank_upper_band_limit,
        });
        assert.ok(fb !== null);
        assert.deepEqual(
          [fb.numChannels, fb.startIndex, fb.endIndex],
          [t.filterbank.num_channels, t.filterbank.start_index, t.filterbank.end_index],
        );
        const bands = Array.from(fb.bandFirst, (first, c) => {
          const end = first + fb.bandLength[c]!;
          return {
            first_bin: first,
            weights: Array.from(fb.weights.subarray(first, end)),
            unweights: Array.from(fb.unweights.subarray(first, end)),
          };
        });
        assert.deepEqual(bands, t.filterbank.bands);
      });

      if (t.noise_reduction !== undefined) {
        const nr = t.noise_reduction;
        it('derives the Q14 noise reduction constants', () => {
          const c = noiseReductionConstants(settings);
          assert.deepEqual(
            [c.smoothingBits, c.evenSmoothing, c.oddSmoothing, c.minSignalRemaining],
            [nr.smoothing_bits, nr.even_smoothing, nr.odd_smoothing, nr.min_signal_remaining],
          );
        });
      }

      if (t.pcan !== undefined) {
        const pc = t.pcan;
        it('builds the PCAN gain lookup table and SNR shift', () => {
          const c = pcanConstants(settings, z.fftSize);
          assert.equal(c.snrShift, pc.snr_shift);
          assert.deepEqual(Array.from(c.gainLut), pc.gain_lut);
        });
      }

      if (t.activity_detection !== undefined) {
        const ad = t.activity_detection;
        it('derives the activity detection constants', () => {
          const c = activityDetectionConstants(settings);
          assert.deepEqual(
            [c.scale, c.alphaA, c.alphaB, c.armThreshold, c.tripThreshold],
            [ad.scale, ad.alpha_a, ad.alpha_b, ad.arm_threshold, ad.trip_threshold],
          );
        });
      }

      if (t.dc_notch_coef !== undefined) {
        const k = t.dc_notch_coef;
        it('derives the Q15 DC notch coefficient', () => {
          assert.equal(dcNotchCoefficient(settings.dc_notch_filter_coefficient), k);
        });
      }

      it('derives the dynamic range table entry', () => {
        assert.equal(settings.quantize_dynamic_scale_enable ? dynamicQuantizeRange(settings) : 0, t.dynamic_range);
      });
    }

    for (const tr of v.trace ?? []) {
      traceTests(settings, pcm, tr);
    }
  });
}

/** Stage-by-stage checks on a traced frame, each fed from the trace's own previous stage. */
function traceTests(settings: FrontendSettings, pcm: Int16Array, tr: TraceFrame): void {
  const z = frontendSizes(settings);
  const n = settings.filterbank_n_channels;
  const fb = buildFilterbank({
    sampleRateHz: settings.sample_rate_hz,
    spectrumSize: z.spectrumSize,
    numChannels: n,
    lowerBandLimit: settings.filterbank_lower_band_limit,
    upperBandLimit: settings.filterbank_upper_band_limit,
  });
  assert.ok(fb !== null);
  const f = tr.frame;

  it(`frame ${f}: windows the (DC-notched) samples and picks the FFT input shift`, () => {
    let src = pcm;
    if (settings.dc_notch_filter_enable) {
      src = new Int16Array(z.samplesConsumed);
      dcNotchFilter(pcm, z.samplesConsumed, dcNotchCoefficient(settings.dc_notch_filter_coefficient), src);
    }
    const out = new Int16Array(z.fftSize);
    const maxAbs = windowFrame(src, f * z.windowStep, hannWindowQ12(z.windowSize), out);
    assert.deepEqual(Array.from(out.subarray(0, z.windowSize)), tr.window_output);
    assert.equal(maxAbs, tr.max_abs_window_output);
    assert.equal(fftInputShift(maxAbs), tr.input_shift);
  });

  it(`frame ${f}: computes the fixed-point FFT bins`, () => {
    const input = new Int16Array(z.fftSize);
    input.set(tr.window_output);
    const re = new Int16Array(z.spectrumSize);
    const im = new Int16Array(z.spectrumSize);
    new FixedPointRealFft(z.fftSize).forward(input, tr.input_shift, re, im);
    assert.deepEqual(Array.from(re), tr.fft_real);
    assert.deepEqual(Array.from(im), tr.fft_imag);
  });

  it(`frame ${f}: computes the bin energies`, () => {
    const energy = new Float64Array(z.spectrumSize);
    filterbankEnergy(Int16Array.from(tr.fft_real), Int16Array.from(tr.fft_imag), fb.startIndex, fb.endIndex, energy);
    assert.equal(tr.energy_start_index, fb.startIndex);
    assert.deepEqual(Array.from(energy.subarray(fb.startIndex, fb.endIndex)), tr.energy);
  });

  it(`frame ${f}: accumulates the filterbank and takes the shifted square root`, () => {
    const energy = new Float64Array(z.spectrumSize);
    energy.set(tr.energy, tr.energy_start_index);
    const acc = new Float64Array(n + 1);
    filterbankAccumulate(fb, energy, acc);
    assert.deepEqual(Array.from(acc), tr.accumulators);
    const sq = new Uint32Array(n);
    filterbankSqrt(Float64Array.from(tr.accumulators), n, tr.input_shift, sq);
    assert.deepEqual(Array.from(sq), tr.filterbank_sqrt_shifted);
  });

  if (f === 0 && tr.after_noise_reduction !== undefined && tr.noise_estimate !== undefined) {
    const after = tr.after_noise_reduction;
    const est = tr.noise_estimate;
    it('frame 0: applies noise reduction from a zero noise estimate', () => {
      const signal = Uint32Array.from(tr.filterbank_sqrt_shifted);
      const estimate = new Uint32Array(n);
      noiseReductionApply(noiseReductionConstants(settings), estimate, signal, n);
      assert.deepEqual(Array.from(signal), after);
      assert.deepEqual(Array.from(estimate), est);
    });
  }

  if (tr.after_pcan !== undefined && tr.after_noise_reduction !== undefined && tr.noise_estimate !== undefined) {
    const { after_pcan: afterPcan, after_noise_reduction: input, noise_estimate: est } = tr;
    it(`frame ${f}: applies PCAN gain control`, () => {
      const signal = Uint32Array.from(input);
      pcanApply(pcanConstants(settings, z.fftSize), Uint32Array.from(est), signal, n);
      assert.deepEqual(Array.from(signal), afterPcan);
    });
  }

  it(`frame ${f}: applies the log scale and clamps to uint16`, () => {
    assert.equal(correctionBits(z.fftSize), tr.log_correction_bits);
    const input = tr.after_pcan ?? tr.after_noise_reduction ?? tr.filterbank_sqrt_shifted;
    const out = new Uint16Array(n);
    logScaleApply(
      Uint32Array.from(input),
      n,
      settings.log_scale_enable,
      settings.log_scale_shift,
      tr.log_correction_bits,
      out,
      0,
    );
    assert.deepEqual(Array.from(out), tr.output_uint16);
  });
}

describe('Frontend reuse and output conversions', () => {
  const vectors = FILES.map(load);

  it('gives the golden result for every clip when one Frontend processes several clips', () => {
    const defaults = settingsHash(resolveFrontendSettings(undefined));
    const group = vectors.filter((v) => settingsHash(resolveFrontendSettings(v.settings as Partial<FrontendSettings>)) === defaults);
    assert.ok(group.length >= 2, 'needs at least two vectors with default settings');
    const fe = new Frontend(resolveFrontendSettings(undefined));
    for (const v of [...group, ...[...group].reverse()]) {
      assert.ok(view(fe.process(int16(v.input.pcm_int16_base64)).uint16).equals(bytes(v.uint16_base64)), v.name);
    }
  });

  it('resets noise estimates and the DC notch between clips', () => {
    for (const v of vectors.filter((x) => x.settings.noise_reduction_enable || x.settings.dc_notch_filter_enable)) {
      const settings = resolveFrontendSettings(v.settings as Partial<FrontendSettings>);
      const fe = new Frontend(settings);
      const pcm = int16(v.input.pcm_int16_base64);
      fe.process(pcm);
      assert.ok(view(fe.process(pcm).uint16).equals(bytes(v.uint16_base64)), v.name);
    }
  });

  it('rejects pcm whose length is not sample_length', () => {
    const fe = new Frontend(resolveFrontendSettings(undefined));
    assert.throws(() => fe.process(new Int16Array(15999)), (e: unknown) => {
      return e instanceof FrontendSettingsError && /15999/.test(e.message) && /16000/.test(e.message);
    });
    assert.throws(() => computeSpectrogram(resolveFrontendSettings(undefined), new Int16Array(16001)), FrontendSettingsError);
  });

  it('falls back to static int8 when the dynamic range truncates to zero', () => {
    const u = Uint16Array.from([0, 100, 300, 400, 666, 700, 1000]);
    for (const db of [0, 0.1]) {
      const s = resolveFrontendSettings({ quantize_dynamic_scale_enable: true, quantize_dynamic_scale_range_db: db });
      assert.equal(dynamicQuantizeRange(s), 0);
      assert.deepEqual(convertSpectrogram(u, s, 'int8'), staticInt8(u));
    }
  });

  it('uses dynamic int8 with the clip-wide maximum when the range is positive', () => {
    const s = resolveFrontendSettings({ quantize_dynamic_scale_enable: true });
    assert.equal(dynamicQuantizeRange(s), 294);
    const u = Uint16Array.from([0, 100, 406, 500, 700]);
    // mx 700, mn 406, vr 294: (u - 406) * 255 / 294 truncated toward zero, minus 128, clamped.
    assert.deepEqual(Array.from(convertSpectrogram(u, s, 'int8')), [-128, -128, -128, -47, 127]);
  });

  it('maps the static int8 range 0..666 onto -128..127', () => {
    assert.deepEqual(Array.from(staticInt8(Uint16Array.from([0, 1, 2, 333, 662, 663, 666, 65535]))), [
      -128, -128, -127, 0, 126, 127, 127, 127,
    ]);
  });
});
