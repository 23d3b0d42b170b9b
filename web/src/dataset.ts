/**
 * One dataset on screen: a heading, links to its sections (each its own address) and the
 * sections themselves, built once when the dataset opens and shown one at a time, so
 * switching sections (or going back and forward between them) keeps running job streams
 * and loaded previews.
 *
 *   overview       properties, the class-count chart (every loaded subset side by side),
 *                  counts and weights per class, frontend settings (collapsed)
 *   featurization  per subset: shards on disk, a Featurize button, the job's progress bar
 *                  with clips/s and ETA (live, server-sent events), the skipped clips
 *   samples        the sample grid with subset and class filters (samples.ts)
 *   augmentation   a clip and a recipe: the augmented audio and spectrogram beside the original (augment.ts)
 *   summary        the summary text (MLTK summarize_dataset)
 *   manage         load / unload subsets, delete with a confirmation (manage.ts)
 */
import { ApiError, apiJson, postJson, readEvents } from './api.ts';
import { classCountChart } from './chart.ts';
import { append, clear, formatValue, h, kvTable, own } from './dom.ts';
import { showError } from './errors.ts';
import { datasetHash, type SampleFilter, type Section } from './router.ts';
import { AugmentSection } from './augment.ts';
import { ManageSection, type ManageCallbacks } from './manage.ts';
import { SamplesSection } from './samples.ts';
import { SUBSETS, type Dataset, type Featurization, type JobProgress, type Subset, type Summary } from './types.ts';

export const SECTION_LABELS: Record<Section, string> = {
  overview: 'Overview',
  featurization: 'Featurization',
  samples: 'Samples',
  augmentation: 'Augmentation',
  summary: 'Summary',
  manage: 'Manage',
};

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
/** How often an open dataset view looks for featurizations started elsewhere. */
const JOBS_POLL_MS = 4000;
const enc = encodeURIComponent;

interface ProgressUi {
  subset: Subset;
  shards: HTMLElement;
  button: HTMLButtonElement;
  bar: HTMLProgressElement;
  percent: HTMLElement;
  text: HTMLElement;
  skipped: HTMLElement;
  following: string | null;
  running: boolean;
  /** The job (and its state) the progress line shows. */
  lastJob: string | null;
  lastState: string | null;
}

/** "about 2 s left", "about 3 min 5 s left". */
function duration(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 90) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A job's BullMQ state as people say it. */
function stateLabel(p: JobProgress): string {
  switch (p.state) {
    case 'waiting':
    case 'delayed':
    case 'prioritized':
      return 'queued';
    case 'waiting-children':
      return p.clips_done > 0 || p.clips_per_second ? 'running' : 'queued';
    case 'active':
      return 'running';
    default:
      return p.state;
  }
}

export class DatasetView {
  readonly abort = new AbortController();
  readonly root: HTMLElement;
  readonly heading: HTMLElement;
  private readonly sections = new Map<Section, HTMLElement>();
  private readonly tabs = new Map<Section, HTMLAnchorElement>();
  private readonly progress = new Map<Subset, ProgressUi>();
  private readonly shardFacts: HTMLElement;
  /** Shards on disk per subset: from the summary, then live from the job's progress events. */
  private readonly shardCounts = new Map<Subset, { done: number; total: number }>();
  private samples: SamplesSection | null = null;
  private augment: AugmentSection | null = null;
  section: Section | null = null;

