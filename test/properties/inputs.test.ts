/**
 * Issue #11, the class: for any generated registration body, batch query or features
 * settings, the answer is 2xx or a 4xx problem+json: never a 5xx, never a hang, and the
 * process's memory stays bounded. Seeded (fast-check), a few hundred cases.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { smallCorpus, toneWav } from '../helpers/wav.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { closeAll } from '../helpers/cleanup.ts';
import { injectForm } from '../helpers/multipart.ts';

const SEED = 1107;
let t: TestApp;
let workers: RunningWorkers;
let rssBefore = 0;

before(async () => {
  t = await startTestApp({ MAX_SUBSET_ENTRIES: '20000', MAX_BATCH_BYTES: String(8 * 1024 * 1024), STREAM_MEMORY_BUDGET: String(64 * 1024 * 1024) });
  smallCorpus(path.join(t.root, 'c'));
  workers = startTestWorkers(t);
  await registerDataset(t, { name: 'p', source: { type: 'directory', path: 'c' }, classes: ['yes', 'no', '_unknown_', '_silence_'], validation_split: 0.3 });
  rssBefore = process.memoryUsage().rss;
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

function assertAnswer(res: { statusCode: number; headers: Record<string, unknown>; body: string }, input: unknown) {
  const shown = JSON.stringify(input)?.slice(0, 400);
  assert.ok(res.statusCode < 500, `${res.statusCode} for ${shown}: ${res.body.slice(0, 400)}`);
  if (res.statusCode >= 400) {
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, shown);
    const body = JSON.parse(res.body) as { type?: string; status?: number };
    assert.equal(body.status, res.statusCode, shown);
    assert.match(String(body.type), /^https:\/\/audiofeed\.dev\/problems\//, shown);
  }
}

/** Sometimes a sensible value, sometimes anything JSON. */
const any = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
const num = fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double({ noNaN: true }), fc.constantFrom(0, -1, 1e9, 1e300, 65536, 0.5));

const registration = fc.record(
  {
    name: any(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/)),
    classes: any(fc.array(fc.constantFrom('yes', 'no', 'maybe', '_unknown_', '_silence_', 'x\ny', '..', 'absent'), { minLength: 1, maxLength: 5 })),
    validation_split: any(num),
    unknown_class_percentage: any(num),
    silence_class_percentage: any(num),
    class_weights: any(fc.oneof(fc.constant('balanced'), fc.array(num, { maxLength: 6 }), fc.dictionary(fc.constantFrom('yes', 'no', '0', '7'), num))),
    seed: any(fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 2 ** 33 }))),
    batch_size: any(num),
    max_samples_per_class: any(num),
    shuffle_dataset_enabled: any(fc.boolean()),
    listing: any(fc.constantFrom('generic', 'speech_commands_v2')),
    frontend_enabled: any(fc.boolean()),
    sample_shape: any(fc.array(fc.integer({ min: -1, max: 1e9 }), { maxLength: 4 })),
    dtype: any(fc.constantFrom('uint16', 'int8', 'float32')),
    frontend_settings: any(
      fc.record(
        { sample_rate_hz: num, sample_length_ms: num, window_size_ms: num, window_step_ms: num, filterbank_n_channels: num, filterbank_upper_band_limit: num },
        { requiredKeys: [] },
      ),
    ),
    augmentation: any(
      fc.record({ loudness_range: fc.tuple(num, num), offset_range: fc.tuple(num, num), bg_noise_dir: fc.constantFrom('/etc', '../..', 'nope', 'yes') }, { requiredKeys: [] }),
    ),
    trim_threshold_db: any(num),
  },
  { requiredKeys: [] },
);

test('any registration body: 2xx or a 4xx problem, memory bounded', { timeout: 240_000 }, async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(registration, async (body) => {
      const payload = { source: { type: 'directory', path: 'c' }, ...body, name: `r${n++}` };
      const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload });
      assertAnswer(res, payload);
      if (res.statusCode === 201) await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${payload.name}` });
    }),
    { seed: SEED, numRuns: 150 },
  );
});

const query = fc.record(
  {
    subset: any(fc.constantFrom('training', 'validation', 'evaluation')),
    epoch: any(num),
    batch_size: any(num),
    validation_batch_size: any(num),
    shuffle: any(fc.constantFrom('true', 'false', 'batch')),
    steps_per_epoch: any(num),
    validation_steps: any(num),
    class_mode: any(fc.constantFrom('categorical', 'binary', 'sparse', 'input', 'none')),
    dtype: any(fc.constantFrom('uint16', 'int8', 'float32')),
    class_weight: any(fc.boolean()),
    from_batch: any(num),
    format: any(fc.constantFrom('arrow', 'npy')),
  },
  { requiredKeys: [] },
);

test('any batch query (GET and HEAD): 2xx or a 4xx problem, memory bounded', { timeout: 240_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(query, fc.boolean(), async (q, head) => {
      const pairs: [string, string][] = Object.entries(q).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]);
      const qs = new URLSearchParams(pairs).toString();
      const res = await t.app.inject({ method: head ? 'HEAD' : 'GET', url: `/v1/datasets/p/batches?${qs}` });
      if (head && res.statusCode >= 400) assert.ok(res.statusCode < 500, `${res.statusCode} for HEAD ?${qs}`);
      else assertAnswer(res, qs);
    }),
    { seed: SEED, numRuns: 150 },
  );
});

const featureSettings = fc.record(
  {
    frontend_settings: any(fc.record({ sample_rate_hz: num, sample_length_ms: num, window_size_ms: num, window_step_ms: num, filterbank_n_channels: num }, { requiredKeys: [] })),
    dtype: any(fc.constantFrom('uint16', 'int8', 'float32')),
    raw: any(fc.boolean()),
    trim_threshold_db: any(num),
    frontend_enabled: any(fc.boolean()),
  },
  { requiredKeys: [] },
);

test('any POST /v1/features settings: 2xx or a 4xx problem, memory bounded', { timeout: 240_000 }, async () => {
  const wav = toneWav(1600);
  await fc.assert(
    fc.asyncProperty(featureSettings, fc.constantFrom('application/x-npy', 'application/json', 'image/png'), async (settings, accept) => {
      const form = new FormData();
      form.append('settings', JSON.stringify(settings));
      form.append('file', new Blob([wav]), 'a.wav');
      const res = await injectForm(t.app, '/v1/features', form, { accept });
      assertAnswer(res, settings);
    }),
    { seed: SEED, numRuns: 100 },
  );
  // Generous: the bounds keep every accepted request small; unbounded ones took hundreds of MB.
  const growth = process.memoryUsage().rss - rssBefore;
  assert.ok(growth < 512 * 1024 * 1024, `RSS grew by ${Math.round(growth / 2 ** 20)} MiB`);
});
