/**
 * The commands that speak to a running service: `datasets …`, `featurize`, `jobs`
 * (and `pull`, in ./pull.ts).
 * Connection: --url / AUDIOFEED_URL (default http://127.0.0.1:8080), --token /
 * AUDIOFEED_TOKEN (sent as Authorization: Bearer). Errors are thrown as UsageError (exit
 * 2), RejectedError / InputError (exit 1) or UnavailableError (exit 3); cli/main.ts maps them.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiClient, DEFAULT_URL, UnavailableError } from './http.ts';
import { createProgress } from './progress.ts';
import { UsageError, type CliIo } from './errors.ts';

export type Env = Record<string, string | undefined>;

export const CONNECTION_HELP = `Connection (every remote command):
  --url <url>           The service (default $AUDIOFEED_URL, else ${DEFAULT_URL}).
  --token <token>       Bearer token (default $AUDIOFEED_TOKEN), when the service has API_TOKENS.`;

export const EXIT_HELP = `Exit status: 0 success, 1 the service rejected the request (HTTP 4xx: its title
and detail are printed) or the job failed or was cancelled, 2 usage error, 3 the service
could not be reached, failed (HTTP 5xx) or cut a response short.`;

export const DATASETS_HELP = `Usage: audiofeed datasets <command> [options]

  register <DIR> --classes <a,b,...> [--name <name>] [--set <key=value> ...]
                        Register a directory source. DIR is sent as given: relative to
                        one of the service's data roots, or absolute inside one.
                        --set takes any registration setting by its API name; values
                        are JSON-ish: numbers, true/false, null, JSON arrays and
                        objects, anything else a string (e.g. --set validation_split=0.2
                        --set class_weights=balanced --set 'frontend_settings={"window_step_ms":20}').
  list                  Every registered dataset.
  show <ID>             The dataset's properties (JSON).
  summary <ID>          MLTK's summarize_dataset() text.
  weights <ID>          The class weights (and MLTK's log text, warning).
  load <ID> [--subset <name>]
                        MLTK load_dataset(subset): load a subset (training by default;
                        validation or evaluation) so it can be streamed.
  unload <ID> [--subset <name>]
                        Unload the dataset, or only the named subset.
  delete <ID> --yes [--purge]
                        Delete the registration (--yes confirms: it cannot be undone).
                        --purge also removes its index files and feature shards;
                        an uploaded dataset's files are always removed.

${CONNECTION_HELP}

Examples:
  audiofeed datasets register corpus-mini --classes yes,no,up,down,left,right,_unknown_,_silence_ --set validation_split=0.2
  audiofeed --url http://trainer:8080 datasets list
  audiofeed datasets summary corpus-mini
  audiofeed datasets load corpus-mini --subset evaluation
  audiofeed datasets delete corpus-mini --yes

${EXIT_HELP}
`;

export const FEATURIZE_HELP = `Usage: audiofeed featurize <ID> [--subset training|validation|evaluation]

Starts the featurization of a subset on the service's workers (POST …/featurize; a
repeated request follows the same job) and follows it to the end with a progress bar
(clips, clips/s, ETA), then prints one line: the outcome, clips and failed clips.
With no worker connected it says so and exits 3: at once when the job would have to
start, after 10 s when the workers go away while it runs (the job stays queued).
On a terminal the bar is redrawn in place; otherwise a plain line is printed at the
start, at every tenth of the work and at the end. When the service cannot featurize now
(503, e.g. no worker is connected), it says why and exits 3 at once.

  --subset <name>       training (default), validation or evaluation.

${CONNECTION_HELP}

${EXIT_HELP}
`;

export const PULL_HELP = `Usage: audiofeed pull <ID> --epochs <list> [options]

Streams epochs of batches into files, one per epoch:
<out>/<ID>-<subset>-epoch<N>.arrow (Arrow IPC stream) or .npys (.npy stream). Each file
is written under a temporary name and renamed when the epoch is complete; a stream with
fewer batches than the service announced, or a cut connection, is an error and leaves
no file behind.

  --epochs <list>       Epochs: 3, 0-4 or 0,2,5 (required).
  --format <format>     arrow (default) or npy.
  --out <dir>           Directory for the files (default .; created if missing).
  --subset <name>       training (default), validation or evaluation.
  --batch-size <n>      Batch size (default: the dataset's).

${CONNECTION_HELP}

Example:
  audiofeed pull corpus-mini --epochs 0-4 --format npy --out epochs/

${EXIT_HELP}
`;

const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...options } });
  } catch (err) {
    // Node's messages append advice about '--' that does not apply here: keep the first sentence.
    throw new UsageError((err as Error).message.split('. ')[0]!.replace(/\.$/, ''));
  }
}

interface Connection {
  url?: string;
  token?: string;
}

export function clientOf(v: Connection, env: Env): ApiClient {
  const url = v.url ?? env.AUDIOFEED_URL ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url: not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url must be http:// or https://, got ${JSON.stringify(url)}`);
  }
  const token = v.token ?? env.AUDIOFEED_TOKEN;
  return new ApiClient(url, token === '' ? undefined : token);
}

export const JOBS_HELP = `Usage: audiofeed jobs [--dataset <ID>] [--state <state> ...]
       audiofeed jobs cancel <JOB_ID>

Lists the service's featurization jobs, newest first (GET /v1/jobs, every page): id,
dataset, subset, state, clips done of all, failed clips, when it was created.

  --dataset <ID>        Only the jobs of this dataset.
  --state <state>       Only jobs in this state (repeatable): waiting-children, waiting,
                        prioritized, delayed, active, completed, failed, cancelled.
  cancel <JOB_ID>       Cancel a featurization (DELETE /v1/jobs/{id}).

${CONNECTION_HELP}

${EXIT_HELP}
`;

const SUBSETS = ['training', 'validation', 'evaluation'] as const;

export function subsetOf(given: string | undefined): string {
  const subset = given ?? 'training';
  if (!(SUBSETS as readonly string[]).includes(subset)) {
    throw new UsageError(`--subset must be one of ${SUBSETS.join(', ')}, got ${JSON.stringify(subset)}`);
  }
  return subset;
}

export function oneId(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? `${what} needs a dataset id` : `${what} takes one dataset id, got ${positionals.length}`);
  }
  return positionals[0]!;
}

export const ds = (id: string) => `/v1/datasets/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------------------------------
// datasets

/** A --set value: numbers, booleans, null, JSON arrays/objects, else the text itself. */
export function settingValue(key: string, text: string): unknown {
  const t = text.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t === 'null') return null;
  if (t !== '' && /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  if (t.startsWith('[') || t.startsWith('{') || t.startsWith('"')) {
    try {
      return JSON.parse(t);
    } catch (err) {
      throw new UsageError(`--set ${key}: not valid JSON: ${(err as Error).message}`);
    }
  }
  return text;
}

