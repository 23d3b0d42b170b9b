/**
 * The audiofeed dashboard: registered datasets with their status; per dataset its
 * classes, input shape, frontend settings, class counts (SVG bar charts), class weights,
 * summary text, skipped clips, featurization jobs with live progress (server-sent
 * events), and spectrogram previews with the clip's audio. Plain TypeScript and DOM.
 */
import { ApiError, apiJson, blobUrl, getToken, postJson, readEvents, setToken } from './api.ts';
import { classCountChart } from './chart.ts';
import { append, byId, clear, formatValue, h, kvTable } from './dom.ts';

interface ClassWeights {
  value: Record<string, number> | null;
  log: string | null;
  warning: string | null;
}

interface Dataset {
  id: string;
  status: string;
  source: Record<string, unknown>;
  listing: string;
  audio_classes: string[];
  audio_input_shape: number[];
  sample_rate_hz: number;
  sample_length_ms: number;
  class_mode: string | null;
  frontend_enabled: boolean;
  frontend_settings: Record<string, unknown>;
  loaded_subset: string | null;
  class_counts: Record<string, Record<string, number>>;
  class_weights: ClassWeights | null;
  warnings: string[];
  settings: { augmentation?: unknown };
}

interface SkippedClip {
  position: number;
  entry: string | null;
  reason: string;
  detail: string;
}

interface Summary {
  text: string;
  featurization: Record<string, { shards_done: number; shards_total: number; skipped_clips: SkippedClip[] }>;
}

interface JobProgress {
  id: string;
  subset: string;
  state: string;
  shards_total: number;
  shards_done: number;
  clips_total: number;
  clips_done: number;
  clips_per_second: number | null;
  eta_seconds: number | null;
  failures: SkippedClip[];
  failed_reason: string | null;
  events_url?: string;
}

interface SampleItem {
  index: number;
  entry: string | null;
  label: number;
  class: string;
}

const SUBSETS = ['training', 'validation'] as const;
type Subset = (typeof SUBSETS)[number];
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const SAMPLES_PER_CLASS = 4;
const PREVIEW_FETCHES_IN_FLIGHT = 4;
const MAX_ERRORS_SHOWN = 5;

const enc = encodeURIComponent;

// ---------------------------------------------------------------- errors and token

function describe(err: unknown): { title: string; detail: string; status: number | null } {
  if (err instanceof ApiError) return { title: err.title, detail: err.detail, status: err.status || null };
  return { title: 'Unexpected error', detail: err instanceof Error ? err.message : String(err), status: null };
}

/** Shows an API error in the page's alert region (title, detail, status) with a dismiss button. */
function showError(err: unknown, context: string): void {
  if ((err as Error)?.name === 'AbortError') return;
  const region = byId('errors');
  const { title, detail, status } = describe(err);
  const dismiss = h('button', { type: 'button', class: 'dismiss' }, 'Dismiss');
  const item = h(
    'div',
    { class: 'error' },
    h('p', { class: 'error-title' }, h('strong', {}, title), status ? ` (HTTP ${status})` : '', ` — ${context}`),
    h('p', { class: 'error-detail' }, detail),
    dismiss,
  );
  dismiss.addEventListener('click', () => {
    item.remove();
    byId('main').focus();
  });
  region.append(item);
  while (region.children.length > MAX_ERRORS_SHOWN) region.firstElementChild?.remove();
  if (err instanceof ApiError && err.status === 401) askForToken(getToken() ? 'The token was not accepted: enter a valid token.' : 'This service needs an API token: enter it above.');
  if (err instanceof ApiError && err.status === 403) askForToken('Your token does not allow this operation: use a token with a wider scope.');
}

function clearErrors(): void {
  clear(byId('errors'));
}

function askForToken(message: string): void {
  byId('token-status').textContent = message;
  byId('token-form').classList.add('needs-token');
  byId<HTMLInputElement>('token-input').focus();
}

function setupTokenForm(): void {
  const form = byId<HTMLFormElement>('token-form');
  const input = byId<HTMLInputElement>('token-input');
  const status = byId('token-status');
  const describeToken = () => (status.textContent = getToken() ? 'A token is set for this tab.' : 'No token set.');
  describeToken();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      askForToken('Enter a token first.');
      return;
    }
    setToken(token);
    input.value = '';
    form.classList.remove('needs-token');
    describeToken();
    clearErrors();
    void reload();
  });
  byId('token-forget').addEventListener('click', () => {
    setToken(null);
    describeToken();
    void reload();
  });
}