  constructor(
    readonly dataset: Dataset,
    manage: ManageCallbacks,
  ) {
    const rec = dataset;
    this.heading = h('h2', { id: 'dataset-heading', tabindex: '-1' }, `Dataset ${rec.id}`);
    const nav = h('nav', { class: 'tabs', 'aria-label': `Sections of dataset ${rec.id}` });
    const list = h('ul', {});
    for (const s of Object.keys(SECTION_LABELS) as Section[]) {
      const a = h('a', { href: datasetHash(rec.id, s), 'data-section': s }, SECTION_LABELS[s]);
      if (s === 'featurization') append(a, h('span', { class: 'tab-badge', hidden: true }));
      this.tabs.set(s, a);
      append(list, h('li', {}, a));
    }
    append(nav, list);
    this.shardFacts = h('span', {}, '…');
    this.root = h(
      'div',
      { class: 'dataset-view', 'data-dataset': rec.id },
      h(
        'div',
        { class: 'dataset-head' },
        h('a', { href: '#/', class: 'back' }, '← All datasets'),
        this.heading,
        h('span', { class: `badge status status-${rec.status}` }, rec.status),
        rec.loaded_subset ? h('span', { class: 'badge' }, `${rec.loaded_subset} loaded`) : null,
        h('button', { type: 'button', id: 'reload', class: 'secondary' }, 'Reload'),
      ),
      nav,
    );
    for (const s of Object.keys(SECTION_LABELS) as Section[]) {
      const el = h(
        'section',
        { class: 'dataset-section', 'data-section': s, 'aria-labelledby': `section-${s}`, tabindex: '-1', hidden: true },
        h('h3', { id: `section-${s}`, class: 'visually-hidden' }, `${SECTION_LABELS[s]} of ${rec.id}`),
      );
      this.sections.set(s, el);
      append(this.root, el);
    }
    this.renderOverview();
    new ManageSection(rec, this.sections.get('manage')!, manage);
    if (rec.status !== 'ready' || !rec.loaded_subset) {
      this.shardFacts.textContent = '—';
      for (const s of ['featurization', 'samples', 'augmentation', 'summary'] as const) {
        append(
          this.sections.get(s)!,
          h('p', {}, 'The dataset is unloaded: load a subset in ', h('a', { href: datasetHash(rec.id, 'manage') }, 'Manage'), ' to see its featurization, samples, augmentation and summary.'),
        );
      }
    } else {
      this.samples = new SamplesSection(rec, this.abort.signal, this.sections.get('samples')!);
      this.augment = new AugmentSection(rec, this.abort.signal, this.sections.get('augmentation')!);
      void this.loadSummaryAndJobs();
    }
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  close(): void {
    this.abort.abort();
    this.samples?.close();
    this.augment?.close();
  }

  /** Shows one section (the samples section with `filter`); the others stay built, hidden. */
  show(section: Section, filter: SampleFilter): void {
    this.section = section;
    for (const [s, el] of this.sections) el.hidden = s !== section;
    for (const [s, a] of this.tabs) {
      if (s === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (section === 'samples') this.samples?.apply(filter);
    if (section === 'augmentation') this.augment?.apply(filter);
  }

  sectionElement(section: Section): HTMLElement {
    return this.sections.get(section)!;
  }

  // ------------------------------------------------------------ overview

  private renderOverview(): void {
    const rec = this.dataset;
    const section = this.sections.get('overview')!;
    const subsets = SUBSETS.filter((s) => rec.class_counts[s]);
    const source = rec.source as { type?: string; path?: string };
    const facts = kvTable('Properties', [
      ['Classes', `${rec.audio_classes.length}: ${rec.audio_classes.join(', ')}`],
      ['audio_input_shape', `[${rec.audio_input_shape.join(', ')}]`],
      ['Audio', `${rec.sample_rate_hz} Hz, ${rec.sample_length_ms} ms`],
      ['Class mode', rec.class_mode ?? 'none'],
      ['Source', h('span', { class: 'source', title: JSON.stringify(rec.source) }, `${source.type ?? '—'}${source.path ? ` ${source.path}` : ''}`)],
      ['Listing', rec.listing],
      [
        'Augmentation',
        h(
          'span',
          {},
          rec.settings.augmentation ? 'on (sample previews show features before augmentation) · ' : 'off · ',
          h('a', { href: datasetHash(rec.id, 'augmentation') }, 'try a recipe'),
        ),
      ],
      ['Feature shards', this.shardFacts],
    ]);
    facts.classList.add('facts');

    let chart: HTMLElement;
    if (subsets.length === 0) {
      chart = h('figure', { class: 'chart-figure' }, h('figcaption', {}, h('strong', {}, 'Class counts')), h('p', {}, 'No subset is loaded.'));
    } else {
      const totals = subsets.map((s) => Object.values(rec.class_counts[s]!).reduce((a, b) => a + b, 0));
      chart = h(
        'figure',
        { class: 'chart-figure' },
        h(
          'figcaption',
          {},
          h('strong', {}, 'Class counts'),
          h(
            'ul',
            { class: 'legend' },
            ...subsets.map((s, i) => h('li', {}, h('span', { class: `swatch swatch-${i}`, 'aria-hidden': 'true' }), `${s}: ${totals[i]} samples`)),
          ),
        ),
        h('div', { class: 'chart-scroll' }, classCountChart(rec.audio_classes, rec.class_counts, subsets)),
      );
    }
    append(section, h('div', { class: 'overview-grid' }, facts, chart));

    // Counts and weights per class, as text: the chart's numbers and the Keras class_weight.
    const w = rec.class_weights;
    const rows: HTMLTableRowElement[] = subsets.map((s) =>
      h('tr', { 'data-row': s }, h('th', { scope: 'row' }, `${s[0]!.toUpperCase()}${s.slice(1)} samples`), ...rec.audio_classes.map((c) => h('td', {}, String(own(rec.class_counts[s], c) ?? 0)))),
    );
    if (w?.value) {
      rows.push(
        h(
          'tr',
          { 'data-row': 'weight' },
          h('th', { scope: 'row' }, 'Class weight'),
          ...rec.audio_classes.map((c, i) => h('td', {}, formatValue(own(w.value!, String(i)) ?? own(w.value!, c)))),
        ),
      );
    }
    if (rows.length > 0) {
      append(
        section,
        h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { class: 'per-class' },
            h('caption', {}, w?.value ? 'Per class: samples and class weights (Keras class_weight)' : 'Per class: samples'),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Class'), ...rec.audio_classes.map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, ...rows),
          ),
        ),
      );
    }
    if (!w?.value) append(section, h('p', { class: 'note' }, w?.warning ? `No class weights: ${w.warning}` : 'No class weights (class_weights is not set, or the training subset is not loaded).'));
    else if (w.warning) append(section, h('p', { class: 'warning' }, w.warning));
    if (rec.warnings.length > 0) append(section, h('ul', { class: 'warnings' }, ...rec.warnings.map((x) => h('li', {}, x))));

    const more = h('div', { class: 'more-details' });
    append(
      more,
      h(
        'details',
        { class: 'frontend-settings' },
        h('summary', {}, rec.frontend_enabled ? `Frontend settings (${Object.keys(rec.frontend_settings).length}, MLTK names)` : 'Frontend settings (disabled)'),
        rec.frontend_enabled
          ? kvTable('Microfrontend settings (MLTK names)', Object.entries(rec.frontend_settings).map(([k, v]) => [k, formatValue(v)]), 'kv settings')
          : h('p', {}, 'The frontend is disabled: samples are audio, not spectrograms.'),
      ),
    );
    if (w?.log) append(more, h('details', {}, h('summary', {}, 'Class weights: MLTK log'), h('pre', {}, w.log)));
    append(section, more);
  }

  // ------------------------------------------------------------ summary and featurization

  private async loadSummaryAndJobs(): Promise<void> {
    const id = this.dataset.id;
    const featSection = this.sections.get('featurization')!;
    const summarySection = this.sections.get('summary')!;
    let summary: Summary;
    let jobs: JobProgress[];
    try {
      [summary, { jobs }] = await Promise.all([
        apiJson<Summary>(`/v1/datasets/${enc(id)}/summary`, { signal: this.abort.signal }),
        apiJson<{ jobs: JobProgress[] }>(`/v1/datasets/${enc(id)}/jobs`, { signal: this.abort.signal }),
      ]);
    } catch (err) {
      this.shardFacts.textContent = 'unknown (see the error above)';
      showError(err, `reading the summary and jobs of ${id}`);
      return;
    }
    if (this.closed) return;
    append(summarySection, h('pre', { class: 'summary', tabindex: '0', 'aria-label': 'Summary text (MLTK summarize_dataset)' }, summary.text));

    append(
      featSection,
      h('p', { class: 'note' }, 'Featurizing a subset computes its spectrograms once into feature shards, so epochs stream from disk. Progress is followed live.'),
    );
    const grid = h('div', { class: 'feat-grid' });
    append(featSection, grid);
    for (const subset of SUBSETS) {
      const feat = summary.featurization[subset];
      if (!feat) continue;
      const button = h('button', { type: 'button', 'data-featurize': subset }, `Featurize ${subset}`);
      const bar = h('progress', { max: 1, value: 0, 'aria-label': `Featurization progress, ${subset}`, 'data-subset': subset });
      const percent = h('span', { class: 'progress-pct', 'aria-hidden': 'true' }, '0%');
      const text = h('p', { class: 'progress-text', role: 'status', 'aria-live': 'polite', 'data-progress': subset }, 'No job running.');
      const shards = h('p', { class: 'shards' });
      const skipped = h('div', { class: 'skipped' });
      const ui: ProgressUi = { subset, shards, button, bar, percent, text, skipped, following: null, running: false, lastJob: null, lastState: null };
      this.progress.set(subset, ui);
      button.addEventListener('click', () => void this.startFeaturization(subset));
      append(
        grid,
        h(
          'div',
          { class: 'subset-feat', 'data-subset': subset },
          h('div', { class: 'feat-head' }, h('h4', {}, `${subset[0]!.toUpperCase()}${subset.slice(1)} subset`), button),
          shards,
          h('div', { class: 'progress-row' }, bar, percent),
          text,
          skipped,
        ),
      );
      this.showFeaturization(ui, subset, feat);
      const job = jobs.find((j) => j.subset === subset);
      if (job && !TERMINAL.has(job.state)) void this.followJob(subset, job.id);
      else if (job) this.showProgress(ui, job, false);
    }
    this.showShardFacts();
    void this.watchJobs();
  }

  /**
   * A featurization started elsewhere (a client's stream, the CLI, another tab) is picked
   * up: the dataset's jobs are listed every few seconds while the view is open, and a
   * running job that no stream follows yet is followed (its events then drive the bar and
   * the shard counts, as for a job started here).
   */
  private async watchJobs(): Promise<void> {
    const id = this.dataset.id;
    while (!this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, JOBS_POLL_MS);
        this.abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (this.closed) return;
      let jobs: JobProgress[];
      try {
        ({ jobs } = await apiJson<{ jobs: JobProgress[] }>(`/v1/datasets/${enc(id)}/jobs`, { signal: this.abort.signal }));
      } catch {
        continue; // a blip: the next turn asks again (errors of the view's own requests are shown)
      }
      for (const [subset, ui] of this.progress) {
        if (ui.following !== null) continue;
        const running = jobs.find((j) => j.subset === subset && !TERMINAL.has(j.state));
        if (running) {
          void this.followJob(subset, running.id);
          continue;
        }
        // One that ran and ended between two looks: its outcome, and the shards it left.
        const ended = jobs.find((j) => j.subset === subset);
        if (ended && (ended.id !== ui.lastJob || ui.lastState !== ended.state)) {
          this.showProgress(ui, ended, false);
          void this.refreshFeaturization(subset);
        }
      }
    }
  }

