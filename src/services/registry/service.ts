/**
 * The registry: turns a source plus MLTK settings into a registered dataset, exactly as
 * MLTK's AudioDatasetMixin.load_dataset would see it, and keeps the record in the
 * registry store (RegistryStorePort; Redis in production, store/registry-store.ts).
 * Nothing is stored until every step succeeded, so a failed registration leaves no
 * record and no unpacked upload behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';
import {
  loadDataset,
  reindex as reindexDataset,
  summaryJson,
  type DatasetDirs,
  type IndexDirs,
  type LoadResult,
} from '../../core/datasets/index.ts';
import { ConflictError, DatasetError, ForbiddenPathError, InvalidSettingsError, NotFoundError } from '../../core/errors.ts';
import { assertHasClassDirectories, assertLinksStayInside, isInside, resolveDatasetDirectory } from './sources/directory.ts';
import { importLoader, runLoader, type LoaderContext } from './sources/loaders.ts';
import type { Logger, MaintenanceMetrics, RegistryStorePort } from '../ports.ts';
import { listsFor, listsOfLoad, loadRecordOf, loadedKinds, loadsOf, withLoads } from './loads.ts';
import { resolveBgNoiseDirPath } from './bg-noise-dir.ts';
import { ManifestStore } from './manifests.ts';
import { audioInputShape, datasetOptions, effectiveSettings, validateBatchSize } from './settings.ts';
import type { RegisterBodyT, UploadSettingsT } from './schemas.ts';
import type { DatasetRecord, DatasetSource, EffectiveSettings, IndexRecord, LoadKind, LoadRecord, StoredSubsets } from './types.ts';

/** Where a registration's validation_data lives (DatasetRecord.validation_data without the index). */
export interface ValidationDataPlace {
  dataset_dir: string;
  data_root: string;
  dataset_id: string | null;
}

export function generateId(): string {
  return 'ds-' + crypto.randomBytes(6).toString('hex');
}

/** Datasets whose subset lists a process keeps (a 105k-clip list is about 10 MB in memory). */
const CACHED_SUBSETS = 4;

/** A record's version: every write gives it a new revision (a new dataset under an old id, a new `created_at`). */
const versionOf = (rec: DatasetRecord) => `${rec.created_at}|${rec.revision ?? 0}|${rec.updated_at}`;

/** Compare-and-set attempts of one update before it gives up with a 409 (only under a storm of writes to one dataset). */
const COMMIT_ATTEMPTS = 8;

export interface RegistryRebuildStats {
  /** Times the registry was found lost (no marker, manifests on the volume) and rebuilt. */
  rebuilds: number;
  /** Registrations restored by those rebuilds. */
  restored: number;
}

export class RegistryService {
  readonly uploadsDir: string;
  readonly artifactsDir: string;
  readonly tmpDir: string;
  /**
   * The subset lists of the datasets streamed last, under the version of the record they
   * belong to: every stream needs them, and for a Speech-Commands-size dataset fetching and
   * parsing them from Redis costs tens of milliseconds before the first batch. A record
   * written anywhere gets a new `updated_at`, so a stale list is never returned for it.
   */
  private readonly subsetsCache = new Map<string, { version: string; subsets: StoredSubsets }>();
  /** DATA_DIR/registry: a manifest per registration, so the registry survives the loss of Redis. */
  readonly manifests: ManifestStore;
  /** The rebuild in progress in this process (one at a time). */
  private recovering: Promise<number> | null = null;

  constructor(
    readonly config: Config,
    readonly store: RegistryStorePort,
    readonly log: Logger,
    private readonly metrics?: Pick<MaintenanceMetrics, 'recordRegistryRecovery'>,
  ) {
    this.uploadsDir = path.join(config.dataDir, 'uploads');
    this.artifactsDir = path.join(config.dataDir, 'artifacts');
    this.tmpDir = path.join(config.dataDir, 'tmp');
    for (const d of [this.uploadsDir, this.artifactsDir, this.tmpDir]) fs.mkdirSync(d, { recursive: true });
    this.manifests = new ManifestStore(path.join(config.dataDir, 'registry'));
  }

