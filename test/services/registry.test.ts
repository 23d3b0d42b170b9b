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
  await store.update({ ...rec, updated_at: new Date(Date.parse(rec.updated_at) + 1000).toISOString() }, other);
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
