/**
 * The bit-exact MLTK/TFLM microfrontend (frontend.md §3): composes the stage
 * modules. A Frontend builds every table once per settings and reuses its
 * scratch buffers, so processing a clip allocates only the output array.
 */
import { FrontendSettingsError } from '../errors.ts';
import { ActivityDetector, activityDetectionConstants } from './activity-detection.ts';
import { dcNotchCoefficient, dcNotchFilter } from './dc-notch.ts';
import { FixedPointRealFft } from './fft.ts';
import type { FilterbankTables } from './filterbank.ts';
import { buildFilterbank, filterbankAccumulate, filterbankEnergy, filterbankSqrt } from './filterbank.ts';
import { logScaleApply } from './log-scale.ts';
import type { NoiseReductionConstants } from './noise-reduction.ts';
import { noiseReductionApply, noiseReductionConstants } from './noise-reduction.ts';
import type { PcanConstants } from './pcan.ts';
import { pcanApply, pcanConstants } from './pcan.ts';
import type { FrontendSettings, FrontendSizes } from './settings.ts';
import { correctionBits, frontendSizes, resolveFrontendSettings } from './settings.ts';
import { fftInputShift, hannWindowQ12, windowFrame } from './window.ts';


export interface SpectrogramResult {
  /** Row-major [height][width] spectrogram. */
  uint16: Uint16Array;
  height: number;
  width: number;
  /** End-of-clip activity flag; always false when activity detection is off. */
  activityDetected: boolean;
}

export class Frontend {
  readonly settings: FrontendSettings;
  readonly sizes: FrontendSizes;
  readonly window: Int16Array;
  readonly filterbank: FilterbankTables;
  private readonly fft: FixedPointRealFft;
  private readonly noiseReduction: NoiseReductionConstants | null;
  private readonly pcan: PcanConstants | null;
  private readonly activity: ActivityDetector | null;
  private readonly dcNotchK: number | null;
  private readonly correctionBits: number;

  private readonly frame: Int16Array;
  private readonly re: Int16Array;
  private readonly im: Int16Array;
  private readonly energy: Float64Array;
  private readonly acc: Float64Array;
  private readonly signal: Uint32Array;
  private readonly estimate: Uint32Array;
  private readonly notched: Int16Array | null;

  constructor(settings: FrontendSettings) {
    const s = resolveFrontendSettings(settings);
    this.settings = Object.freeze(s);
    const z = frontendSizes(s);
    this.sizes = z;
    this.window = hannWindowQ12(z.windowSize);
    this.fft = new FixedPointRealFft(z.fftSize);
    const fb = buildFilterbank({
      sampleRateHz: s.sample_rate_hz,
      spectrumSize: z.spectrumSize,
      numChannels: s.filterbank_n_channels,
      lowerBandLimit: s.filterbank_lower_band_limit,
      upperBandLimit: s.filterbank_upper_band_limit,
    });
    // resolveFrontendSettings already rejected settings without a valid filterbank.
    if (fb === null) throw new FrontendSettingsError('filterbank_upper_band_limit: the filterbank runs past the last FFT bin');
    this.filterbank = fb;
    this.noiseReduction = s.noise_reduction_enable ? noiseReductionConstants(s) : null;
    this.pcan = s.pcan_enable ? pcanConstants(s, z.fftSize) : null;
    this.activity = s.activity_detection_enable ? new ActivityDetector(activityDetectionConstants(s)) : null;
    this.dcNotchK = s.dc_notch_filter_enable ? dcNotchCoefficient(s.dc_notch_filter_coefficient) : null;
    this.correctionBits = correctionBits(z.fftSize);

    const n = s.filterbank_n_channels;
    this.frame = new Int16Array(z.fftSize);
    this.re = new Int16Array(z.spectrumSize);
    this.im = new Int16Array(z.spectrumSize);
    this.energy = new Float64Array(z.spectrumSize);
    this.acc = new Float64Array(n + 1);
    this.signal = new Uint32Array(n);
    this.estimate = new Uint32Array(n);
    this.notched = this.dcNotchK === null ? null : new Int16Array(z.samplesConsumed);
  }

  /** pcm must hold exactly sample_length samples (MLTK raises otherwise). */
  process(pcm: Int16Array): SpectrogramResult {
    const z = this.sizes;
    if (!(pcm instanceof Int16Array)) {
      throw new FrontendSettingsError('pcm must be an Int16Array of mono 16-bit samples');
    }
    if (pcm.length !== z.sampleLength) {
      throw new FrontendSettingsError(
        `pcm has ${pcm.length} samples but sample_rate_hz ${this.settings.sample_rate_hz} and sample_length_ms ` +
          `${this.settings.sample_length_ms} require exactly ${z.sampleLength}: pad or trim the clip`,
        { setting: 'sample_length_ms', expected: z.sampleLength, actual: pcm.length },
      );
    }
    const s = this.settings;
    const n = s.filterbank_n_channels;
    const { frame, re, im, energy, acc, signal, estimate, window, filterbank, fft } = this;
    const nr = this.noiseReduction;
    const pcan = this.pcan;
    const activity = this.activity;
    const start = filterbank.startIndex;
    const end = filterbank.endIndex;
    const logEnable = s.log_scale_enable;
    const logShift = s.log_scale_shift;
    const cb = this.correctionBits;

    let src = pcm;
    if (this.notched !== null && this.dcNotchK !== null) {
      dcNotchFilter(pcm, z.samplesConsumed, this.dcNotchK, this.notched);
      src = this.notched;
    }
    estimate.fill(0);
    activity?.reset();

    const out = new Uint16Array(z.height * n);
    for (let f = 0; f < z.height; f++) {
      const shift = fftInputShift(windowFrame(src, f * z.windowStep, window, frame));
      fft.forward(frame, shift, re, im);
      filterbankEnergy(re, im, start, end, energy);
      filterbankAccumulate(filterbank, energy, acc);
      filterbankSqrt(acc, n, shift, signal);
      if (activity !== null) activity.update(signal, n);
      if (nr !== null) noiseReductionApply(nr, estimate, signal, n);
      if (pcan !== null) pcanApply(pcan, estimate, signal, n);
      logScaleApply(signal, n, logEnable, logShift, cb, out, f * n);
    }
    return { uint16: out, height: z.height, width: n, activityDetected: activity !== null && activity.tripped };
  }
}

export function computeSpectrogram(settings: FrontendSettings, pcm: Int16Array): SpectrogramResult {
  return new Frontend(settings).process(pcm);
}