  /** Where the shuffle index, the read-only fallback index and feature shards of a dataset dir live. */
  dirsFor(datasetDir: string): DatasetDirs & { artifactDir: string } {
    const key = crypto.createHash('sha256').update(datasetDir).digest('hex').slice(0, 16);
    const artifactDir = path.join(this.artifactsDir, key);
    return {
      datasetDir,
      artifactDir,
      fallbackIndexDir: path.join(artifactDir, 'alphabetical'),
      // MLTK's <model log dir>/dataset: the folder that is archived with the model.
      shuffleIndexDir: path.join(artifactDir, 'dataset'),
    };
  }

  /**
   * The index dirs of a registration's validation_data: under the training dir's artifact
   * dir (so they never coincide with the training dir's, nor with another registration's
   * of the same directory), keyed by the validation dir.
   */
  validationDirsFor(trainingDir: string, validationDir: string): IndexDirs {
    const key = crypto.createHash('sha256').update(validationDir).digest('hex').slice(0, 16);
    const base = path.join(this.dirsFor(trainingDir).artifactDir, 'validation_data', key);
    return {
      datasetDir: validationDir,
      fallbackIndexDir: path.join(base, 'alphabetical'),
      shuffleIndexDir: path.join(base, 'dataset'),
    };
  }

  /** Every dir a load of the record reads: the training dir's, and validation_data's when set. */
  datasetDirsOf(rec: Pick<DatasetRecord, 'dataset_dir' | 'validation_data'>): DatasetDirs & { artifactDir: string } {
    const dirs = this.dirsFor(rec.dataset_dir);
    const v = rec.validation_data;
    return v ? { ...dirs, validationData: this.validationDirsFor(rec.dataset_dir, v.dataset_dir) } : dirs;
  }

  /**
   * Resolves `validation_data`: a registered dataset (its directory and root) or a directory
   * source under an allow-listed root, with the same containment and link checks as a
   * directory source.
   */
  private async resolveValidationData(settings: EffectiveSettings): Promise<ValidationDataPlace | null> {
    const given = settings.validation_data;
    if (given === null) return null;
    let place: ValidationDataPlace;
    if (typeof given === 'string') {
      const other = await this.store.get(given);
      if (!other) {
        throw new InvalidSettingsError(`validation_data names no registered dataset: ${JSON.stringify(given)}`, { field: 'validation_data' });
      }
      place = { dataset_dir: other.dataset_dir, data_root: other.data_root, dataset_id: other.id };
    } else {
      const { dir, root } = await resolveDatasetDirectory(given.path, this.config.dataRoots);
      place = { dataset_dir: dir, data_root: root, dataset_id: null };
    }
    await assertHasClassDirectories(place.dataset_dir);
    await assertLinksStayInside(place.dataset_dir, place.data_root, settings.follow_links);
    return place;
  }

  async reserveId(name: string | undefined): Promise<string> {
    const id = name ?? generateId();
    if (await this.store.exists(id)) throw this.duplicate(id);
    return id;
  }

  private duplicate(id: string): ConflictError {
    return new ConflictError('dataset-exists', `a dataset named ${JSON.stringify(id)} already exists; choose another name or delete it first`, {
      id,
    });
  }

  private loaderContext(name: string): LoaderContext {
    return {
      workDir: path.join(this.config.dataDir, 'loaders', name),
      dataRoots: this.config.dataRoots,
      limits: {
        maxBytes: this.config.uploadMaxBytes,
        maxFiles: this.config.uploadMaxFiles,
        maxUnpackedBytes: this.config.uploadMaxUnpackedBytes,
      },
      log: (m) => this.log.info(m),
    };
  }

  async registerDirectory(body: RegisterBodyT & { source: { type: 'directory' } }): Promise<DatasetRecord> {
    const { source, ...rest } = body;
    const settings = effectiveSettings(rest);
    const id = await this.reserveId(body.name);
    const { dir, root } = await resolveDatasetDirectory(source.path, this.config.dataRoots);
    return this.registerResolved(id, { type: 'directory', path: source.path }, dir, root, settings, body.load ?? 'training');
  }