// ---------------------------------------------------------------- dataset list

async function loadDatasets(): Promise<void> {
  const list = byId('dataset-list');
  list.setAttribute('aria-busy', 'true');
  try {
    const { datasets } = await apiJson<{ datasets: Dataset[] }>('/v1/datasets');
    clear(list);
    if (datasets.length === 0) {
      append(list, h('p', {}, 'No dataset is registered yet: register one with POST /v1/datasets (see the README).'));
      return;
    }
    const rows = datasets.map((d) => {
      const open = h('button', { type: 'button', class: 'link-button', 'data-dataset': d.id, 'aria-label': `Show dataset ${d.id}` }, d.id);
      open.addEventListener('click', () => void openDataset(d.id));
      return h(
        'tr',
        {},
        h('th', { scope: 'row' }, open),
        h('td', {}, h('span', { class: `status status-${d.status}` }, d.status)),
        h('td', {}, d.loaded_subset ?? '—'),
        h('td', {}, String(d.audio_classes.length)),
        h('td', {}, `[${d.audio_input_shape.join(', ')}]`),
        h('td', {}, String(d.source.type ?? '—')),
      );
    });
    append(
      list,
      h(
        'table',
        { class: 'datasets' },
        h('caption', {}, `${datasets.length} registered dataset${datasets.length === 1 ? '' : 's'}`),
        h(
          'thead',
          {},
          h('tr', {}, ...['Dataset', 'Status', 'Loaded subset', 'Classes', 'Input shape', 'Source'].map((c) => h('th', { scope: 'col' }, c))),
        ),
        h('tbody', {}, ...rows),
      ),
    );
  } catch (err) {
    clear(list);
    append(list, h('p', {}, 'The dataset list could not be loaded (see the error above).'));
    showError(err, 'listing the datasets');
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

// ---------------------------------------------------------------- one dataset

/** Everything tied to the dataset on screen: aborted (requests, event streams) and freed when another opens. */
class View {
  readonly abort = new AbortController();
  private readonly urls: string[] = [];
  readonly progress = new Map<Subset, ProgressUi>();
  constructor(readonly dataset: Dataset) {}

  track(url: string): string {
    this.urls.push(url);
    return url;
  }

  close(): void {
    this.abort.abort();
    for (const u of this.urls) URL.revokeObjectURL(u);
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }
}

let view: View | null = null;

interface ProgressUi {
  shards: HTMLElement;
  button: HTMLButtonElement;
  bar: HTMLProgressElement;
  text: HTMLElement;
  skipped: HTMLElement;
  following: string | null;
}

async function openDataset(id: string): Promise<void> {
  view?.close();
  const section = byId('dataset');
  section.hidden = false;
  section.setAttribute('aria-busy', 'true');
  clear(section);
  append(section, h('h2', { id: 'dataset-heading', tabindex: '-1' }, `Dataset ${id}`), h('p', {}, 'Loading…'));
  let rec: Dataset;
  try {
    rec = await apiJson<Dataset>(`/v1/datasets/${enc(id)}`);
  } catch (err) {
    showError(err, `opening dataset ${id}`);
    section.setAttribute('aria-busy', 'false');
    return;
  }
  const v = new View(rec);
  view = v;
  clear(section);
  const heading = h('h2', { id: 'dataset-heading', tabindex: '-1' }, `Dataset ${rec.id}`);
  append(section, heading);
  renderOverview(section, rec);
  renderClassCounts(section, rec);
  renderClassWeights(section, rec);
  const summarySlot = h('div', { class: 'summary-slot' });
  append(section, h('h3', {}, 'Summary'), summarySlot);
  const featSlot = h('div');
  append(section, h('h3', {}, 'Featurization and jobs'), featSlot);
  const samplesSlot = h('div');
  append(section, h('h3', {}, 'Samples'), samplesSlot);
  section.setAttribute('aria-busy', 'false');
  heading.focus();

  if (rec.status !== 'ready' || !rec.loaded_subset) {
    append(summarySlot, h('p', {}, 'The dataset is unloaded: load it (POST …/load) to see its summary, jobs and samples.'));
    return;
  }
  await Promise.all([renderSummaryAndJobs(v, summarySlot, featSlot), renderSamples(v, samplesSlot)]);
}

function renderOverview(section: HTMLElement, rec: Dataset): void {
  append(
    section,
    h('h3', {}, 'Overview'),
    kvTable('Dataset properties', [
      ['Status', h('span', { class: `status status-${rec.status}` }, rec.status)],
      ['Loaded subset', rec.loaded_subset ?? '—'],
      ['Classes', h('ul', { class: 'inline-list' }, ...rec.audio_classes.map((c) => h('li', {}, c)))],
      ['audio_input_shape', `[${rec.audio_input_shape.join(', ')}]`],
      ['Sample rate', `${rec.sample_rate_hz} Hz`],
      ['Sample length', `${rec.sample_length_ms} ms`],
      ['Class mode', rec.class_mode ?? 'none'],
      ['Listing', rec.listing],
      ['Source', JSON.stringify(rec.source)],
      ['Augmentation', rec.settings.augmentation ? 'on (previews show the features before augmentation)' : 'off'],
    ]),
  );
  if (rec.warnings.length > 0) append(section, h('ul', { class: 'warnings' }, ...rec.warnings.map((w) => h('li', {}, w))));
  append(
    section,
    h('h3', {}, 'Frontend settings'),
    rec.frontend_enabled
      ? kvTable('Microfrontend settings (MLTK names)', Object.entries(rec.frontend_settings).map(([k, v]) => [k, formatValue(v)]), 'kv settings')
      : h('p', {}, 'The frontend is disabled: samples are audio, not spectrograms.'),
  );
}

function renderClassCounts(section: HTMLElement, rec: Dataset): void {
  append(section, h('h3', {}, 'Class counts'));
  const subsets = Object.keys(rec.class_counts);
  if (subsets.length === 0) {
    append(section, h('p', {}, 'No subset is loaded.'));
    return;
  }
  const wrap = h('div', { class: 'charts' });
  for (const subset of subsets) {
    const counts = rec.class_counts[subset]!;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    append(
      wrap,
      h('figure', { class: 'chart-figure' }, classCountChart(subset, rec.audio_classes, counts), h('figcaption', {}, `${subset}: ${total} samples`)),
    );
  }
  append(section, wrap);
}

function renderClassWeights(section: HTMLElement, rec: Dataset): void {
  append(section, h('h3', {}, 'Class weights'));
  const w = rec.class_weights;
  if (!w || !w.value) {
    append(section, h('p', {}, w?.warning ? `No class weights: ${w.warning}` : 'No class weights (class_weights is not set, or the training subset is not loaded).'));
    return;
  }
  append(
    section,
    kvTable(
      'Class weights (Keras class_weight)',
      rec.audio_classes.map((c, i): [string, string] => [c, formatValue(w.value![String(i)] ?? w.value![c])]),
    ),
  );
  if (w.warning) append(section, h('p', { class: 'warning' }, w.warning));
  if (w.log) append(section, h('details', {}, h('summary', {}, 'MLTK log'), h('pre', {}, w.log)));
}

async function renderSummaryAndJobs(v: View, summarySlot: HTMLElement, featSlot: HTMLElement): Promise<void> {
  const id = v.dataset.id;
  let summary: Summary;
  let jobs: JobProgress[];
  try {
    [summary, { jobs }] = await Promise.all([
      apiJson<Summary>(`/v1/datasets/${enc(id)}/summary`, { signal: v.abort.signal }),
      apiJson<{ jobs: JobProgress[] }>(`/v1/datasets/${enc(id)}/jobs`, { signal: v.abort.signal }),
    ]);
  } catch (err) {
    showError(err, `reading the summary and jobs of ${id}`);
    return;
  }
  if (v.closed) return;
  append(summarySlot, h('pre', { class: 'summary', tabindex: '0', 'aria-label': 'Summary text (MLTK summarize_dataset)' }, summary.text));

  for (const subset of SUBSETS) {
    const feat = summary.featurization[subset];
    if (!feat) continue;
    const button = h('button', { type: 'button', 'data-featurize': subset }, `Featurize ${subset}`);
    const bar = h('progress', { max: 1, value: 0, 'aria-label': `Featurization progress, ${subset}` });
    const text = h('p', { class: 'progress-text', role: 'status', 'aria-live': 'polite', 'data-progress': subset }, 'No job running.');
    const shards = h('p', {});
    const skipped = h('div', { class: 'skipped' });
    const ui: ProgressUi = { shards, button, bar, text, skipped, following: null };
    v.progress.set(subset, ui);
    button.addEventListener('click', () => void startFeaturization(v, subset));
    append(
      featSlot,
      h('div', { class: 'subset-feat', 'data-subset': subset }, h('h4', {}, `${subset[0]!.toUpperCase()}${subset.slice(1)} subset`), shards, h('div', { class: 'progress-row' }, button, bar), text, skipped),
    );
    showFeaturization(ui, subset, feat);
    const job = jobs.find((j) => j.subset === subset);
    if (job && !TERMINAL.has(job.state)) void followJob(v, subset, job.id);
    else if (job) showProgress(ui, job);
  }
}

function showFeaturization(ui: ProgressUi, subset: string, feat: Summary['featurization'][string]): void {
  ui.shards.textContent = `Feature shards on disk: ${feat.shards_done} of ${feat.shards_total}.`;
  clear(ui.skipped);
  if (feat.shards_done === 0) {
    append(ui.skipped, h('p', {}, 'Skipped clips are known once the subset is featurized.'));
    return;
  }
  if (feat.skipped_clips.length === 0) {
    append(ui.skipped, h('p', {}, 'No clip was skipped.'));
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

function showProgress(ui: ProgressUi, p: JobProgress): void {
  ui.bar.max = Math.max(1, p.clips_total);
  ui.bar.value = p.clips_done;
  const rate = p.clips_per_second ? `, ${p.clips_per_second.toFixed(0)} clips/s` : '';
  const eta = p.eta_seconds && !TERMINAL.has(p.state) ? `, about ${Math.ceil(p.eta_seconds)} s left` : '';
  const failed = p.failed_reason ? ` (${p.failed_reason})` : '';
  ui.text.textContent = `Job ${p.state}${failed}: ${p.shards_done} of ${p.shards_total} shards, ${p.clips_done} of ${p.clips_total} clips${rate}${eta}.`;
  ui.text.dataset.state = p.state;
}

async function startFeaturization(v: View, subset: Subset): Promise<void> {
  const ui = v.progress.get(subset)!;
  ui.button.disabled = true;
  ui.text.textContent = 'Starting featurization…';
  try {
    const job = await postJson<{ job_id: string; created: boolean; events_url: string }>(
      `/v1/datasets/${enc(v.dataset.id)}/featurize`,
      { subset },
      v.abort.signal,
    );
    await followJob(v, subset, job.job_id);
  } catch (err) {
    ui.text.textContent = 'Featurization could not be started.';
    showError(err, `starting featurization of ${v.dataset.id} (${subset})`);
  } finally {
    ui.button.disabled = false;
  }
}

/** Follows a job's server-sent events until `done`, then refreshes the subset's shard count and skipped clips. */
async function followJob(v: View, subset: Subset, jobId: string): Promise<void> {
  const ui = v.progress.get(subset)!;
  if (ui.following === jobId) return;
  ui.following = jobId;
  ui.button.disabled = true;
  let finished = false;
  try {
    await readEvents(
      `/v1/jobs/${enc(jobId)}/events`,
      (e) => {
        if (e.event === 'progress' || e.event === 'done') {
          showProgress(ui, JSON.parse(e.data) as JobProgress);
          if (e.event === 'done') finished = true;
        } else if (e.event === 'error') {
          const detail = (JSON.parse(e.data) as { detail?: string }).detail ?? e.data;
          showError(new ApiError(0, 'Job progress stopped', detail, null), `following job ${jobId}`);
        }
      },
      v.abort.signal,
    );
    if (!finished && !v.closed) showError(new ApiError(0, 'Progress stream ended', 'the event stream closed before the job was done', null), `following job ${jobId}`);
  } catch (err) {
    showError(err, `following job ${jobId}`);
  } finally {
    ui.following = null;
    ui.button.disabled = false;
  }
  if (!finished || v.closed) return;
  try {
    const summary = await apiJson<Summary>(`/v1/datasets/${enc(v.dataset.id)}/summary`, { signal: v.abort.signal });
    const feat = summary.featurization[subset];
    if (feat) showFeaturization(ui, subset, feat);
  } catch (err) {
    showError(err, `refreshing the summary of ${v.dataset.id}`);
  }
}

// ---------------------------------------------------------------- samples

async function renderSamples(v: View, slot: HTMLElement): Promise<void> {
  const subsets = SUBSETS.filter((s) => v.dataset.class_counts[s]);
  if (subsets.length === 0) return;
  const select = h('select', { id: 'samples-subset' }, ...subsets.map((s) => h('option', { value: s }, s)));
  const grid = h('div', { class: 'samples', 'aria-live': 'off' });
  append(
    slot,
    h(
      'p',
      { class: 'samples-intro' },
      `The first ${SAMPLES_PER_CLASS} samples of each class: the spectrogram the model is fed (time on the x axis, mel channel on the y axis) and the clip's audio.`,
    ),
    h('div', { class: 'field' }, h('label', { for: 'samples-subset' }, 'Subset'), select),
    grid,
  );
  let generation = 0;
  const show = async () => {
    const mine = ++generation;
    clear(grid);
    append(grid, h('p', {}, 'Loading samples…'));
    await showSampleGrid(v, select.value as Subset, grid, () => mine === generation && !v.closed);
  };
  select.addEventListener('change', () => void show());
  await show();
}

async function showSampleGrid(v: View, subset: Subset, grid: HTMLElement, current: () => boolean): Promise<void> {
  const id = v.dataset.id;
  let items: SampleItem[];
  try {
    items = (await apiJson<{ items: SampleItem[] }>(`/v1/datasets/${enc(id)}/samples?subset=${subset}&limit=10000`, { signal: v.abort.signal })).items;
  } catch (err) {
    showError(err, `listing the ${subset} samples of ${id}`);
    return;
  }
  if (!current()) return;
  clear(grid);
  const tasks: (() => Promise<void>)[] = [];
  for (const cls of v.dataset.audio_classes) {
    const mine = items.filter((it) => it.class === cls);
    const shown = mine.slice(0, SAMPLES_PER_CLASS);
    const cards = h('div', { class: 'sample-cards' });
    append(grid, h('section', { class: 'sample-class', 'data-class': cls }, h('h4', {}, `${cls} (${mine.length} in ${subset})`), cards));
    if (shown.length === 0) append(cards, h('p', {}, 'No sample of this class in this subset.'));
    for (const it of shown) {
      const name = it.entry ?? 'generated silence';
      const img = h('img', {
        alt: `Spectrogram of ${subset} sample ${it.index}, class ${cls} (${name})`,
        width: 406,
        height: 171,
        'data-sample': it.index,
      });
      const audio = h('audio', { controls: true, preload: 'metadata', 'aria-label': `Audio of ${subset} sample ${it.index}, class ${cls}` });
      const note = h('p', { class: 'sample-note' });
      append(
        cards,
        h('figure', { class: 'sample-card', 'data-sample': it.index }, img, h('figcaption', {}, h('span', { class: 'sample-pos' }, `#${it.index}`), ` ${name}`), audio, note),
      );
      const base = `/v1/datasets/${enc(id)}/samples/${it.index}`;
      tasks.push(async () => {
        if (!current()) return;
        try {
          img.src = v.track(await blobUrl(`${base}/spectrogram.png?subset=${subset}`, 'image/png', v.abort.signal));
        } catch (err) {
          img.remove();
          const { title, detail } = describe(err);
          note.textContent = `No spectrogram — ${title}: ${detail}`;
          if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500 || err.status === 401 || err.status === 403) showError(err, `loading a spectrogram of ${id}`);
        }
        if (!current()) return;
        try {
          audio.src = v.track(await blobUrl(`${base}/audio.wav?subset=${subset}`, 'audio/wav', v.abort.signal));
        } catch (err) {
          audio.remove();
          const { title, detail } = describe(err);
          note.textContent = `${note.textContent ? `${note.textContent} ` : ''}No audio — ${title}: ${detail}`;
          if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500) showError(err, `loading the audio of a sample of ${id}`);
        }
      });
    }
  }
  // A few fetches at a time, in page order.
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && current()) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: PREVIEW_FETCHES_IN_FLIGHT }, worker));
}

// ---------------------------------------------------------------- start

async function reload(): Promise<void> {
  const openId = view?.dataset.id ?? null;
  await loadDatasets();
  if (openId) await openDataset(openId);
}

function start(): void {
  setupTokenForm();
  byId('refresh').addEventListener('click', () => {
    clearErrors();
    void reload();
  });
  void loadDatasets();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
