/**
 * Featurization of registered datasets, as the API offers it: start it for a subset,
 * follow its jobs, summarise which shards exist and which clips were skipped, and
 * preview one sample's spectrogram. The work itself runs on the workers; this service
 * plans it (content-derived shard keys and job ids, ./plan.ts) and talks to them through
 * the FeatureQueue port.
 */
import fs from 'node:fs';
import { resolveAugmentation, type AugmentationSettings, type ResolvedAugmentation } from '../../core/audio/augment/index.ts';
import { InvalidSettingsError, NotFoundError } from '../../core/errors.ts';
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import type { StoredSubsetName, SubsetName } from '../../core/schemas.ts';
import type { DspPort, FeatureQueue, FeaturizationSummary, JobProgress, Logger } from '../ports.ts';
import { quarantineShard } from './integrity.ts';
import type { ShardCorruptError } from './shard-file.ts';
import { listNameOf, subsetDir, subsetFor, type SampleRef } from '../registry/subsets.ts';
import type { DatasetRecord, StoredSubset, StoredSubsets } from '../registry/types.ts';
import { deliveredDtype, featureSpecOf, planList, type SubsetPlan } from './plan.ts';
import { sampleSpectrogram, type SampleSpectrogram } from './preview.ts';
import type { AugmentedPreview } from './augmented-preview.ts';
import { resolveBgNoiseDirPath } from '../registry/bg-noise-dir.ts';
import { featurizationState, type SkippedClip } from './skipped.ts';
import { noWorkers } from './wait.ts';

const STORED: readonly StoredSubsetName[] = ['training', 'validation'];
/** Every list a load can store: the list split's evaluation list has a featurization of its own. */
const LISTS: readonly (StoredSubsetName | 'evaluation')[] = [...STORED, 'evaluation'];

/** A cancelled featurization whose jobs are gone: its id still answers. */
export interface CancelledJob {
  id: string;
  state: 'cancelled';
  cancelled: true;
}

export interface SubsetFeaturization {
  shards_done: number;
  shards_total: number;
  skipped_clips: SkippedClip[];
}

export interface JobLinks {
  status_url: string;
  events_url: string;
}

/** A featurization job of a dataset's loaded list, with where to follow it. */
export type DatasetJob = (JobProgress | CancelledJob) & JobLinks & { subset: StoredSubsetName | 'evaluation' };

/** What GET /v1/jobs filters on. */
export interface JobFilter {
  datasetId?: string;
  /** Any of these states (as progress shows them: waiting, active, completed, failed, cancelled, ...). */
  states?: readonly string[];
}

export function jobLinks(id: string): JobLinks {
  return { status_url: `/v1/jobs/${id}`, events_url: `/v1/jobs/${id}/events` };
}

export class FeatureService {
  constructor(
    private readonly deps: {
      queue: FeatureQueue;
      /** DATA_DIR/features: feature shards. */
      featuresDir: string;
      /** Computes previews of samples whose shard does not exist yet (off the event loop). */
      dsp: DspPort;
      /** Corrupted shards are reported here (warn). */
      log?: Logger;
    },
  ) {}

  /** Quarantines and counts a shard that failed verification (the next stream or featurize makes it again). */
  private readonly onCorrupt = (err: ShardCorruptError) => quarantineShard(err, this.deps.queue, this.deps.log);

  /** Where the features of one stored list of a dataset are (and which job makes them). */
  planOf(rec: DatasetRecord, list: StoredSubset): SubsetPlan {
    return planList(rec, list, this.deps.featuresDir);
  }

  /**
   * Starts (or finds) the featurization of a subset; a repeated request reuses the job.
   * With no worker connected, only a finished featurization is answered: anything else is
   * a 503 `no-workers` (with Retry-After) at once, never a job that waits without end.
   */
  async featurize(rec: DatasetRecord, subsets: StoredSubsets, name: SubsetName, requestId: string): Promise<{ jobId: string; created: boolean }> {
    const { queue } = this.deps;
    const list = subsetFor(rec, subsets, name);
    deliveredDtype(rec); // the same refusal a stream of these features would give
    const spec = featureSpecOf(rec);
    const { datasetDir, root } = subsetDir(rec, list);
    const plan = this.planOf(rec, list);
    const [parents, children] = await Promise.all([queue.workersConnected('featurize'), queue.workersConnected('shards')]);
    if (Math.min(parents, children) === 0) {
      const id = queue.featurizeJobId(plan);
      if (await this.finished(id, plan)) return { jobId: id, created: false };
      throw noWorkers();
    }
    return queue.ensureFeaturized({
      datasetId: rec.id,
      subset: listNameOf(subsets, list, name),
      datasetDir,
      root,
      entries: list.entries,
      spec,
      plan,
      requestId,
    });
  }

