/**
 * computeAugmentedBatch runs a whole batch in one FrontendBackend.augmentBatch call. Its
 * batches must be byte-identical, with the same failures (row, reason, message), on the
 * native backend, on the TypeScript backend, and to the clip-by-clip computation the
 * service did before (decode, applyTransform, toInt16, frontend, failures per clip),
 * with unreadable, unsafe and malformed entries and silence among the clips, for
 * features and for raw audio.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  applyTransform,
  augmentRng,
  BackgroundNoiseCache,
  drawTransformParams,
  resolveAugmentation,
  type ResolvedAugmentation,
} from '../../src/core/audio/augment/index.ts';
import { toInt16 } from '../../src/core/audio/pcm.ts';
import { decodeWav } from '../../src/core/audio/wav.ts';
import { selectFrontendBackend } from '../../src/core/frontend/backend.ts';
import { Frontend } from '../../src/core/frontend/frontend.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { computeAugmentedBatch, type AugmentedBatchInput } from '../../src/services/features/augmented.ts';
import { clipPath, failureOf, headerOf } from '../../src/services/features/compute-shard.ts';
import type { FeatureSpec } from '../../src/services/features/plan.ts';
import type { ShardFailure } from '../../src/services/features/shard-file.ts';
import { TESTDATA, testdata } from '../helpers/paths.ts';

const nativeBackend = selectFrontendBackend('native', () => {});
const tsBackend = selectFrontendBackend('typescript', () => {});
const ROOT = fs.realpathSync(TESTDATA);

function wavsUnder(sub: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.wav')) out.push(path.relative(TESTDATA, p));
    }
  };
  walk(testdata(sub));
  return out;
}

const ENTRIES: (string | null)[] = [
  ...wavsUnder('corpus-mini').filter((_, i) => i % 4 === 0),
  ...wavsUnder('corpus-mini-odd'),
  'bad-wavs/not-riff.wav',
  'bad-wavs/fmt-adpcm-0x0002.wav',
  'corpus-mini/yes/no-such-file.wav',
  '../outside.wav',
  null,
  null,
];

const AUGMENTATION = resolveAugmentation({
  loudness_range: [0.5, 1.5],
  noise_colors: 'all',
  noise_color_range: [0, 0.4],
  bg_noise_dir: testdata('corpus-mini', '_background_noise_'),
  bg_noise_range: [0.05, 0.2],
  speed_range: [0.8, 1.2],
  pitch_range: [0.9, 1.1],
  vtlp_range: [1, 3],
});

/** What computeAugmentedBatch computed before the batch call: clip by clip in TypeScript. */
async function clipByClip(input: AugmentedBatchInput, noises: BackgroundNoiseCache): Promise<{ header: unknown; data: Buffer }> {
  const { spec, entries, augmentation } = input;
  const s = spec.frontendSettings;
  const bgNoises = await noises.load(augmentation.bg_noise_dir, s.sample_rate_hz);
  const failures: ShardFailure[] = [];
  const header = headerOf(spec, entries, failures);
  const rowElems = header.row_shape.reduce((a, b) => a * b, 1);
  const out = spec.frontendEnabled ? new Uint16Array(entries.length * rowElems) : new Float32Array(entries.length * rowElems);
  const fe = new Frontend(s);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    try {
      const decoded =
        entry === null
          ? { samples: new Float32Array(16000), sampleRate: 16000 }
          : decodeWav(new Uint8Array(fs.readFileSync(await clipPath(input.datasetDir, input.root, entry))), entry);
      const params = drawTransformParams(augmentation, augmentRng(input.seed, input.epoch, input.batch, i), bgNoises.length);
      const y = applyTransform(decoded, params, {
        sampleRateHz: s.sample_rate_hz,
        sampleLengthMs: s.sample_length_ms,
        trimThresholdDb: spec.trimThresholdDb,
        noiseLevel: augmentation.noise_color_level,
        bgNoises,
        bgTrimBounds: noises.trimBounds,
      });
      out.set(spec.frontendEnabled ? fe.process(toInt16(y)).uint16 : y, i * rowElems);
    } catch (err) {
      failures.push(failureOf(i, entry, err));
    }
  }
  return { header, data: Buffer.from(out.buffer) };
}

function inputOf(spec: FeatureSpec, augmentation: ResolvedAugmentation, batch: number): AugmentedBatchInput {
  return { datasetDir: ROOT, root: ROOT, entries: ENTRIES, spec, augmentation, seed: 43, epoch: 2, batch };
}

describe('computeAugmentedBatch', () => {
  const specs: [string, FeatureSpec][] = [
    ['features', { frontendEnabled: true, frontendSettings: resolveFrontendSettings({}), trimThresholdDb: 20 }],
    ['raw audio', { frontendEnabled: false, frontendSettings: resolveFrontendSettings({ sample_length_ms: 900 }), trimThresholdDb: 0 }],
  ];
  for (const [name, spec] of specs) {
    it(`${name}: native and TypeScript backends equal the clip-by-clip computation, failures included`, async () => {
      const noises = new BackgroundNoiseCache();
      for (const batch of [0, 5]) {
        const input = inputOf(spec, AUGMENTATION, batch);
        const reference = await clipByClip(input, noises);
        assert.deepEqual(
          (reference.header as { failures: ShardFailure[] }).failures.map((f) => [f.row, f.reason]),
          [
            [ENTRIES.indexOf('bad-wavs/not-riff.wav'), 'not-riff'],
            [ENTRIES.indexOf('bad-wavs/fmt-adpcm-0x0002.wav'), 'unsupported-encoding'],
            [ENTRIES.indexOf('corpus-mini/yes/no-such-file.wav'), 'file-not-found'],
            [ENTRIES.indexOf('../outside.wav'), 'unsafe-entry'],
          ],
        );
        for (const [backendName, backend] of [['native', nativeBackend], ['typescript', tsBackend]] as const) {
          const got = await computeAugmentedBatch(input, backend, noises, { threads: 2 });
          assert.deepEqual(got.header, reference.header, `${backendName}: header of batch ${batch}`);
          assert.ok(Buffer.from(got.data).equals(reference.data), `${backendName}: data of batch ${batch} differs`);
        }
      }
    });
  }

  it("noise_color_level 'peak' and 'mltk' give different batches; a record without the setting gets 'mltk'", async () => {
    const noises = new BackgroundNoiseCache();
    const spec = specs[0]![1];
    const mltk = await computeAugmentedBatch(inputOf(spec, AUGMENTATION, 1), nativeBackend, noises);
    const peak = await computeAugmentedBatch(inputOf(spec, { ...AUGMENTATION, noise_color_level: 'peak' }, 1), nativeBackend, noises);
    const { noise_color_level: _, ...legacy } = AUGMENTATION;
    const old = await computeAugmentedBatch(inputOf(spec, legacy as ResolvedAugmentation, 1), nativeBackend, noises);
    assert.ok(!Buffer.from(mltk.data).equals(Buffer.from(peak.data)));
    assert.ok(Buffer.from(old.data).equals(Buffer.from(mltk.data)));
  });
});
