/**
 * The commands that speak to a running service: `datasets …`, `featurize`, `pull`.
 * Connection: --url / AUDIOFEED_URL (default http://127.0.0.1:8080), --token /
 * AUDIOFEED_TOKEN (sent as Authorization: Bearer). Errors are thrown as UsageError (exit
 * 2), RejectedError / InputError (exit 1) or UnavailableError (exit 3); cli/main.ts maps them.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { RecordBatchReader } from 'apache-arrow';
import { ApiClient, DEFAULT_URL, UnavailableError, networkReason } from './http.ts';
import { createProgress, type Progress } from './progress.ts';
import { InputError, InterruptedError, UsageError, type CliIo } from './errors.ts';

export type Env = Record<string, string | undefined>;

const CONNECTION_HELP = `Connection (every remote command):
  --url <url>           The service (default $AUDIOFEED_URL, else ${DEFAULT_URL}).
  --token <token>       Bearer token (default $AUDIOFEED_TOKEN), when the service has API_TOKENS.`;

const EXIT_HELP = `Exit status: 0 success, 1 the service rejected the request (HTTP 4xx: its title
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

${CONNECTION_HELP}

Examples:
  audiofeed datasets register corpus-mini --classes yes,no,up,down,left,right,_unknown_,_silence_ --set validation_split=0.2
  audiofeed --url http://trainer:8080 datasets list
  audiofeed datasets summary corpus-mini

${EXIT_HELP}
`;

export const FEATURIZE_HELP = `Usage: audiofeed featurize <ID> [--subset training|validation|evaluation]

Starts the featurization of a subset on the service's workers (POST …/featurize; a
repeated request follows the same job) and follows it to the end with a progress bar
(clips, clips/s, ETA), then prints one line: the outcome, clips and failed clips.
With no worker connected it says so and exits 3: at once when the job would have to
start, after 10 s when the workers go away while it runs (the job stays queued).
On a terminal the bar is redrawn in place; otherwise a plain line is printed at the
start, at every tenth of the work and at the end.

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

function clientOf(v: Connection, env: Env): ApiClient {
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

const SUBSETS = ['training', 'validation', 'evaluation'] as const;

function subsetOf(given: string | undefined): string {
  const subset = given ?? 'training';
  if (!(SUBSETS as readonly string[]).includes(subset)) {
    throw new UsageError(`--subset must be one of ${SUBSETS.join(', ')}, got ${JSON.stringify(subset)}`);
  }
  return subset;
}

function oneId(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? `${what} needs a dataset id` : `${what} takes one dataset id, got ${positionals.length}`);
  }
  return positionals[0]!;
}

const ds = (id: string) => `/v1/datasets/${encodeURIComponent(id)}`;

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
  });
  const [sub, ...rest] = positionals;
  if (v.help) {
    io.stdout.write(DATASETS_HELP);
    return 0;
  }
  if (sub === undefined) throw new UsageError('datasets needs a command: register, list, show, summary or weights');
  if (sub !== 'register' && (v.classes !== undefined || v.name !== undefined || v.set !== undefined)) {
    throw new UsageError(`--classes, --name and --set belong to datasets register, not datasets ${sub}`);
  }
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
      const { datasets } = await clientOf(v, env).json<{ datasets: DatasetView[] }>('/v1/datasets');
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
    default:
      throw new UsageError(`unknown datasets command ${JSON.stringify(sub)} (register, list, show, summary, weights)`);
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
  const started = await client.json<{ job_id: string; created: boolean; events_url?: string }>(`${ds(id)}/featurize`, {
    method: 'POST',
    json: { subset },
  });
  const label = `featurize ${id}/${subset}`;
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
// pull

/** `3`, `0-4`, `0,2,5`, `0-2,7`: ascending, without repeats. */
export function parseEpochs(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`--epochs: expected e.g. 3, 0-4 or 0,2,5, got ${JSON.stringify(text)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new UsageError(`--epochs: ${part.trim()} is an empty range`);
    if (b - a > 100_000) throw new UsageError(`--epochs: ${part.trim()} is too many epochs`);
    for (let e = a; e <= b; e++) out.add(e);
  }
  return [...out].sort((x, y) => x - y);
}

const FORMATS = { arrow: { ext: 'arrow', accept: 'application/vnd.apache.arrow.stream' }, npy: { ext: 'npys', accept: 'application/x-npy-stream' } } as const;
type PullFormat = keyof typeof FORMATS;

export async function pullCommand(args: string[], io: CliIo, env: Env): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, {
    epochs: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string', short: 'o' },
    subset: { type: 'string' },
    'batch-size': { type: 'string' },
  });
  if (v.help) {
    io.stdout.write(PULL_HELP);
    return 0;
  }
  const id = oneId(positionals, 'pull');
  if (v.epochs === undefined) throw new UsageError('pull needs --epochs (e.g. --epochs 0-4)');
  const epochs = parseEpochs(v.epochs);
  const format = (v.format ?? 'arrow') as PullFormat;
  if (!(format in FORMATS)) throw new UsageError(`--format must be arrow or npy, got ${JSON.stringify(v.format)}`);
  const subset = subsetOf(v.subset);
  let batchSize: number | undefined;
  if (v['batch-size'] !== undefined) {
    batchSize = Number(v['batch-size']);
    if (!/^\d+$/.test(v['batch-size'].trim()) || batchSize < 1) {
      throw new UsageError(`--batch-size expects a positive integer, got ${JSON.stringify(v['batch-size'])}`);
    }
  }
  const outDir = v.out ?? '.';
  const client = clientOf(v, env);
  try {
    await fsp.mkdir(outDir, { recursive: true });
  } catch (err) {
    throw new InputError(`cannot create ${outDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Ctrl-C (or a SIGTERM) ends the stream and removes the epoch's temp file before exiting.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const epoch of epochs) {
      const file = path.join(outDir, `${id}-${subset}-epoch${epoch}.${FORMATS[format].ext}`);
      const q = new URLSearchParams({ subset, epoch: String(epoch), format });
      if (batchSize !== undefined) q.set('batch_size', String(batchSize));
      const r = await pullEpoch(client, `${ds(id)}/batches?${q}`, FORMATS[format].accept, format, file, io, `epoch ${epoch}`, interrupt.signal);
      io.stdout.write(`epoch ${epoch}: ${r.batches} batches, ${formatMb(r.bytes)} -> ${file}\n`);
    }
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    throw new InterruptedError(`pull interrupted (${String(interrupt.signal.reason)}); the unfinished epoch's file was removed`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

const formatMb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Streams one epoch to `file` (temp name, renamed when complete); returns what arrived. */
async function pullEpoch(
  client: ApiClient,
  url: string,
  accept: string,
  format: PullFormat,
  file: string,
  io: CliIo,
  label: string,
  interrupted: AbortSignal,
): Promise<{ batches: number; bytes: number }> {
  const abort = new AbortController();
  const onInterrupt = () => abort.abort(interrupted.reason);
  if (interrupted.aborted) onInterrupt();
  interrupted.addEventListener('abort', onInterrupt, { once: true });
  const res = await client.request(url, { accept, signal: abort.signal });
  const announcedText = res.headers.get('x-audiofeed-batches')?.trim() ?? '';
  const columns = (res.headers.get('x-audiofeed-columns') ?? '').split(',').filter(Boolean).length;
  if (!/^\d+$/.test(announcedText) || (format === 'npy' && columns === 0) || !res.body) {
    abort.abort();
    throw new UnavailableError(`${label}: the answer from ${client.baseUrl} has no X-Audiofeed-Batches / X-Audiofeed-Columns header (is this an audiofeed service?)`);
  }
  const announced = Number(announcedText);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.part`);
  const progress = createProgress(io.stdout, label, 'batches');
  const t0 = performance.now();
  let bytes = 0;
  let batches = 0;
  const show = () => {
    const s = (performance.now() - t0) / 1000;
    const perBatch = batches > 0 ? s / batches : null;
    progress.update({
      value: batches,
      total: announced,
      rate: s > 0 ? `${(bytes / 1e6 / s).toFixed(1)} MB/s` : '- MB/s',
      etaSeconds: perBatch === null ? null : perBatch * (announced - batches),
    });
  };
  let fh: fsp.FileHandle | null = null;
  let renamed = false;
  try {
    fh = await fsp.open(tmp, 'w');
    show();
    const handle = fh;
    const cut = (err: unknown) => new UnavailableError(`${label}: the stream from ${client.baseUrl} was cut after ${batches} of ${announced} batches: ${networkReason(err)}`);
    if (format === 'npy') {
      const counter = new NpyStreamCounter();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          await handle.write(chunk);
          bytes += chunk.byteLength;
          counter.feed(chunk);
          const done = Math.floor(counter.arrays / columns);
          if (done !== batches) {
            batches = done;
            show();
          }
        }
      } catch (err) {
        throw cut(err);
      }
      if (counter.partial || counter.arrays % columns !== 0) {
        throw new UnavailableError(`${label}: the stream from ${client.baseUrl} ended inside a batch, after ${batches} of ${announced} batches`);
      }
    } else {
      // One branch to the file, one to arrow's reader, which counts the record batches.
      const [toFile, toReader] = (res.body as ReadableStream<Uint8Array>).tee();
      const write = (async () => {
        for await (const chunk of toFile as unknown as AsyncIterable<Uint8Array>) {
          await handle.write(chunk);
          bytes += chunk.byteLength;
        }
      })();
      const count = (async () => {
        const reader = await RecordBatchReader.from(toReader);
        for await (const rb of reader) {
          if (rb.numRows === 0) continue; // arrow-js's placeholder for a schema without batches
          batches++;
          show();
        }
      })();
      const settled = await Promise.allSettled([write, count]);
      const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw cut(failed.reason);
    }
    if (batches !== announced) {
      throw new UnavailableError(`${label}: the stream from ${client.baseUrl} ended after ${batches} of ${announced} batches; the epoch is incomplete`);
    }
    await fh.sync();
    await fh.close();
    fh = null;
    await fsp.rename(tmp, file);
    renamed = true;
    show();
    return { batches, bytes };
  } finally {
    interrupted.removeEventListener('abort', onInterrupt);
    progress.stop();
    abort.abort();
    await fh?.close().catch(() => {});
    if (!renamed) await fsp.rm(tmp, { force: true }).catch(() => {});
  }
}

/**
 * Counts the complete arrays of an .npy stream (consecutive .npy files) as bytes arrive:
 * reads each header for its shape and dtype and skips the data.
 */
export class NpyStreamCounter {
  arrays = 0;
  private head: Buffer = Buffer.alloc(0);
  private skip = 0;

  /** True when the bytes so far end inside an array. */
  get partial(): boolean {
    return this.skip > 0 || this.head.length > 0;
  }

  feed(chunk: Uint8Array): void {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (buf.length > 0) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length);
        this.skip -= n;
        buf = buf.subarray(n);
        if (this.skip === 0) this.arrays++;
        continue;
      }
      this.head = this.head.length === 0 ? Buffer.from(buf) : Buffer.concat([this.head, buf]);
      buf = Buffer.alloc(0);
      const h = this.head;
      if (h.length < 10) return;
      if (h[0] !== 0x93 || h.toString('latin1', 1, 6) !== 'NUMPY') throw new Error('not an .npy stream (bad magic)');
      const major = h[6]!;
      const start = major === 1 ? 10 : 12;
      if (h.length < start) return;
      const len = major === 1 ? h.readUInt16LE(8) : h.readUInt32LE(8);
      if (h.length < start + len) return;
      const header = h.toString('latin1', start, start + len);
      const item = /'descr'\s*:\s*'[<>|=]?[a-zA-Z](\d+)'/.exec(header)?.[1];
      const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
      if (item === undefined || shape === undefined) throw new Error(`malformed .npy header ${JSON.stringify(header)}`);
      const count = shape
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .reduce((a, s) => a * Number(s), 1);
      this.skip = count * Number(item);
      buf = h.subarray(start + len);
      this.head = Buffer.alloc(0);
      if (this.skip === 0) this.arrays++;
    }
  }
}