  async registerLoader(body: RegisterBodyT & { source: { type: 'loader' } }): Promise<DatasetRecord> {
    const { source, ...rest } = body;
    const id = await this.reserveId(body.name);
    const options = source.options ?? {};
    const mod = await importLoader(this.config.loadersDir, source.name);
    // Validate the settings before a loader possibly unpacks gigabytes.
    effectiveSettings(rest, mod.listingFor?.(options) ?? mod.listing);
    const { directory, listing } = await runLoader(this.config.loadersDir, source.name, options, this.loaderContext(source.name));
    const settings = effectiveSettings(rest, listing);
    const roots = [...this.config.dataRoots, path.join(this.config.dataDir, 'loaders')];
    const { dir, root } = await resolveDatasetDirectory(directory, roots);
    return this.registerResolved(id, { type: 'loader', name: source.name, options }, dir, root, settings, body.load ?? 'training');
  }

  /**
   * `unpacked` is a private temp directory holding the complete upload. It is renamed to
   * DATA_DIR/uploads/<id>; on any failure it (or its renamed form) is removed.
   */
  async registerUpload(
    id: string,
    body: UploadSettingsT,
    unpackedRoot: string,
    meta: { files: number; bytes: number; archive: 'zip' | 'tar' | 'tar.gz' | 'files' },
  ): Promise<DatasetRecord> {
    const settings = effectiveSettings(body);
    if (await this.store.exists(id)) throw this.duplicate(id);
    // A directory of its own per upload: two uploads racing for one name never touch
    // each other's files (the loser removes only its own).
    const dest = path.join(this.uploadsDir, `${id}-${crypto.randomBytes(4).toString('hex')}`);
    await fsp.rename(unpackedRoot, dest);
    try {
      return await this.registerResolved(
        id,
        { type: 'upload', ...meta },
        dest,
        this.uploadsDir,
        settings,
        body.load ?? 'training',
      );
    } catch (err) {
      await fsp.rm(dest, { recursive: true, force: true });
      await fsp.rm(this.dirsFor(dest).artifactDir, { recursive: true, force: true });
      throw err;
    }
  }

  private async registerResolved(
    id: string,
    source: DatasetSource,
    dir: string,
    root: string,
    givenSettings: EffectiveSettings,
    load: LoadKind,
  ): Promise<DatasetRecord> {
    let settings = givenSettings;
    validateBatchSize(settings.batch_size);
    await assertHasClassDirectories(dir);
    settings = await resolveBgNoiseDir(settings, dir, root);
    await assertLinksStayInside(dir, root, settings.follow_links);
    const validationData = await this.resolveValidationData(settings);
    const dirs = this.datasetDirsOf({ dataset_dir: dir, validation_data: validationData ? { ...validationData, index: null } : null });
    const result = await this.runLoad(dirs, settings, load);
    const now = new Date().toISOString();
    const base: DatasetRecord = {
      id,
      status: 'ready',
      created_at: now,
      updated_at: now,
      revision: 1,
      source,
      dataset_dir: dir,
      data_root: root,
      artifact_dir: dirs.artifactDir,
      settings,
      audio_input_shape: audioInputShape(settings),
      loaded_subset: null,
      class_counts: {},
      class_weights: null,
      summary: '',
      warnings: [],
      ...indexState(result, validationData, null),
    };
    const record = withLoads(base, { [load]: loadRecordOf(result, settings, now) });
    const subsets = storedListsOf(result, record);
    if (!(await this.store.create(record, subsets))) throw this.duplicate(id);
    this.remember(record, subsets);
    await this.writeManifest(record, subsets);
    this.log.info(`registered dataset ${id} (${dir}, ${load} load)`);
    return record;
  }

  /** The manifest of a record as stored; a failed write is logged and made up for by the next reconciliation. */
  private async writeManifest(rec: DatasetRecord, subsets: StoredSubsets): Promise<void> {
    try {
      await this.manifests.write(rec, subsets);
    } catch (err) {
      this.log.warn(`manifest of dataset ${rec.id} not written (${(err as Error).message}); retried by the next reconciliation`);
    }
  }

