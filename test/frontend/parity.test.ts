/**
 * Seeded property test: the native addon and the TypeScript frontend agree
 * byte for byte (uint16 spectrogram and activity flag) on random signals under
 * random valid settings. A failure prints the seed-derived case index, the
 * settings and the first differing value so it can be replayed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Frontend } from '../../src/core/frontend/frontend.ts';
import { loadNativeFrontend, nativeFrontendUnavailableReason } from '../../src/core/frontend/native.ts';
import { frontendSizes, resolveFrontendSettings, type FrontendSettings } from '../../src/core/frontend/settings.ts';
import { mulberry32 } from '../helpers/random.ts';

const SEED = 0x5eed_f00d;
const SETTINGS_CASES = 400;
const MAX_CLIPS_PER_SETTINGS = 3;


type Rng = () => number;
const uniform = (r: Rng, lo: number, hi: number): number => lo + (hi - lo) * r();
const int = (r: Rng, lo: number, hi: number): number => Math.floor(uniform(r, lo, hi + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (r: Rng, p: number): boolean => r() < p;

const RATES = [8000, 16000, 22050, 44100, 48000] as const;

function candidateSettings(r: Rng): Partial<FrontendSettings> {
  const rate = pick(r, RATES);
  const nyquist = rate / 2;
  const windowMs = int(r, 8, 40);
  const lower = chance(r, 0.2) ? 0 : uniform(r, 20, Math.min(400, nyquist / 8));
  // Mostly inside Nyquist; sometimes exactly at it or a hair above (accepted
  // while end_index <= spectrum_size, rejected after).
  const upper = chance(r, 0.15) ? nyquist + pick(r, [0, 0, 1, 5, 50]) : uniform(r, lower + 500, nyquist);
  const nr = chance(r, 0.5);
  return {
    sample_rate_hz: rate,
    sample_length_ms: int(r, windowMs, 1000),
    window_size_ms: windowMs,
    window_step_ms: int(r, 1, windowMs),
    filterbank_n_channels: int(r, 8, 80),
    filterbank_lower_band_limit: lower,
    filterbank_upper_band_limit: upper,
    noise_reduction_enable: nr,
    noise_reduction_smoothing_bits: chance(r, 0.5) ? 10 : int(r, 5, 16),
    noise_reduction_even_smoothing: chance(r, 0.5) ? 0.025 : r(),
    noise_reduction_odd_smoothing: chance(r, 0.5) ? 0.06 : r(),
    noise_reduction_min_signal_remaining: chance(r, 0.5) ? 0.05 : r(),
    pcan_enable: nr && chance(r, 0.5),
    pcan_strength: chance(r, 0.5) ? 0.95 : uniform(r, 0, 2),
    pcan_offset: chance(r, 0.5) ? 80 : uniform(r, 0, 200),
    pcan_gain_bits: chance(r, 0.5) ? 21 : int(r, 17, 28),
    log_scale_enable: chance(r, 0.8),
    log_scale_shift: chance(r, 0.6) ? 6 : int(r, 0, 15),
    activity_detection_enable: chance(r, 0.4),
    activity_detection_alpha_a: chance(r, 0.5) ? 0.5 : r(),
    activity_detection_alpha_b: chance(r, 0.5) ? 0.8 : r(),
    activity_detection_arm_threshold: chance(r, 0.5) ? 0.75 : uniform(r, 0, 1.5),
    activity_detection_trip_threshold: chance(r, 0.5) ? 0.8 : uniform(r, 0, 1.5),
    dc_notch_filter_enable: chance(r, 0.3),
    dc_notch_filter_coefficient: chance(r, 0.5) ? 0.95 : uniform(r, 0, 0.999),
    quantize_dynamic_scale_enable: chance(r, 0.3),
    quantize_dynamic_scale_range_db: uniform(r, 0, 80),
  };
}

const KINDS = ['noise', 'tone', 'chirp', 'silence', 'square', 'dc', 'clipped', 'bursts', 'extremes'] as const;

const clamp16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

function signal(r: Rng, kind: (typeof KINDS)[number], n: number, rate: number): Int16Array {
  const out = new Int16Array(n);
  const amp = pick(r, [30, 1000, 8000, 32767]);
  const f0 = uniform(r, 20, rate / 2);
  const f1 = uniform(r, 20, rate / 2);
  const dc = kind === 'dc' || chance(r, 0.3) ? uniform(r, -20000, 20000) : 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    let v = 0;
    switch (kind) {
      case 'noise':
        v = uniform(r, -amp, amp);
        break;
      case 'tone':
        v = amp * Math.sin(2 * Math.PI * f0 * t);
        break;
      case 'chirp':
        v = amp * Math.sin(2 * Math.PI * (f0 * t + ((f1 - f0) * t * t) / (2 * (n / rate))));
        break;
      case 'silence':
        v = 0;
        break;
      case 'square':
        // Full scale, so the DC-notch difference wraps.
        v = Math.sin(2 * Math.PI * f0 * t) >= 0 ? 32767 : -32768;
        break;
      case 'dc':
        v = dc + uniform(r, -50, 50);
        break;
      case 'clipped':
        v = 4 * amp * Math.sin(2 * Math.PI * f0 * t) + uniform(r, -amp, amp);
        break;
      case 'bursts':
        // Speech-like: noise and tone bursts separated by near silence.
        v = Math.floor(t * 6) % 2 === 0 ? uniform(r, -amp, amp) * Math.abs(Math.sin(2 * Math.PI * 3 * t)) : uniform(r, -20, 20);
        break;
      case 'extremes':
        v = pick(r, [-32768, 32767, -32768, 0]);
        break;
    }
    out[i] = clamp16(kind === 'square' || kind === 'extremes' || kind === 'dc' ? v : v + dc);
  }
  return out;
}

interface Case {
  index: number;
  settings: FrontendSettings;
  clips: { kind: string; pcm: Int16Array }[];
}

function generateCases(): { cases: Case[]; rejected: number } {
  const r = mulberry32(SEED);
  const cases: Case[] = [];
  let rejected = 0;
  for (let attempt = 0; cases.length < SETTINGS_CASES && attempt < SETTINGS_CASES * 20; attempt++) {
    let settings: FrontendSettings;
    try {
      settings = resolveFrontendSettings(candidateSettings(r));
    } catch {
      rejected++;
      continue;
    }
    const { sampleLength } = frontendSizes(settings);
    const clips = Array.from({ length: int(r, 1, MAX_CLIPS_PER_SETTINGS) }, () => {
      const kind = pick(r, KINDS);
      return { kind, pcm: signal(r, kind, sampleLength, settings.sample_rate_hz) };
    });
    cases.push({ index: cases.length, settings, clips });
  }
  return { cases, rejected };
}

function firstDiff(a: Uint16Array, b: Uint16Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('native vs TypeScript frontend parity (seeded)', () => {
  it(`agrees byte for byte on ${SETTINGS_CASES} random valid settings and their signals`, async () => {
    const native = loadNativeFrontend();
    if (native === null) {
      assert.fail(`native frontend addon not available (${nativeFrontendUnavailableReason()}); build it with: npm run build:native`);
    }
    const { cases, rejected } = generateCases();
    assert.equal(cases.length, SETTINGS_CASES, `only ${cases.length} valid settings found (${rejected} rejected)`);
    const kindsSeen = new Set<string>();
    let clipsCompared = 0;
    let activityTrue = 0;
    for (const c of cases) {
      const ts = new Frontend(c.settings);
      const batch = await native.processBatch(c.settings, c.clips.map((x) => x.pcm));
      c.clips.forEach((clip, j) => {
        const expected = ts.process(clip.pcm);
        const sync = native.processSync(c.settings, clip.pcm);
        const where = `case ${c.index} clip ${j} (${clip.kind}) seed ${SEED}\nsettings ${JSON.stringify(c.settings)}`;
        for (const [label, got] of [['batch', batch.uint16[j]!], ['sync', sync.uint16]] as const) {
          const d = firstDiff(got, expected.uint16);
          if (d !== -1) {
            assert.fail(
              d === -2
                ? `${label}: length ${got.length} vs ${expected.uint16.length}; ${where}`
                : `${label}: value ${d} is ${got[d]} natively, ${expected.uint16[d]} in TypeScript; ${where}`,
            );
          }
        }
        assert.equal(batch.activity[j], expected.activityDetected, `batch activity flag; ${where}`);
        assert.equal(sync.activity, expected.activityDetected, `sync activity flag; ${where}`);
        kindsSeen.add(clip.kind);
        clipsCompared++;
        if (expected.activityDetected) activityTrue++;
      });
    }
    // Guard against a generator that silently stopped covering things.
    assert.equal(kindsSeen.size, KINDS.length, `signal kinds covered: ${[...kindsSeen].join(', ')}`);
    assert.ok(clipsCompared >= 600, `compared only ${clipsCompared} clips`);
    assert.ok(activityTrue > 0, 'no clip tripped the activity detector');
    assert.ok(rejected > 0, 'the generator never produced an invalid candidate: edge cases are not being probed');
  });
});