  /** The overview's "Feature shards" line, from the same counts as each subset's line. */
  private showShardFacts(): void {
    const parts = SUBSETS.filter((s) => this.shardCounts.has(s)).map((s) => {
      const c = this.shardCounts.get(s)!;
      return `${s} ${c.done} of ${c.total}`;
    });
    this.shardFacts.textContent = parts.length > 0 ? parts.join(', ') : '—';
  }

  /** Shards on disk of a subset: written in its featurization line and in the overview. */
  private showShardCount(ui: ProgressUi, subset: Subset, done: number, total: number): void {
    this.shardCounts.set(subset, { done, total });
    ui.shards.textContent = `Feature shards on disk: ${done} of ${total}.`;
    ui.shards.dataset.done = String(done);
    ui.shards.dataset.total = String(total);
    this.showShardFacts();
  }

  private showFeaturization(ui: ProgressUi, subset: Subset, feat: Featurization): void {
    this.showShardCount(ui, subset, feat.shards_done, feat.shards_total);
    clear(ui.skipped);
    if (feat.shards_done === 0) {
      append(ui.skipped, h('p', { class: 'note' }, 'Skipped clips are known once the subset is featurized.'));
      return;
    }
    if (feat.skipped_clips.length === 0) {
      append(ui.skipped, h('p', { class: 'note' }, 'No clip was skipped.'));
      return;
    }
    append(
      ui.skipped,
      h(
        'table',
        { class: 'skipped-clips' },
        h('caption', {}, `Skipped clips, ${subset} (${feat.skipped_clips.length}): left out of every epoch`),
        h('thead', {}, h('tr', {}, ...['Position', 'Clip', 'Reason', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          {},
          ...feat.skipped_clips.map((s) =>
            h('tr', {}, h('td', {}, String(s.position)), h('td', {}, s.entry ?? '(silence)'), h('td', {}, h('code', {}, s.reason)), h('td', {}, s.detail)),
          ),
        ),
      ),
    );
  }

  /**
   * `live`: from the job's event stream. A job's shards done are shards on disk (reused ones
   * and those its children wrote), so the shard count follows the same events as the bar;
   * a finished job listed when the view opened leaves the summary's count (shards may have
   * been collected since).
   */
  private showProgress(ui: ProgressUi, p: JobProgress, live: boolean): void {
    if (live) this.showShardCount(ui, ui.subset, p.shards_done, p.shards_total);
    ui.bar.max = Math.max(1, p.clips_total);
    ui.bar.value = p.clips_done;
    const pct = p.clips_total > 0 ? Math.floor((100 * p.clips_done) / p.clips_total) : 0;
    ui.percent.textContent = `${pct}%`;
    const terminal = TERMINAL.has(p.state);
    const rate = p.clips_per_second ? `, ${p.clips_per_second < 10 ? p.clips_per_second.toFixed(1) : p.clips_per_second.toFixed(0)} clips/s` : '';
    const eta = p.eta_seconds && !terminal ? `, about ${duration(p.eta_seconds)} left` : '';
    const failed = p.failed_reason ? ` (${p.failed_reason})` : '';
    ui.text.textContent = `Job ${stateLabel(p)}${failed}: ${p.shards_done} of ${p.shards_total} shards, ${p.clips_done} of ${p.clips_total} clips${rate}${eta}.`;
    ui.text.dataset.state = p.state;
    ui.lastJob = p.id;
    ui.lastState = p.state;
    ui.bar.dataset.state = p.state;
    ui.running = !terminal;
    this.updateTabBadge();
  }

  /** The featurization link says how far running jobs are, whatever section is on screen. */
  private updateTabBadge(): void {
    const badge = this.tabs.get('featurization')!.querySelector<HTMLElement>('.tab-badge')!;
    const running = [...this.progress.values()].filter((u) => u.running);
    badge.hidden = running.length === 0;
    badge.textContent = running.map((u) => u.percent.textContent).join(' · ');
  }

  private async startFeaturization(subset: Subset): Promise<void> {
    const ui = this.progress.get(subset)!;
    ui.button.disabled = true;
    ui.text.textContent = 'Starting featurization…';
    try {
      const job = await postJson<{ job_id: string; created: boolean; events_url: string }>(
        `/v1/datasets/${enc(this.dataset.id)}/featurize`,
        { subset },
        this.abort.signal,
      );
      await this.followJob(subset, job.job_id);
    } catch (err) {
      ui.text.textContent = 'Featurization could not be started.';
      showError(err, `starting featurization of ${this.dataset.id} (${subset})`);
    } finally {
      // The job list's watcher may be the one following the job now.
      ui.button.disabled = ui.following !== null;
    }
  }

  /** Follows a job's server-sent events until `done`, then refreshes the subset's shard count and skipped clips. */
  private async followJob(subset: Subset, jobId: string): Promise<void> {
    const ui = this.progress.get(subset)!;
    if (ui.following === jobId) return;
    ui.following = jobId;
    ui.button.disabled = true;
    let finished = false;
    try {
      await readEvents(
        `/v1/jobs/${enc(jobId)}/events`,
        (e) => {
          if (e.event === 'progress' || e.event === 'done') {
            this.showProgress(ui, JSON.parse(e.data) as JobProgress, true);
            if (e.event === 'done') finished = true;
          } else if (e.event === 'error') {
            const detail = (JSON.parse(e.data) as { detail?: string }).detail ?? e.data;
            showError(new ApiError(0, 'Job progress stopped', detail, null), `following job ${jobId}`);
          }
        },
        this.abort.signal,
      );
      if (!finished && !this.closed) showError(new ApiError(0, 'Progress stream ended', 'the event stream closed before the job was done', null), `following job ${jobId}`);
    } catch (err) {
      showError(err, `following job ${jobId}`);
    } finally {
      ui.following = null;
      ui.button.disabled = false;
    }
    if (!finished || this.closed) return;
    await this.refreshFeaturization(subset);
  }

  /** A job of `subset` ended: its shard count and skipped clips from the summary. */
  private async refreshFeaturization(subset: Subset): Promise<void> {
    const ui = this.progress.get(subset)!;
    try {
      const summary = await apiJson<Summary>(`/v1/datasets/${enc(this.dataset.id)}/summary`, { signal: this.abort.signal });
      const feat = summary.featurization[subset];
      if (feat) this.showFeaturization(ui, subset, feat);
    } catch (err) {
      showError(err, `refreshing the summary of ${this.dataset.id}`);
    }
  }
}