  private async runLoad(dirs: DatasetDirs, settings: EffectiveSettings, kind: LoadKind): Promise<LoadResult> {
    try {
      const result = await loadDataset(dirs, { ...datasetOptions(settings), maxSubsetEntries: this.config.maxSubsetEntries, maxListFileBytes: this.config.maxListFileBytes }, kind);
      assertSafeEntries(result);
      return result;
    } catch (err) {
      // The core names the offending setting `setting`; the API names it `field` everywhere.
      if (err instanceof InvalidSettingsError && err.extra.setting !== undefined && err.extra.field === undefined) {
        const { setting, ...rest } = err.extra;
        throw new InvalidSettingsError(err.message, { ...rest, field: setting });
      }
      if (err instanceof DatasetError && err.code === 'no-samples-for-class') {
        const missing = settings.classes.filter(
          (c) => !c.startsWith('_') && !fs.existsSync(path.join(dirs.datasetDir, c)),
        );
        if (missing.length > 0) {
          throw new DatasetError('no-samples-for-class', err.message, {
            ...err.extra,
            missing_class_directories: missing,
            hint: `no directory named ${missing.join(', ')} in ${dirs.datasetDir}`,
          });
        }
      }
      throw err;
    }
  }

  async get(id: string): Promise<DatasetRecord> {
    let rec = await this.store.get(id);
    // A miss may be a store that lost its data: rebuilt from the manifests, then looked up again.
    if (!rec && (await this.recoverIfLost()) > 0) rec = await this.store.get(id);
    if (!rec) throw new NotFoundError('dataset', `no dataset with id ${JSON.stringify(id)}`);
    return rec;
  }

  async list(): Promise<DatasetRecord[]> {
    await this.recoverIfLost();
    return this.store.list();
  }

  /** One page of the registry in registration order, and the number of datasets. */
  async page(offset: number, limit: number): Promise<{ records: DatasetRecord[]; total: number }> {
    await this.recoverIfLost();
    return this.store.page(offset, limit);
  }

  /** The subset lists of a dataset (shared with other callers: read only). */
  async subsets(id: string): Promise<StoredSubsets> {
    const rec = await this.get(id);
    const hit = this.subsetsCache.get(id);
    if (hit?.version === versionOf(rec)) {
      this.remember(rec, hit.subsets);
      return hit.subsets;
    }
    const subsets = (await this.store.getSubsets(id)) ?? {};
    this.remember(rec, subsets);
    return subsets;
  }

  /** Keeps a record's lists as the most recently used (written or read here). */
  private remember(rec: DatasetRecord, subsets: StoredSubsets): void {
    this.subsetsCache.delete(rec.id);
    if (this.subsetsCache.size >= CACHED_SUBSETS) this.subsetsCache.delete(this.subsetsCache.keys().next().value as string);
    this.subsetsCache.set(rec.id, { version: versionOf(rec), subsets });
  }

  /**
   * MLTK load_dataset(subset) on a registered dataset: computes that subset from the
   * index and adds it to the loads the dataset holds (replacing a load of the same
   * subset); the other loads, and streams reading any list, are untouched.
   */
  async load(id: string, kind: LoadKind): Promise<DatasetRecord> {
    const rec = await this.get(id);
    const result = await this.runLoad(this.datasetDirsOf(rec), rec.settings, kind);
    return this.commit(id, (cur, stored) => {
      const now = new Date().toISOString();
      const loads = { ...loadsOf(cur), [kind]: loadRecordOf(result, cur.settings, now) };
      return {
        rec: withLoads({ ...cur, ...indexState(result, validationPlaceOf(cur), cur) }, loads),
        lists: listsFor(loads, stored, storedListsOf(result, cur)),
      };
    });
  }

