/**
 * The registry service (src/services/registry/service.ts) on its own: no HTTP, no Redis.
 * Its store is the in-memory implementation of the port, so these tests also hold the
 * service to what the port promises (a failed registration writes nothing; a duplicate
 * name is refused before anything is stored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AudiofeedError, ConflictError, DatasetError, ForbiddenPathError, NotFoundError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/services/config.ts';
import { RegistryService } from '../../src/services/registry/service.ts';
import type { RegisterBodyT } from '../../src/services/registry/schemas.ts';
import { MemoryRegistryStore } from '../helpers/memory-registry-store.ts';
import { makeTree, smallCorpus, toneWav } from '../helpers/wav.ts';

type DirectoryBody = RegisterBodyT & { source: { type: 'directory' } };
type LoaderBody = RegisterBodyT & { source: { type: 'loader' } };

function setup(t: { after: (fn: () => void) => void }) {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-registry-')));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const root = path.join(base, 'root');
  const loaders = path.join(base, 'loaders');
  fs.mkdirSync(loaders, { recursive: true });
  smallCorpus(path.join(root, 'small'));
  fs.mkdirSync(path.join(base, 'outside', 'yes'), { recursive: true });
  const config = loadConfig({ DATA_ROOTS: root, DATA_DIR: path.join(base, 'data'), LOADERS_DIR: loaders, LOG_LEVEL: 'silent' }, base);
  const store = new MemoryRegistryStore();
  const logs: string[] = [];
  const registry = new RegistryService(config, store, { info: (m) => logs.push(m), warn: (m) => logs.push(m) });
  return { base, root, loaders, store, registry, logs };
}

const directory = (over: Partial<DirectoryBody> = {}): DirectoryBody => ({
  name: 'small',
  source: { type: 'directory', path: 'small' },
  classes: ['yes', 'no', 'maybe'],
  validation_split: 0.2,
  ...over,
});

function code(expected: string, type?: new (...args: never[]) => AudiofeedError) {
  return (err: unknown) => {
    assert.ok(err instanceof (type ?? AudiofeedError), `expected ${type?.name ?? 'AudiofeedError'}, got ${String(err)}`);
    assert.equal(err.code, expected);
    return true;
  };
}

test('registry: a directory registration stores the record with MLTK properties and the subset lists', async (t) => {
  const { root, store, registry, logs } = setup(t);
  const rec = await registry.registerDirectory(directory());
  assert.equal(rec.id, 'small');
  assert.equal(rec.status, 'ready');
  assert.equal(rec.loaded_subset, 'training');
  assert.equal(rec.dataset_dir, path.join(root, 'small'));
  assert.equal(rec.data_root, root);
  assert.deepEqual(rec.audio_input_shape, [98, 32, 1]);
  assert.deepEqual(rec.settings.classes, ['yes', 'no', 'maybe']);
  // MLTK's split: ceil(0.2 * n) clips of each class for validation, the rest for training.
  assert.deepEqual(rec.class_counts, { training: { yes: 4, no: 4, maybe: 2 }, validation: { yes: 2, no: 1, maybe: 1 } });
  assert.match(rec.summary, /^Training dataset: Found 10 samples belonging to 3 classes:/);
  assert.deepEqual(await store.get('small'), rec);

  const subsets = await registry.subsets('small');
  assert.equal(subsets.training!.entries.length, 10);
  assert.equal(subsets.validation!.entries.length, 4);
  for (const list of [subsets.training!, subsets.validation!]) {
    list.entries.forEach((entry, i) => assert.equal(rec.settings.classes[list.labels[i]!], entry!.split('/')[0], entry!));
  }
  assert.ok(logs.some((l) => l.startsWith('registered dataset small')), logs.join('\n'));
});

test('registry: a second registration under a taken name is a 409 and stores nothing new', async (t) => {
  const { store, registry } = setup(t);
  await registry.registerDirectory(directory());
  const before = store.snapshot();
  await assert.rejects(registry.registerDirectory(directory({ validation_split: 0.5 })), code('dataset-exists', ConflictError));
  assert.deepEqual(store.snapshot(), before);
});

test('registry: a registration MLTK refuses leaves no record, and names the missing class directory', async (t) => {
  const { store, registry } = setup(t);
  await assert.rejects(registry.registerDirectory(directory({ classes: ['yes', 'no', 'cat'] })), (err: unknown) => {
    assert.ok(err instanceof DatasetError);
    assert.equal(err.code, 'no-samples-for-class');
    assert.deepEqual(err.extra.missing_class_directories, ['cat']);
    return true;
  });
  assert.deepEqual(store.snapshot(), { records: {}, subsets: {} });
  await assert.rejects(registry.get('small'), code('dataset-not-found', NotFoundError));
});

test('registry: directories outside every data root are refused, relative or absolute', async (t) => {
  const { base, store, registry } = setup(t);
  for (const p of ['../outside', path.join(base, 'outside'), '/etc']) {
    await assert.rejects(registry.registerDirectory(directory({ source: { type: 'directory', path: p } })), code('path-not-allowed', ForbiddenPathError), p);
  }
  assert.deepEqual(store.snapshot(), { records: {}, subsets: {} });
});

test('registry: without a name the id is generated, and two registrations get two ids', async (t) => {
  const { registry } = setup(t);
  const a = await registry.registerDirectory(directory({ name: undefined }));
  const b = await registry.registerDirectory(directory({ name: undefined }));
  assert.match(a.id, /^ds-[0-9a-f]{12}$/);
  assert.match(b.id, /^ds-[0-9a-f]{12}$/);
  assert.notEqual(a.id, b.id);
  assert.deepEqual((await registry.list()).map((r) => r.id).sort(), [a.id, b.id].sort());
});

test('registry: unload forgets the load, load(evaluation) recomputes it, reindex sees files added since', async (t) => {
  const { root, registry } = setup(t);
  await registry.registerDirectory(directory());

  const unloaded = await registry.unload('small');
  assert.equal(unloaded.status, 'unloaded');
  assert.equal(unloaded.loaded_subset, null);
  assert.equal(unloaded.summary, 'No dataset loaded');
  assert.deepEqual(await registry.subsets('small'), {});

  const evaluation = await registry.load('small', 'evaluation');
  assert.equal(evaluation.status, 'ready');
  assert.equal(evaluation.loaded_subset, 'evaluation');
  assert.deepEqual(evaluation.class_counts, { validation: { yes: 2, no: 1, maybe: 1 } });

  makeTree(path.join(root, 'small'), { 'yes/y6.wav': toneWav(1600, 555) });
  // The index files are reused as MLTK reuses them: the new clip is not seen ...
  const reused = await registry.load('small', 'training');
  assert.equal(reused.class_counts.training!.yes! + reused.class_counts.validation!.yes!, 6);
  // ... until the index is regenerated.
  const reindexed = await registry.reindex('small');
  assert.equal(reindexed.class_counts.training!.yes! + reindexed.class_counts.validation!.yes!, 7);
});

test('registry: delete removes the record; purge also removes the artifact directory', async (t) => {
  const { store, registry } = setup(t);
  // A shuffled index lives in the artifact directory (MLTK's <log dir>/dataset), so it exists.
  const kept = await registry.registerDirectory(directory({ name: 'kept', shuffle_dataset_enabled: true }));
  const purged = await registry.registerDirectory(directory({ name: 'purged', shuffle_dataset_enabled: true }));
  // Both share the dataset directory, hence the artifact directory: purge one at the end.
  assert.equal(kept.artifact_dir, purged.artifact_dir);
  assert.equal(kept.index.location, 'shuffle_index_dir');
  await registry.delete('kept', false);
  assert.equal(await store.exists('kept'), false);
  assert.ok(fs.existsSync(kept.artifact_dir));
  await registry.delete('purged', true);
  assert.equal(await store.exists('purged'), false);
  assert.equal(fs.existsSync(purged.artifact_dir), false);
  await assert.rejects(registry.delete('purged', true), code('dataset-not-found', NotFoundError));
});

test('registry: a loader source is resolved in LOADERS_DIR, run once, and its listing is used', async (t) => {
  const { root, loaders, registry } = setup(t);
  fs.writeFileSync(
    path.join(loaders, 'local_copy.mjs'),
    `import fs from 'node:fs';
     export const listing = 'generic';
     export function load(options, ctx) {
       fs.writeFileSync(ctx.workDir + '/calls', String(Number(fs.existsSync(ctx.workDir + '/calls') ? fs.readFileSync(ctx.workDir + '/calls', 'utf8') : 0) + 1));
       return { directory: ${JSON.stringify(path.join(root, 'small'))} };
     }`,
  );
  const body: LoaderBody = { name: 'via-loader', source: { type: 'loader', name: 'local_copy', options: { any: 1 } }, classes: ['yes', 'no'] };
  const rec = await registry.registerLoader(body);
  assert.deepEqual(rec.source, { type: 'loader', name: 'local_copy', options: { any: 1 } });
  assert.equal(rec.dataset_dir, path.join(root, 'small'));
  assert.equal(rec.settings.listing, 'generic');
  assert.equal(fs.readFileSync(path.join(registry.config.dataDir, 'loaders', 'local_copy', 'calls'), 'utf8'), '1');

  await assert.rejects(
    registry.registerLoader({ ...body, name: 'nope', source: { type: 'loader', name: 'no_such_loader' } }),
    code('loader-not-found', NotFoundError),
  );
});

test("registry: a process keeps the subset lists it wrote or read, under the record's version; another replica's write is seen", async (t) => {
  const { store, registry } = setup(t);
  let fetched = 0;
  const getSubsets = store.getSubsets.bind(store);
  store.getSubsets = async (id) => {
    fetched++;
    return getSubsets(id);
  };
  const rec = await registry.registerDirectory(directory());
  // The registering process already has the lists: no fetch, and the same object every time.
  const first = await registry.subsets('small');
  assert.equal(fetched, 0);
  assert.equal(await registry.subsets('small'), first);
  assert.equal(first.training!.entries.length, 10);

  // Another replica loads the dataset again with other lists: the record's version changes.
  const other = { ...first, training: { ...first.training!, entries: first.training!.entries.slice(0, 3), labels: first.training!.labels.slice(0, 3) } };
  await store.update({ ...rec, revision: (rec.revision ?? 0) + 1, updated_at: new Date(Date.parse(rec.updated_at) + 1000).toISOString() }, other, rec.revision ?? 0);
  const seen = await registry.subsets('small');
  assert.equal(fetched, 1);
  assert.equal(seen.training!.entries.length, 3);
  assert.equal(await registry.subsets('small'), seen, 'kept again under the new version');
  assert.equal(fetched, 1);

  // Unloaded here: no lists, at once; deleted: gone.
  await registry.unload('small');
  assert.deepEqual(await registry.subsets('small'), {});
  assert.equal(fetched, 1);
  await registry.delete('small', false);
  await assert.rejects(registry.subsets('small'), code('dataset-not-found', NotFoundError));
});

test('registry: load adds a subset to the loads held; each load keeps what MLTK computed for it', async (t) => {
  const { registry } = setup(t);
  const training = await registry.registerDirectory(directory({ eval_max_samples_per_class: 1 }));
  const evaluation = await registry.load('small', 'evaluation');
  assert.deepEqual(Object.keys(evaluation.loads ?? {}), ['training', 'evaluation']);
  // The top-level fields are the most recent load's, as MLTK shows them after that call ...
  assert.equal(evaluation.loaded_subset, 'evaluation');
  assert.deepEqual(evaluation.class_counts, { validation: { yes: 1, no: 1, maybe: 1 } });
  assert.match(evaluation.summary, /^Evaluation dataset: Found 3 samples belonging to 3 classes:/);
  // ... the training load is kept exactly as it was computed, class weights included.
  assert.deepEqual(evaluation.loads!.training!.class_counts, training.class_counts);
  assert.equal(evaluation.loads!.training!.summary, training.summary);
  assert.deepEqual(evaluation.class_weights, training.class_weights);
  // Every list is stored: training and validation of the training load, evaluation (eval_max_samples_per_class 1) of its own.
  const lists = await registry.subsets('small');
  assert.deepEqual(Object.keys(lists).sort(), ['evaluation', 'training', 'validation']);
  assert.equal(lists.evaluation!.entries.length, 3);
  assert.equal(lists.validation!.entries.length, training.class_counts.validation!.yes! + training.class_counts.validation!.no! + training.class_counts.validation!.maybe!);

  // Unloading one subset leaves the others; the most recent remaining load is on top again.
  const noEval = await registry.unload('small', 'evaluation');
  assert.equal(noEval.loaded_subset, 'training');
  assert.equal(noEval.summary, training.summary);
  assert.deepEqual(Object.keys(await registry.subsets('small')).sort(), ['training', 'validation']);
  // Unloading a subset that is not loaded changes nothing.
  assert.equal((await registry.unload('small', 'evaluation')).revision, noEval.revision);
  // A validation load beside the training load; unloading training keeps the validation list.
  await registry.load('small', 'validation');
  const onlyValidation = await registry.unload('small', 'training');
  assert.equal(onlyValidation.loaded_subset, 'validation');
  assert.equal(onlyValidation.class_weights, null);
  assert.deepEqual(Object.keys(await registry.subsets('small')), ['validation']);
  // No body: everything.
  const none = await registry.unload('small');
  assert.equal(none.status, 'unloaded');
  assert.equal(none.loaded_subset, null);
  assert.deepEqual(await registry.subsets('small'), {});
});

test('registry: reindex recomputes every load held and keeps the most recent on top', async (t) => {
  const { root, registry } = setup(t);
  await registry.registerDirectory(directory());
  await registry.load('small', 'evaluation');
  makeTree(path.join(root, 'small'), { 'yes/y6.wav': toneWav(1600, 555), 'yes/y7.wav': toneWav(1600, 575) });
  const re = await registry.reindex('small');
  assert.equal(re.loaded_subset, 'evaluation');
  const loads = re.loads!;
  assert.deepEqual(Object.keys(loads).sort(), ['evaluation', 'training']);
  const yes = loads.training!.class_counts.training!.yes! + loads.training!.class_counts.validation!.yes!;
  assert.equal(yes, 8, 'the training load sees the new clips');
  assert.equal(loads.evaluation!.class_counts.validation!.yes, loads.training!.class_counts.validation!.yes);
});

test('registry: two replicas loading two subsets at once both keep their load (compare-and-set)', async (t) => {
  const { store, registry, base } = setup(t);
  await registry.registerDirectory(directory());
  const config = loadConfig({ DATA_ROOTS: path.join(base, 'root'), DATA_DIR: path.join(base, 'data'), LOG_LEVEL: 'silent' }, base);
  const other = new RegistryService(config, store, { info() {}, warn() {} });
  // Both replicas read the record before either writes: the second write must not drop the first load.
  const get = store.get.bind(store);
  let readers = 0;
  let release!: () => void;
  const bothRead = new Promise<void>((r) => (release = r));
  store.get = async (id) => {
    const rec = await get(id);
    if (++readers === 4) release();
    // reads 3 and 4 are the two commits' first reads (1 and 2: each load's own lookup)
    if (readers === 3 || readers === 4) await bothRead;
    return rec;
  };
  await Promise.all([registry.load('small', 'evaluation'), other.load('small', 'validation')]);
  store.get = get;
  const rec = await registry.get('small');
  assert.deepEqual(Object.keys(rec.loads!).sort(), ['evaluation', 'training', 'validation']);
  assert.deepEqual(Object.keys(await other.subsets('small')).sort(), ['evaluation', 'training', 'validation']);
});

test('registry: every write is mirrored in a manifest; a store that lost its data is rebuilt from them', async (t) => {
  const { store, registry, base, logs } = setup(t);
  await registry.registerDirectory(directory());
  await registry.registerDirectory(directory({ name: 'gone' }));
  await registry.load('small', 'evaluation');
  await registry.delete('gone', false);
  assert.deepEqual((await registry.manifests.ids()).sort(), ['small']);
  const before = await registry.get('small');
  const lists = await registry.subsets('small');
  const m = await registry.manifests.read('small');
  assert.deepEqual(m!.record, before);
  assert.equal(m!.header.revision, before.revision);

  // The store loses everything (a Redis flush): the first lookup rebuilds the registry.
  store.wipe();
  const recorded: number[] = [];
  const config = loadConfig({ DATA_ROOTS: path.join(base, 'root'), DATA_DIR: path.join(base, 'data'), LOG_LEVEL: 'silent' }, base);
  const fresh = new RegistryService(config, store, { info() {}, warn: (msg) => logs.push(msg) }, { recordRegistryRecovery: async (n) => void recorded.push(n) });
  assert.deepEqual(await fresh.get('small'), before);
  assert.deepEqual(await fresh.subsets('small'), lists);
  assert.deepEqual(recorded, [1]);
  assert.ok(logs.some((l) => /restored 1 of 1 dataset\(s\) from the manifests/.test(l)), logs.join('\n'));
  // The deleted dataset stays deleted; a second miss rebuilds nothing (the marker is set).
  await assert.rejects(fresh.get('gone'), code('dataset-not-found', NotFoundError));
  assert.deepEqual(recorded, [1]);
  // Writes after the rebuild continue the revisions and keep the manifest in step.
  const unloaded = await fresh.unload('small', 'evaluation');
  assert.equal(unloaded.revision, before.revision! + 1);
  assert.equal((await fresh.manifests.header('small'))!.revision, unloaded.revision);
});

test('registry: reconciliation writes missing or stale manifests and removes those of deleted datasets', async (t) => {
  const { store, registry } = setup(t);
  await registry.registerDirectory(directory());
  await store.setMarker();
  fs.rmSync(registry.manifests.fileOf('small'));
  fs.writeFileSync(registry.manifests.fileOf('ghost'), `${JSON.stringify({ format: 1, id: 'ghost', revision: 3, created_at: '2026-01-01T00:00:00.000Z' })}\n{}\n`);
  assert.deepEqual(await registry.reconcileManifests(), { written: 1, removed: 1 });
  assert.deepEqual(await registry.manifests.ids(), ['small']);
  assert.deepEqual(await registry.reconcileManifests(), { written: 0, removed: 0 });
});