  /** The featurization `id` of `plan` has completed and every shard of it is on disk. */
  private async finished(id: string, plan: SubsetPlan): Promise<boolean> {
    try {
      if ((await this.deps.queue.jobProgress(id)).state !== 'completed') return false;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
    return plan.shards.every((s) => fs.existsSync(s.file));
  }

  /** A featurization's progress with the id of the request that created it, or its cancelled stub. */
  async status(jobId: string): Promise<(JobProgress & { request_id: string | null }) | CancelledJob> {
    const { queue } = this.deps;
    try {
      const progress = await queue.jobProgress(jobId);
      // The request that created the flow (X-Request-Id): the key to its API and worker logs.
      return { ...progress, request_id: await queue.jobRequestId(jobId) };
    } catch (err) {
      // A cancelled flow is removed from the queue; its id still answers.
      if (err instanceof NotFoundError && (await queue.isCancelled(jobId))) return { id: jobId, state: 'cancelled', cancelled: true };
      throw err;
    }
  }

  /**
   * One page of the featurizations the queue holds (every dataset's, cancelled ones while
   * their mark lasts), newest first, filtered; and how many match.
   */
  async list(filter: JobFilter, offset: number, limit: number): Promise<{ jobs: (JobProgress & JobLinks)[]; total: number }> {
    const { queue } = this.deps;
    const states = filter.states && filter.states.length > 0 ? new Set(filter.states) : null;
    const matching = (await queue.featurizations())
      .filter((j: FeaturizationSummary) => (filter.datasetId === undefined || j.datasetId === filter.datasetId) && (states === null || states.has(j.state)))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const page = await Promise.all(
      matching.slice(offset, offset + limit).map((j) =>
        // A job removed since it was listed is left out of the page.
        queue.jobProgress(j.id).then(
          (p) => ({ ...p, ...jobLinks(p.id) }),
          (err: unknown) => {
            if (err instanceof NotFoundError) return null;
            throw err;
          },
        ),
      ),
    );
    return { jobs: page.filter((j) => j !== null), total: matching.length };
  }

  /** The featurization jobs of the loaded lists (job ids derive from content: no listing needed). */
  async jobs(rec: DatasetRecord, subsets: StoredSubsets): Promise<DatasetJob[]> {
    const { queue } = this.deps;
    const jobs: DatasetJob[] = [];
    for (const name of LISTS) {
      const list = subsets[name];
      if (!list) continue;
      const id = queue.featurizeJobId(this.planOf(rec, list));
      let progress: JobProgress;
      try {
        progress = await queue.jobProgress(id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        if (await queue.isCancelled(id)) jobs.push({ subset: name, id, state: 'cancelled', cancelled: true, ...jobLinks(id) });
        continue;
      }
      jobs.push({ ...progress, subset: name, ...jobLinks(id) });
    }
    return jobs;
  }

  /** Per loaded list: shards on disk and the clips they could not featurize (the summary JSON). */
  summary(rec: DatasetRecord, subsets: StoredSubsets): Partial<Record<StoredSubsetName, SubsetFeaturization>> {
    const out: Partial<Record<StoredSubsetName, SubsetFeaturization>> = {};
    for (const name of STORED) {
      const list = subsets[name];
      if (!list) continue;
      const state = featurizationState(this.planOf(rec, list), (err) => void this.onCorrupt(err).catch(() => undefined));
      out[name] = { shards_done: state.shardsDone, shards_total: state.shardsTotal, skipped_clips: state.skipped };
    }
    return out;
  }

  /** The uint16 spectrogram of one sample, exactly the values the featurization stores. */
  sampleSpectrogram(rec: DatasetRecord, sample: SampleRef): Promise<SampleSpectrogram> {
    return sampleSpectrogram(rec, sample, this.deps.featuresDir, this.deps.dsp, this.onCorrupt);
  }

  /**
   * One sample augmented by a recipe (the dataset's own augmentation when `recipe` is
   * undefined): validated as at registration (422 naming the field), its bg_noise_dir
   * checked against the data root, then computed on the DSP pool (./augmented-preview.ts):
   * the background noises of the registered recipes' directories stay loaded there; another
   * directory a preview names is loaded for that request only.
   */
  async augmentedPreview(rec: DatasetRecord, sample: SampleRef, recipe: AugmentationSettings | undefined, seed: number): Promise<AugmentedPreview> {
    let augmentation: ResolvedAugmentation;
    if (recipe === undefined) {
      if (!rec.settings.augmentation) {
        throw new InvalidSettingsError(`dataset ${rec.id} has no augmentation setting: send a recipe in \`augmentation\``, { field: 'augmentation' });
      }
      augmentation = rec.settings.augmentation;
    } else {
      augmentation = resolveAugmentation(recipe);
    }
    const { datasetDir, root } = subsetDir(rec, sample.list);
    if (augmentation.bg_noise_dir) augmentation = { ...augmentation, bg_noise_dir: await resolveBgNoiseDirPath(augmentation.bg_noise_dir, datasetDir, root) };
    const registered = augmentation.bg_noise_dir !== null && augmentation.bg_noise_dir === rec.settings.augmentation?.bg_noise_dir;
    const preview = await this.deps.dsp.run({
      kind: 'augmented-preview',
      input: { datasetDir, root, entry: sample.entry, spec: featureSpecOf(rec), augmentation, seed },
      cacheNoises: registered,
    });
    // A Buffer crosses a thread as a plain Uint8Array.
    const wav: Uint8Array = preview.wav;
    return { ...preview, wav: Buffer.isBuffer(wav) ? wav : Buffer.from(wav.buffer, wav.byteOffset, wav.byteLength) };
  }
}