  /** Regenerates the index files from the directory as it is now, then recomputes every load held. */
  async reindex(id: string): Promise<DatasetRecord> {
    const rec = await this.get(id);
    await reindexDataset(this.datasetDirsOf(rec), { ...datasetOptions(rec.settings), maxSubsetEntries: this.config.maxSubsetEntries, maxListFileBytes: this.config.maxListFileBytes });
    return this.reload(id);
  }

  /**
   * Recomputes every load the dataset holds from its index files (after a reindex or a
   * pinned index), keeping which load is the most recent; a dataset that holds none gets
   * a training load. A load another client removes meanwhile stays removed.
   */
  async reload(id: string): Promise<DatasetRecord> {
    const rec = await this.get(id);
    const held = loadedKinds(rec);
    const kinds: LoadKind[] = held.length > 0 ? held : ['training'];
    const results: [LoadKind, LoadResult][] = [];
    for (const kind of kinds) results.push([kind, await this.runLoad(this.datasetDirsOf(rec), rec.settings, kind)]);
    return this.commit(id, (cur, stored) => {
      const now = new Date().toISOString();
      const loads = { ...loadsOf(cur) };
      const none = loadedKinds(cur).length === 0;
      let next: DatasetRecord = cur;
      let fresh: StoredSubsets = {};
      for (const [kind, result] of results) {
        const before = loads[kind];
        if (!before && !(none && kind === 'training')) continue;
        loads[kind] = loadRecordOf(result, cur.settings, before?.loaded_at ?? now);
        next = { ...next, ...indexState(result, validationPlaceOf(cur), next) };
        fresh = { ...fresh, ...storedListsOf(result, cur) };
      }
      return { rec: withLoads(next, loads), lists: listsFor(loads, stored, fresh) };
    });
  }

  /**
   * MLTK unload_dataset: forgets the load of `kind`, or every load (index files and shuffle
   * artifacts stay). Unloading a subset that is not loaded changes nothing. A loader
   * source's `unload` runs when the last load goes.
   */
  async unload(id: string, kind?: LoadKind): Promise<DatasetRecord> {
    const rec = await this.get(id);
    const held = loadedKinds(rec);
    if (kind !== undefined && !held.includes(kind)) return rec;
    if (rec.source.type === 'loader' && (kind === undefined || (held.length === 1 && held[0] === kind))) {
      const mod = await importLoader(this.config.loadersDir, rec.source.name);
      await mod.unload?.(rec.source.options, this.loaderContext(rec.source.name));
    }
    return this.commit(
      id,
      (cur, stored) => {
        const loads: Partial<Record<LoadKind, LoadRecord>> = kind === undefined ? {} : { ...loadsOf(cur) };
        if (kind !== undefined) delete loads[kind];
        return { rec: withLoads(cur, loads), lists: listsFor(loads, stored, {}) };
      },
      kind !== undefined,
    );
  }

  /**
   * Writes the next state of a dataset, computed from the stored one, with
   * compare-and-set on its revision: a concurrent write (another client's load on another
   * replica) makes it compute the state again from that write.
   */
  private async commit(
    id: string,
    next: (cur: DatasetRecord, stored: StoredSubsets) => { rec: DatasetRecord; lists: StoredSubsets },
    readsLists = true,
  ): Promise<DatasetRecord> {
    for (let attempt = 1; ; attempt++) {
      const cur = await this.store.get(id);
      if (!cur) throw new NotFoundError('dataset', `dataset ${id} was deleted meanwhile`);
      const stored = readsLists ? ((await this.store.getSubsets(id)) ?? {}) : {};
      const made = next(cur, stored);
      const rec: DatasetRecord = { ...made.rec, revision: (cur.revision ?? 0) + 1, updated_at: new Date().toISOString() };
      const outcome = await this.store.update(rec, made.lists, cur.revision ?? 0);
      if (outcome === 'updated') {
        this.remember(rec, made.lists);
        await this.writeManifest(rec, made.lists);
        return rec;
      }
      if (outcome === 'missing') throw new NotFoundError('dataset', `dataset ${id} was deleted meanwhile`);
      if (attempt >= COMMIT_ATTEMPTS) {
        throw new ConflictError('concurrent-update', `dataset ${id} is being changed by other requests right now; retry`, { id });
      }
    }
  }

