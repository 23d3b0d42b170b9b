/**
 * The p6_corpus_mini fixture (MLTK's own outputs on the shared corpus) reproduced through
 * HTTP: both runs (the Speech Commands listing, chosen with the `listing` setting, and the
 * generic listing) registered over the API, then the recorded outputs compared: subset
 * lists and labels in order, counts, summary text, class weights, index files byte for
 * byte, and the evaluation load. (Batches and seeded orders of every fixture are compared
 * at the src/ level in test/datasets/fixtures.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, registerDataset, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';

interface ExpSubset {
  filenames: (string | null)[];
  labels: number[];
  class_counts: Record<string, number>;
  batches?: { filenames: (string | null)[]; labels: number[]; y: { values: unknown } | null }[];
  epochs?: { filenames: (string | null)[]; labels: number[] }[][];
}
interface Run {
  name: string;
  dataset_source: { kind: string; listing?: string };
  settings: Record<string, unknown> & { classes: string[]; batch_size: number; class_mode: string };
  seeded_flow?: { seed: number; epochs: number };
  expected: {
    training_load: { training: ExpSubset; validation: ExpSubset; summary: string; class_weights: { value: Record<string, number>; log: string } };
    evaluation_load: { evaluation: ExpSubset; summary: string };
    index_files_after_training_load: Record<string, string>;
    seeded_flow?: { training: ExpSubset };
    audio_input_shape: number[];
  };
}

const fixture = JSON.parse(fs.readFileSync(testdata('datasets', 'p6_corpus_mini.json'), 'utf8')) as { runs: Run[] };
let t: TestApp;

before(async () => {
  t = await startTestApp();
});
after(async () => t?.close());

for (const run of fixture.runs) {
  describe(`p6_corpus_mini/${run.name} over HTTP`, () => {
    const id = run.name.replace(/[^A-Za-z0-9._-]/g, '-');
    const dir = () => path.join(t.root, id);
    let registered: any;

    before(async () => {
      // A fresh writable copy per run, so the alphabetical index lands in the dataset dir as in MLTK.
      copyCorpus(testdata('corpus-mini'), dir());
      const s = run.settings;
      registered = await registerDataset(t, {
        name: id,
        source: { type: 'directory', path: dir() },
        listing: run.dataset_source.listing === 'speech_commands_v2' ? 'speech_commands_v2' : 'generic',
        classes: s.classes,
        validation_split: s.validation_split,
        unknown_class_percentage: s.unknown_class_percentage,
        silence_class_percentage: s.silence_class_percentage,
        follow_links: s.follow_links,
        shuffle_dataset_enabled: s.shuffle_dataset_enabled,
        class_mode: s.class_mode,
        batch_size: s.batch_size,
        class_weights: s.class_weights,
      });
    });

    test('audio_input_shape and class counts', () => {
      assert.deepEqual(registered.audio_input_shape, run.expected.audio_input_shape);
      assert.deepEqual(registered.class_counts.training, run.expected.training_load.training.class_counts);
      assert.deepEqual(Object.keys(registered.class_counts.training), Object.keys(run.expected.training_load.training.class_counts));
      assert.deepEqual(registered.class_counts.validation, run.expected.training_load.validation.class_counts);
    });

    test('subset lists and labels in order', async () => {
      for (const subset of ['training', 'validation'] as const) {
        const items = (await t.app.inject({ url: `/v1/datasets/${id}/samples?subset=${subset}&limit=10000` })).json().items;
        assert.deepEqual(items.map((i: { entry: string | null }) => i.entry), run.expected.training_load[subset].filenames);
        assert.deepEqual(items.map((i: { label: number }) => i.label), run.expected.training_load[subset].labels);
      }
    });

    test('summary text verbatim', async () => {
      assert.equal((await t.app.inject({ url: `/v1/datasets/${id}/summary` })).body, run.expected.training_load.summary);
    });

    test('class weights and their log', async () => {
      const w = (await t.app.inject({ url: `/v1/datasets/${id}/class-weights` })).json();
      assert.deepEqual(w.value, run.expected.training_load.class_weights.value);
      assert.equal(w.log, run.expected.training_load.class_weights.log);
    });

    test('index files byte for byte', async () => {
      const got = (await t.app.inject({ url: `/v1/datasets/${id}/index`, headers: { accept: 'application/json' } })).json();
      const want = Object.fromEntries(
        Object.entries(run.expected.index_files_after_training_load).map(([k, v]) => [k.replace(/^dataset:\.index\//, ''), v]),
      );
      assert.deepEqual(got.files, want);
      for (const [name, text] of Object.entries(want)) {
        assert.equal(fs.readFileSync(path.join(dir(), '.index', name), 'utf8'), text);
      }
    });

    test('evaluation load: summary and the evaluation subset', async () => {
      const res = await t.app.inject({ method: 'POST', url: `/v1/datasets/${id}/load`, payload: { subset: 'evaluation' } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((await t.app.inject({ url: `/v1/datasets/${id}/summary` })).body, run.expected.evaluation_load.summary);
      const items = (await t.app.inject({ url: `/v1/datasets/${id}/samples?subset=validation&limit=10000` })).json().items;
      assert.deepEqual(items.map((i: { entry: string | null }) => i.entry), run.expected.evaluation_load.evaluation.filenames);
    });
  });
}
