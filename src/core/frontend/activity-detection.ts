/**
 * Energy-based activity detector (frontend.md §8). It only observes the
 * filterbank output; MLTK exposes the end-of-clip "tripped" flag.
 */
import type { FrontendSettings } from './settings.ts';

export interface ActivityDetectionConstants {
  scale: number;
  alphaA: number;
  alphaB: number;
  armThreshold: number;
  tripThreshold: number;
}

export function activityDetectionConstants(s: FrontendSettings): ActivityDetectionConstants {
  const n = s.filterbank_n_channels;
  const f32 = Math.fround;
  return {
    // ceil(log2(n)) for an integer n >= 1.
    scale: 32 - Math.clz32(n - 1),
    alphaA: (Math.trunc(f32(s.activity_detection_alpha_a) * 256) << 16) >> 16,
    alphaB: (Math.trunc(f32(s.activity_detection_alpha_b) * 256) << 16) >> 16,
    armThreshold: Math.trunc(f32(s.activity_detection_arm_threshold) * 4096),
    tripThreshold: Math.trunc(f32(s.activity_detection_trip_threshold) * 4096),
  };
}

/** One-pole IIR with 32-bit products and a 64-bit sum, as in the reference. */
function smooth(y: number, x: number, k: number): number {
  const sum = Math.imul(256 - k, x) + Math.imul(k, y);
  return Math.floor((Math.floor(sum / 128) + 1) / 2) | 0;
}

export class ActivityDetector {
  private readonly c: ActivityDetectionConstants;
  private a = 0;
  private b = 0;
  private armed = false;
  tripped = false;

  constructor(c: ActivityDetectionConstants) {
    this.c = c;
  }

  reset(): void {
    this.a = 0;
    this.b = 0;
    this.armed = false;
    this.tripped = false;
  }

  update(signal: Uint32Array, numChannels: number): void {
    let sum = 0;
    for (let i = 0; i < numChannels; i++) sum = (sum + signal[i]!) >>> 0;
    const x = sum >>> this.c.scale;
    this.a = smooth(this.a, x, this.c.alphaA);
    this.b = smooth(this.b, x, this.c.alphaB);
    if (!this.armed) {
      if (this.a < Math.floor((this.b * this.c.armThreshold) / 4096)) this.armed = true;
    } else if (this.a > Math.floor((this.b * this.c.tripThreshold) / 4096)) {
      this.armed = false;
      this.tripped = true;
    }
  }
}