  async delete(id: string, purge: boolean): Promise<void> {
    const rec = await this.get(id);
    await this.store.delete(id);
    this.subsetsCache.delete(id);
    await this.manifests.remove(id);
    if (rec.source.type === 'upload') await fsp.rm(rec.dataset_dir, { recursive: true, force: true });
    if (purge || rec.source.type === 'upload') await fsp.rm(rec.artifact_dir, { recursive: true, force: true });
    this.log.info(`deleted dataset ${id}${purge ? ' and its artifacts' : ''}`);
  }

  /** True while `rec` (this registration, not a later one under its id) is registered. */
  async isRegistered(rec: DatasetRecord): Promise<boolean> {
    let now = await this.store.get(rec.id);
    if (!now && (await this.recoverIfLost()) > 0) now = await this.store.get(rec.id);
    return now !== null && now.created_at === rec.created_at;
  }

  /** The load of `kind` a dataset holds, or a 409 that says how to load it. */
  loadOf(rec: DatasetRecord, kind: LoadKind): LoadRecord {
    const load = loadsOf(rec)[kind];
    if (!load) {
      throw new ConflictError(
        'subset-not-loaded',
        `dataset ${rec.id} holds no ${kind} load (loaded: ${loadedKinds(rec).join(', ') || 'nothing'}); POST /v1/datasets/${rec.id}/load with {"subset":"${kind}"}`,
      );
    }
    return load;
  }

  /** summarize_dataset() as JSON: of the most recent load, or of the load of `kind`. */
  summaryJson(rec: DatasetRecord, kind?: LoadKind): object {
    const subset = kind ?? rec.loaded_subset;
    const counts = subset ? (kind ? this.loadOf(rec, kind).class_counts : rec.class_counts) : {};
    return summaryJson(subset ? ({ kind: subset, classCounts: counts } as unknown as LoadResult) : null, rec.settings.classes);
  }

  // --- durability: the manifests in DATA_DIR/registry -----------------------------------

  /**
   * Rebuilds the registry from the manifests when the store has lost its data (no
   * marker: Redis flushed, or restarted without persistence): every manifest whose
   * dataset the store does not hold is restored as it was last written. Logged and
   * counted (audiofeed_registry_recovered_datasets_total). Returns how many were restored.
   */
  /** Rebuilds this process has made and the registrations they restored (/metrics; kept in the process, not in the lost Redis). */
  readonly rebuildStats: RegistryRebuildStats = { rebuilds: 0, restored: 0 };

  recoverIfLost(): Promise<number> {
    return (this.recovering ??= this.rebuild().finally(() => (this.recovering = null)));
  }

  private async rebuild(): Promise<number> {
    if (await this.store.hasMarker()) return 0;
    let restored = 0;
    const ids = await this.manifests.ids();
    for (const id of ids) {
      const m = await this.manifests.read(id);
      if (!m) {
        this.log.warn(`registry manifest ${id}.json is unreadable: skipped`);
        continue;
      }
      if (await this.store.create(m.record, m.subsets)) restored++;
    }
    await this.store.setMarker();
    if (ids.length > 0) {
      // A store without its marker but with manifests beside it had a registry, and lost it.
      this.rebuildStats.rebuilds++;
      this.rebuildStats.restored += restored;
      this.log.warn(
        `the registry store held no registry (Redis lost or flushed): restored ${restored} of ${ids.length} dataset(s) from the manifests in DATA_DIR/registry`,
      );
    }
    if (restored > 0) await this.metrics?.recordRegistryRecovery(restored).catch(() => undefined);
    return restored;
  }