export function parseSets(assignments: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got ${JSON.stringify(a)}`);
    const key = a.slice(0, eq).trim();
    if (key === 'source' || key === 'classes' || key === 'name') {
      throw new UsageError(`--set ${key}: give it as ${key === 'source' ? 'the DIR argument' : `--${key}`}`);
    }
    if (key in out) throw new UsageError(`--set ${key} is given twice`);
    out[key] = settingValue(key, a.slice(eq + 1));
  }
  return out;
}

type CountsView = Record<string, Record<string, number>>;
interface DatasetView {
  id: string;
  status?: string;
  loaded_subset?: string | null;
  loaded_subsets?: string[];
  audio_classes?: string[];
  audio_input_shape?: number[];
  class_counts?: CountsView;
}

const total = (counts: Record<string, number> | undefined) => (counts ? Object.values(counts).reduce((a, b) => a + b, 0) : null);

function describeDataset(v: DatasetView): string {
  const parts: string[] = [];
  for (const [subset, counts] of Object.entries(v.class_counts ?? {})) parts.push(`${subset}: ${total(counts)} samples`);
  parts.push(`${v.audio_classes?.length ?? 0} classes`);
  if (v.audio_input_shape) parts.push(`input shape [${v.audio_input_shape.join(', ')}]`);
  return parts.join(', ');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export async function datasetsCommand(args: string[], io: CliIo, env: Env): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, {
    classes: { type: 'string' },
    name: { type: 'string' },
    set: { type: 'string', multiple: true },
    subset: { type: 'string' },
    yes: { type: 'boolean' },
    purge: { type: 'boolean' },
  });
  const [sub, ...rest] = positionals;
  if (v.help) {
    io.stdout.write(DATASETS_HELP);
    return 0;
  }
  if (sub === undefined) throw new UsageError('datasets needs a command: register, list, show, summary, weights, load, unload or delete');
  if (sub !== 'register' && (v.classes !== undefined || v.name !== undefined || v.set !== undefined)) {
    throw new UsageError(`--classes, --name and --set belong to datasets register, not datasets ${sub}`);
  }
  if (sub !== 'load' && sub !== 'unload' && v.subset !== undefined) throw new UsageError(`--subset belongs to datasets load and unload, not datasets ${sub}`);
  if (sub !== 'delete' && (v.yes !== undefined || v.purge !== undefined)) throw new UsageError(`--yes and --purge belong to datasets delete, not datasets ${sub}`);
  switch (sub) {
    case 'register': {
      if (rest.length !== 1) throw new UsageError(rest.length === 0 ? 'datasets register needs a directory' : `datasets register takes one directory, got ${rest.length}`);
      if (v.classes === undefined) throw new UsageError('datasets register needs --classes (e.g. --classes yes,no,_unknown_,_silence_)');
      const classes = v.classes.split(',').map((c) => c.trim()).filter(Boolean);
      if (classes.length === 0) throw new UsageError('--classes is empty');
      const body: Record<string, unknown> = {
        ...(v.name === undefined ? {} : { name: v.name }),
        source: { type: 'directory', path: rest[0] },
        classes,
        ...parseSets(v.set ?? []),
      };
      const client = clientOf(v, env);
      const view = await client.json<DatasetView>('/v1/datasets', { method: 'POST', json: body });
      io.stdout.write(`registered ${view.id}: ${describeDataset(view)}\n`);
      return 0;
    }
    case 'list': {
      if (rest.length > 0) throw new UsageError('datasets list takes no arguments');
      const datasets = await clientOf(v, env).all<DatasetView>('/v1/datasets?limit=1000', 'datasets');
      if (datasets.length === 0) {
        io.stdout.write('no datasets registered\n');
        return 0;
      }
      const rows = [['ID', 'STATUS', 'LOADED', 'CLASSES', 'TRAINING', 'VALIDATION']];
      for (const d of datasets) {
        const n = (s: string) => String(total(d.class_counts?.[s]) ?? '-');
        const loaded = d.loaded_subsets && d.loaded_subsets.length > 0 ? d.loaded_subsets.join(',') : (d.loaded_subset ?? '-');
        rows.push([d.id, d.status ?? '-', loaded, String(d.audio_classes?.length ?? 0), n('training'), n('validation')]);
      }
      io.stdout.write(table(rows));
      return 0;
    }
    case 'show': {
      const id = oneId(rest, 'datasets show');
      const view = await clientOf(v, env).json(ds(id));
      io.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    case 'summary': {
      const id = oneId(rest, 'datasets summary');
      const text = await clientOf(v, env).text(`${ds(id)}/summary`, { accept: 'text/plain' });
      io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      return 0;
    }
    case 'weights': {
      const id = oneId(rest, 'datasets weights');
      const client = clientOf(v, env);
      const w = await client.json<{ value: unknown; log?: string; warning?: string | null }>(`${ds(id)}/class-weights`);
      io.stdout.write(await weightsText(client, id, w));
      return 0;
    }
    case 'load': {
      const id = oneId(rest, 'datasets load');
      const subset = subsetOf(v.subset);
      const view = await clientOf(v, env).json<DatasetView>(`${ds(id)}/load`, { method: 'POST', json: { subset } });
      io.stdout.write(`loaded ${view.id} (${subset}): ${describeDataset(view)}\n`);
      return 0;
    }
    case 'unload': {
      const id = oneId(rest, 'datasets unload');
      const subset = v.subset === undefined ? undefined : subsetOf(v.subset);
      const view = await clientOf(v, env).json<DatasetView>(`${ds(id)}/unload`, { method: 'POST', ...(subset ? { json: { subset } } : {}) });
      const left = Object.keys(view.class_counts ?? {});
      io.stdout.write(`unloaded ${view.id}${subset ? ` (${subset})` : ''}: ${left.length === 0 ? 'nothing is loaded' : `still loaded: ${describeDataset(view)}`}\n`);
      return 0;
    }
    case 'delete': {
      const id = oneId(rest, 'datasets delete');
      if (!v.yes) throw new UsageError(`deleting ${id} cannot be undone: add --yes to confirm`);
      const res = await clientOf(v, env).request(`${ds(id)}${v.purge ? '?purge=true' : ''}`, { method: 'DELETE' });
      await res.body?.cancel().catch(() => undefined);
      io.stdout.write(`deleted ${id}${v.purge ? ' and its index files and feature shards' : ''}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown datasets command ${JSON.stringify(sub)} (register, list, show, summary, weights, load, unload, delete)`);
  }
}

async function weightsText(client: ApiClient, id: string, w: { value: unknown; log?: string; warning?: string | null }): Promise<string> {
  let out = '';
  if (w.value === null || w.value === undefined) {
    out += 'no class weights\n';
  } else if (Array.isArray(w.value) || typeof w.value === 'object') {
    // A list is indexed like audio_classes; a dict is keyed by class index or name.
    const entries = Object.entries(w.value as Record<string, unknown>);
    let names: string[] = [];
    if (entries.some(([k]) => /^\d+$/.test(k))) names = (await client.json<DatasetView>(ds(id))).audio_classes ?? [];
    const rows = entries.map(([k, val]) => [names[Number(k)] ?? k, String(val)]);
    const width = Math.max(...rows.map((r) => r[0]!.length));
    out += rows.map(([k, val]) => `${k!.padStart(width)} = ${val}\n`).join('');
  } else {
    out += `${String(w.value)}\n`;
  }
  if (w.log) out += w.log.endsWith('\n') ? w.log : `${w.log}\n`;
  if (w.warning) out += `warning: ${w.warning}\n`;
  return out;
}

// ---------------------------------------------------------------------------------------
// featurize

interface JobProgressView {
  id: string;
  state: string;
  cancelled?: boolean;
  clips_total: number;
  clips_done: number;
  clips_per_second: number | null;
  eta_seconds: number | null;
  shards_failed?: number;
  failures?: { entry: string | null; reason: string; detail: string }[];
  failed_reason?: string | null;
  workers_connected?: number;
}

/**
 * How long `featurize` follows a job that no worker is connected to before it says so and
 * exits (a restarting worker reconnects well within this); the job stays queued.
 */
export const NO_WORKER_PATIENCE_MS = 10_000;

/** The job waits for a worker that is not there: said in one line, exit 3 (the service cannot do the work now). */
function noWorkerError(label: string, jobId: string): UnavailableError {
  return new UnavailableError(
    `${label}: no worker is connected to the service for ${NO_WORKER_PATIENCE_MS / 1000} s, so job ${jobId} makes no progress: ` +
      'start one (`npm run worker`, or `npm start` with IN_PROCESS_WORKERS >= 1); the job stays queued and runs when one connects',
  );
}

export async function featurizeCommand(args: string[], io: CliIo, env: Env): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, { subset: { type: 'string' } });
  if (v.help) {
    io.stdout.write(FEATURIZE_HELP);
    return 0;
  }
  const id = oneId(positionals, 'featurize');
  const subset = subsetOf(v.subset);
  const client = clientOf(v, env);
  const label = `featurize ${id}/${subset}`;
  let started: { job_id: string; created: boolean; events_url?: string };
  try {
    started = await client.json(`${ds(id)}/featurize`, { method: 'POST', json: { subset } });
  } catch (err) {
    // 503: the service says why it cannot featurize now (no worker connected, ...): say it plainly.
    if (err instanceof UnavailableError && err.status === 503) throw new UnavailableError(`${label}: ${err.message}`, err.status, err.retryAfterS);
    throw err;
  }
  io.stdout.write(`${label}: job ${started.job_id}${started.created ? '' : ' (already requested: following it)'}\n`);
  const progress = createProgress(io.stdout, label, 'clips');
  let last: JobProgressView | null = null;
  let outcome: 'done' | 'removed' | null = null;
  let removedDetail = '';
  // While the job says no worker is connected, a timer runs; a worker seen stops it.
  const stop = new AbortController();
  let workerless: NodeJS.Timeout | undefined;
  const watchWorkers = (p: JobProgressView) => {
    if (p.workers_connected !== 0) {
      clearTimeout(workerless);
      workerless = undefined;
    } else {
      workerless ??= setTimeout(() => stop.abort(), NO_WORKER_PATIENCE_MS);
    }
  };
  try {
    for await (const e of client.events(started.events_url ?? `/v1/jobs/${encodeURIComponent(started.job_id)}/events`, stop.signal)) {
      if (e.event === 'progress' || e.event === 'done') {
        last = JSON.parse(e.data) as JobProgressView;
        watchWorkers(last);
        progress.update({
          value: last.clips_done,
          total: last.clips_total,
          rate: last.clips_per_second === null ? '- clips/s' : `${last.clips_per_second.toFixed(1)} clips/s`,
          etaSeconds: last.eta_seconds,
        });
        if (e.event === 'done') {
          outcome = 'done';
          break;
        }
      } else if (e.event === 'error') {
        outcome = 'removed';
        removedDetail = (JSON.parse(e.data) as { detail?: string }).detail ?? e.data;
        break;
      }
    }
  } catch (err) {
    if (stop.signal.aborted) throw noWorkerError(label, started.job_id);
    throw err;
  } finally {
    clearTimeout(workerless);
    progress.stop();
  }
  if (outcome === 'removed') {
    // A cancelled flow is removed from the queue, which ends the event stream with an
    // `error` event; the job's status still says cancelled.
    const status = await client
      .json<Partial<JobProgressView>>(`/v1/jobs/${encodeURIComponent(started.job_id)}`)
      .catch(() => null);
    if (status?.state === 'cancelled' && last) last = { ...last, state: 'cancelled', cancelled: true };
    else {
      io.stderr.write(`audiofeed: ${label}: ${removedDetail}\n`);
      return 1;
    }
  }
  if (last === null || (outcome === null && last.state !== 'cancelled')) {
    throw new UnavailableError(`${label}: the event stream from ${client.baseUrl} ended before the job finished`);
  }
  const failures = last.failures ?? [];
  const result = `${last.clips_done} of ${last.clips_total} clips, ${failures.length} failed clip${failures.length === 1 ? '' : 's'}`;
  if (last.state === 'completed') {
    io.stdout.write(`${label}: completed: ${result}\n`);
    for (const f of failures.slice(0, 10)) io.stdout.write(`  ${f.entry ?? '?'}: ${f.reason}: ${f.detail}\n`);
    if (failures.length > 10) io.stdout.write(`  … and ${failures.length - 10} more (GET /v1/jobs/${started.job_id})\n`);
    return 0;
  }
  if (last.state === 'cancelled' || last.cancelled) {
    io.stdout.write(`${label}: cancelled: ${result}\n`);
    io.stderr.write(`audiofeed: ${label}: the job was cancelled\n`);
    return 1;
  }
  io.stdout.write(`${label}: ${last.state}: ${result}\n`);
  io.stderr.write(`audiofeed: ${label}: the job ${last.state}${last.failed_reason ? `: ${last.failed_reason}` : ''}\n`);
  return 1;
}

// ---------------------------------------------------------------------------------------
// jobs

const JOB_STATES = ['waiting-children', 'waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'cancelled'];

interface JobListItem extends JobProgressView {
  dataset_id?: string;
  subset?: string;
  created_at?: string;
}

export async function jobsCommand(args: string[], io: CliIo, env: Env): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, {
    dataset: { type: 'string' },
    state: { type: 'string', multiple: true },
  });
  if (v.help) {
    io.stdout.write(JOBS_HELP);
    return 0;
  }
  const [sub, ...rest] = positionals;
  if (sub === 'cancel') {
    if (v.dataset !== undefined || v.state !== undefined) throw new UsageError('--dataset and --state belong to the job listing, not jobs cancel');
    if (rest.length !== 1) throw new UsageError(rest.length === 0 ? 'jobs cancel needs a job id' : `jobs cancel takes one job id, got ${rest.length}`);
    const job = rest[0]!;
    const res = await clientOf(v, env).request(`/v1/jobs/${encodeURIComponent(job)}`, { method: 'DELETE' });
    const body = (await res.json().catch(() => ({}))) as { state?: string };
    io.stdout.write(res.status === 202 ? `cancelled ${job}\n` : `${job} had already ${body.state ?? 'finished'}: nothing to cancel\n`);
    return 0;
  }
  if (sub !== undefined) throw new UsageError(`unknown jobs command ${JSON.stringify(sub)} (jobs lists; jobs cancel <JOB_ID>)`);
  const q = new URLSearchParams({ limit: '1000' });
  if (v.dataset !== undefined) q.set('dataset', v.dataset);
  for (const state of v.state ?? []) {
    if (!JOB_STATES.includes(state)) throw new UsageError(`--state must be one of ${JOB_STATES.join(', ')}, got ${JSON.stringify(state)}`);
    q.append('state', state);
  }
  const jobs = await clientOf(v, env).all<JobListItem>(`/v1/jobs?${q}`, 'jobs');
  if (jobs.length === 0) {
    io.stdout.write('no featurization jobs\n');
    return 0;
  }
  const rows = [['ID', 'DATASET', 'SUBSET', 'STATE', 'CLIPS', 'FAILED', 'CREATED']];
  for (const j of jobs) {
    rows.push([
      j.id,
      j.dataset_id ?? '-',
      j.subset ?? '-',
      j.state,
      j.clips_total === undefined ? '-' : `${j.clips_done}/${j.clips_total}`,
      String(j.failures?.length ?? 0),
      j.created_at ?? '-',
    ]);
  }
  io.stdout.write(table(rows));
  return 0;
}