  /**
   * Brings the manifests in step with the store (after a crash between the two writes, a
   * manifest write that failed, or records stored before manifests existed): a record
   * without a current manifest gets one; a manifest whose dataset is gone is removed.
   * Runs only while the store has its marker (otherwise the manifests are the truth).
   */
  async reconcileManifests(): Promise<{ written: number; removed: number }> {
    await this.recoverIfLost();
    if (!(await this.store.hasMarker())) return { written: 0, removed: 0 };
    let written = 0;
    let removed = 0;
    const records = await this.store.list();
    const held = new Set(records.map((r) => r.id));
    for (const rec of records) {
      const h = await this.manifests.header(rec.id);
      if (h && h.created_at === rec.created_at && h.revision >= (rec.revision ?? 0)) continue;
      const subsets = await this.store.getSubsets(rec.id);
      if (!subsets) continue;
      await this.manifests.write(rec, subsets);
      written++;
    }
    for (const id of await this.manifests.ids()) {
      if (held.has(id) || (await this.store.exists(id))) continue;
      await this.manifests.remove(id);
      removed++;
    }
    return { written, removed };
  }
}

/**
 * MLTK takes bg_noise_dir as given when it exists, else relative to the dataset dir. A
 * service has no meaningful working directory: relative paths are taken relative to the
 * dataset dir, and the directory must lie inside the dataset's data root.
 */
async function resolveBgNoiseDir(settings: EffectiveSettings, datasetDir: string, root: string): Promise<EffectiveSettings> {
  const given = settings.augmentation?.bg_noise_dir;
  if (!settings.augmentation || !given) return settings;
  return { ...settings, augmentation: { ...settings.augmentation, bg_noise_dir: await resolveBgNoiseDirPath(given, datasetDir, root) } };
}

/** A reused index is trusted verbatim (MLTK): it must not name files outside the dataset. */
function assertSafeEntries(result: LoadResult): void {
  for (const subset of [result.training, result.validation, result.evaluation]) {
    for (const e of subset?.entries ?? []) {
      if (e !== null && (e.startsWith('/') || e.split('/').includes('..') || e.includes('\0'))) {
        throw new DatasetError('unsafe-index-entry', `an index file names ${JSON.stringify(e)}, which is not a path inside the dataset; fix or delete the .index folder`, {
          entry: e,
        });
      }
    }
  }
}

function indexDirOf(files: string[]): string {
  const first = files[0];
  // index files are <dir>/.index/<class>.txt
  return first ? path.dirname(path.dirname(first)) : '';
}

/** The lists a load made, each with the dir its entries are relative to and that dir's data root. */
function storedListsOf(result: LoadResult, rec: Pick<DatasetRecord, 'dataset_dir' | 'data_root' | 'validation_data'>): StoredSubsets {
  const out: StoredSubsets = {};
  for (const [name, s] of Object.entries(listsOfLoad(result)) as [keyof StoredSubsets, LoadResult['training']][]) {
    if (!s) continue;
    const dataRoot = rec.validation_data && s.datasetDir === rec.validation_data.dataset_dir ? rec.validation_data.data_root : rec.data_root;
    out[name] = { entries: s.entries, labels: s.labels, datasetDir: s.datasetDir, dataRoot };
  }
  return out;
}

function validationPlaceOf(rec: DatasetRecord): ValidationDataPlace | null {
  const v = rec.validation_data;
  return v ? { dataset_dir: v.dataset_dir, data_root: v.data_root, dataset_id: v.dataset_id } : null;
}

/**
 * The index files a load used, as the record keeps them: a load that did not list a dir
 * (validation_data's validation and evaluation loads do not list the training dir) keeps
 * what the record knew of that dir's index.
 */
function indexState(
  result: LoadResult,
  validationData: ValidationDataPlace | null,
  before: Pick<DatasetRecord, 'index' | 'validation_data'> | null,
): Pick<DatasetRecord, 'index' | 'validation_data'> {
  let index: IndexRecord = { location: result.indexLocation, dir: indexDirOf(result.indexFiles), files: result.indexFiles };
  if (!index.dir && before?.index.dir) index = before.index;
  let vIndex: IndexRecord | null = result.validationDataIndex
    ? { location: result.validationDataIndex.location, dir: indexDirOf(result.validationDataIndex.files), files: result.validationDataIndex.files }
    : null;
  if (!vIndex?.dir && before?.validation_data?.index) vIndex = before.validation_data.index;
  return { index, validation_data: validationData ? { ...validationData, index: vIndex } : null };
}
