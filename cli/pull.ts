/**
 * `audiofeed pull`: streams epochs of batches into files, one per epoch, verified and
 * resumable.
 *
 * Bytes go to `<out>/.<file>.part`; beside it `.<file>.part.json` records what has
 * arrived: the request, the service's headers, the complete batches, their bytes and
 * the SHA-256 of those bytes. A cut or an interrupt keeps both, and `--resume` continues
 * with `from_batch` after checking the kept bytes against their checksum and the
 * response against the record (same headers, same dataset version, for Arrow the same
 * schema). The file gets its name only after it has been read back whole: every frame
 * well formed and within the size limit, the batch count the service announced, the
 * checksum of what was written. A file under the final name is therefore complete.
 *
 * Every frame header is checked before its data arrives (src/core/tensors/stream-frames.ts):
 * a hostile or broken service gets a ProtocolError, never an allocation it chose.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { FixedSizeList, Message, RecordBatchReader, type Schema } from 'apache-arrow';
import { StreamFrameError, StreamFramer, type Frame } from '../src/core/tensors/stream-frames.ts';
import { FEATURE_DTYPES } from '../src/core/schemas.ts';
import { writeFileAtomic, writeFully } from '../src/core/atomic-file.ts';
import { ApiClient, ProtocolError, UnavailableError, networkReason } from './http.ts';
import { createProgress } from './progress.ts';
import { InputError, InterruptedError, UsageError, type CliIo } from './errors.ts';
import { CONNECTION_HELP, EXIT_HELP, clientOf, ds, oneId, parseCommandArgs, subsetOf, type Env } from './remote.ts';

/** Default --max-batch-bytes: far above the service's default MAX_BATCH_BYTES (64 MiB). */
export const DEFAULT_MAX_BATCH_BYTES = 1024 ** 3;

export const PULL_HELP = `Usage: audiofeed pull <ID> --epochs <list> [options]

Streams epochs of batches into files, one per epoch:
<out>/<ID>-<subset>-epoch<N>.arrow (Arrow IPC stream) or .npys (.npy stream). Bytes are
written to <out>/.<file>.part, with a record of what has arrived beside it
(.<file>.part.json: the batches complete, their bytes and SHA-256). A file gets its
name only when every batch the service announced is there and the whole file has been
read back and checked (frame count, frame sizes and shapes, checksum), so a file under
its final name is complete. A cut stream or Ctrl-C keeps the partial file: run the same
pull with --resume to continue it from the next batch; without --resume an epoch starts
over.

  --epochs <list>       Epochs: 3, 0-4 or 0,2,5 (required).
  --format <format>     arrow (default) or npy.
  --out <dir>           Directory for the files (default .; created if missing).
  --subset <name>       training (default), validation or evaluation.
  --batch-size <n>      Batch size (default: the dataset's).
  --dtype <dtype>       ${FEATURE_DTYPES.join(', ')} (default: the dataset's dtype).
  --class-mode <mode>   categorical, binary, sparse, input or none (default: the dataset's).
  --augment             Apply the dataset's augmentation (default: the service's choice:
  --no-augment          training is augmented when the dataset has augmentation).
  --resume              Continue the partial files of an earlier pull (checked first:
                        the kept bytes, the request, the dataset version; anything that
                        differs starts that epoch over).
  --max-batch-bytes <n> Refuse a stream with a frame (array or Arrow message) larger than
                        this (default ${DEFAULT_MAX_BATCH_BYTES}, 1 GiB).

${CONNECTION_HELP}

Example:
  audiofeed pull corpus-mini --epochs 0-4 --format npy --dtype int8 --out epochs/
  audiofeed pull corpus-mini --epochs 0-4 --format npy --dtype int8 --out epochs/ --resume

${EXIT_HELP}
`;

const FORMATS = { arrow: { ext: 'arrow', accept: 'application/vnd.apache.arrow.stream' }, npy: { ext: 'npys', accept: 'application/x-npy-stream' } } as const;
type PullFormat = keyof typeof FORMATS;
const CLASS_MODES = ['categorical', 'binary', 'sparse', 'input', 'none'];
const ITEM_BYTES: Record<string, number> = { uint16: 2, int8: 1, float32: 4 };
/** Arrow's end-of-stream marker (continuation, then a zero metadata length). */
const ARROW_EOS = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
/** How often the record of a running download is rewritten (and always when it stops). */
const RECORD_EVERY_MS = 250;

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

function positiveInteger(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} expects a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

export async function pullCommand(args: string[], io: CliIo, env: Env): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(args, {
    epochs: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string', short: 'o' },
    subset: { type: 'string' },
    'batch-size': { type: 'string' },
    dtype: { type: 'string' },
    'class-mode': { type: 'string' },
    augment: { type: 'boolean' },
    'no-augment': { type: 'boolean' },
    resume: { type: 'boolean' },
    'max-batch-bytes': { type: 'string' },
  });
  if (v.help) {
    io.stdout.write(PULL_HELP);
    return 0;
  }
  const id = oneId(positionals, 'pull');
  if (v.epochs === undefined) throw new UsageError('pull needs --epochs (e.g. --epochs 0-4)');
  const epochs = parseEpochs(v.epochs);
  const format = (v.format ?? 'arrow') as PullFormat;
  if (!Object.hasOwn(FORMATS, format)) throw new UsageError(`--format must be arrow or npy, got ${JSON.stringify(v.format)}`);
  const subset = subsetOf(v.subset);
  const batchSize = positiveInteger('--batch-size', v['batch-size']);
  const maxBatchBytes = positiveInteger('--max-batch-bytes', v['max-batch-bytes']) ?? DEFAULT_MAX_BATCH_BYTES;
  if (v.dtype !== undefined && !(FEATURE_DTYPES as readonly string[]).includes(v.dtype)) {
    throw new UsageError(`--dtype must be one of ${FEATURE_DTYPES.join(', ')}, got ${JSON.stringify(v.dtype)}`);
  }
  if (v['class-mode'] !== undefined && !CLASS_MODES.includes(v['class-mode'])) {
    throw new UsageError(`--class-mode must be one of ${CLASS_MODES.join(', ')}, got ${JSON.stringify(v['class-mode'])}`);
  }
  if (v.augment && v['no-augment']) throw new UsageError('--augment and --no-augment contradict each other');
  const outDir = v.out ?? '.';
  const client = clientOf(v, env);
  try {
    await fsp.mkdir(outDir, { recursive: true });
  } catch (err) {
    throw new InputError(`cannot create ${outDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Ctrl-C (or a SIGTERM) ends the stream; what arrived is kept for --resume.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let current = '';
  try {
    for (const epoch of epochs) {
      const file = path.join(outDir, `${id}-${subset}-epoch${epoch}.${FORMATS[format].ext}`);
      const q = new URLSearchParams({ subset, epoch: String(epoch), format });
      if (batchSize !== undefined) q.set('batch_size', String(batchSize));
      if (v.dtype !== undefined) q.set('dtype', v.dtype);
      if (v['class-mode'] !== undefined) q.set('class_mode', v['class-mode']);
      if (v.augment) q.set('augment', 'true');
      if (v['no-augment']) q.set('augment', 'false');
      current = `epoch ${epoch}`;
      const r = await pullEpoch({
        client,
        request: `${ds(id)}/batches?${q}`,
        format,
        file,
        io,
        label: current,
        resume: v.resume === true,
        maxBatchBytes,
        interrupted: interrupt.signal,
      });
      const resumed = r.resumedFrom > 0 ? ` (resumed at batch ${r.resumedFrom})` : '';
      io.stdout.write(`epoch ${epoch}: ${r.batches} batches, ${formatMb(r.bytes)} -> ${file}${resumed}\n`);
    }
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    const kept = err instanceof KeptError ? err.kept : 'nothing was kept';
    throw new InterruptedError(`pull interrupted (${String(interrupt.signal.reason)}) during ${current}: ${kept}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

const formatMb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

// ---------------------------------------------------------------------------------------
// one epoch

interface EpochPull {
  client: ApiClient;
  /** Path and query of GET …/batches, without from_batch. */
  request: string;
  format: PullFormat;
  file: string;
  io: CliIo;
  label: string;
  resume: boolean;
  maxBatchBytes: number;
  interrupted: AbortSignal;
}

/** What `.<file>.part.json` records. */
interface PartialRecord {
  version: 1;
  request: string;
  format: PullFormat;
  /** X-Audiofeed-Dataset-Version of the first response (null: the service did not say). */
  dataset_version: string | null;
  /** Batches of the whole epoch (X-Audiofeed-Batches of the request from batch 0). */
  batches: number;
  columns: string;
  x_shape: string;
  dtype: string;
  /** Complete batches in the partial file, and their bytes from its start. */
  received: number;
  bytes: number;
  /** Arrow: the schema message's length at the start of the file (0 for npy). */
  schema_bytes: number;
  sha256: string;
}

/** A download that failed (cut, unreachable, interrupted), saying what of it was kept. */
class KeptError extends UnavailableError {
  constructor(
    message: string,
    readonly kept: string,
    status?: number,
    retryAfterS?: number,
  ) {
    super(`${message}; ${kept}`, status, retryAfterS);
  }
}

/** The service's answer does not continue the partial file: the epoch starts over. */
class RestartEpoch extends Error {}

function partialPaths(file: string) {
  const base = path.join(path.dirname(file), `.${path.basename(file)}.part`);
  return { part: base, record: `${base}.json`, lock: `${base}.lock` };
}
type PartialPaths = ReturnType<typeof partialPaths>;

async function removePartial(paths: PartialPaths): Promise<void> {
  await Promise.all([fsp.rm(paths.part, { force: true }), fsp.rm(paths.record, { force: true })]);
}

async function saveRecord(paths: PartialPaths, rec: PartialRecord): Promise<void> {
  // Every byte written, size checked, fsync, rename: a resume never reads a short record.
  await writeFileAtomic(paths.record, JSON.stringify(rec, null, 2));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One pull at a time per file: `.<file>.part.lock` holds the pid (a dead holder's lock is taken over). */
async function lockPartial(paths: PartialPaths, file: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fsp.writeFile(paths.lock, String(process.pid), { flag: 'wx' });
      return () => fsp.rm(paths.lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new InputError(`cannot write in ${path.dirname(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      const holder = Number((await fsp.readFile(paths.lock, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new InputError(`another pull (pid ${holder}) is writing ${file}`);
      }
      await fsp.rm(paths.lock, { force: true });
    }
  }
  throw new InputError(`cannot lock ${paths.lock}`);
}

function isRecord(v: unknown): v is PartialRecord {
  const r = v as Record<string, unknown>;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.version === 1 &&
    typeof r.request === 'string' &&
    (r.format === 'npy' || r.format === 'arrow') &&
    (typeof r.dataset_version === 'string' || r.dataset_version === null) &&
    ['batches', 'received', 'bytes', 'schema_bytes'].every((k) => Number.isSafeInteger(r[k]) && (r[k] as number) >= 0) &&
    ['columns', 'x_shape', 'dtype', 'sha256'].every((k) => typeof r[k] === 'string') &&
    (r.received as number) <= (r.batches as number)
  );
}

/** SHA-256 of the first `bytes` bytes of `file`, as a hash that can go on. */
async function hashPrefix(file: string, bytes: number): Promise<crypto.Hash> {
  const hash = crypto.createHash('sha256');
  if (bytes === 0) return hash;
  for await (const chunk of fs.createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash;
}

/** The kept partial download to continue, or why there is none to continue. */
async function readPartial(paths: PartialPaths, o: EpochPull): Promise<{ rec: PartialRecord; hash: crypto.Hash } | { reason: string | null }> {
  let rec: unknown;
  try {
    rec = JSON.parse(await fsp.readFile(paths.record, 'utf8'));
  } catch {
    return { reason: fs.existsSync(paths.part) ? 'the partial file has no readable record' : null };
  }
  if (!isRecord(rec)) return { reason: 'its record is not one this version writes' };
  if (rec.request !== o.request || rec.format !== o.format) return { reason: 'it was made by a different request' };
  if (rec.dataset_version === null) return { reason: 'the service did not say which version of the dataset it streamed' };
  let size: number;
  try {
    size = (await fsp.stat(paths.part)).size;
  } catch {
    return { reason: 'the partial file is gone' };
  }
  if (size < rec.bytes) return { reason: `the partial file has ${size} bytes, fewer than the ${rec.bytes} recorded` };
  const hash = await hashPrefix(paths.part, rec.bytes);
  if (hash.copy().digest('hex') !== rec.sha256) return { reason: 'the bytes kept do not match their recorded checksum' };
  return { rec, hash };
}

async function pullEpoch(o: EpochPull): Promise<{ batches: number; bytes: number; resumedFrom: number }> {
  const paths = partialPaths(o.file);
  const unlock = await lockPartial(paths, o.file);
  try {
    let kept: { rec: PartialRecord; hash: crypto.Hash } | null = null;
    if (o.resume) {
      const found = await readPartial(paths, o);
      if ('rec' in found) kept = found;
      else if (found.reason !== null) o.io.stdout.write(`${o.label}: not resuming (${found.reason}); starting the epoch over\n`);
    }
    if (kept === null) await removePartial(paths);
    try {
      return await download(o, paths, kept);
    } catch (err) {
      if (!(err instanceof RestartEpoch)) throw err;
      o.io.stdout.write(`${o.label}: not resuming (${err.message}); starting the epoch over\n`);
      await removePartial(paths);
      return await download(o, paths, null);
    }
  } finally {
    await unlock();
  }
}

/** The response headers that describe the epoch, checked for sanity before any byte is read. */
function epochHeaders(res: Response, o: EpochPull, baseUrl: string) {
  const bad = (what: string) =>
    new ProtocolError(`${o.label}: the answer from ${baseUrl} ${what} (is this an audiofeed service?)`);
  const batchesText = res.headers.get('x-audiofeed-batches')?.trim() ?? '';
  const columns = (res.headers.get('x-audiofeed-columns') ?? '').trim();
  const xShapeText = res.headers.get('x-audiofeed-x-shape') ?? '';
  const dtype = res.headers.get('x-audiofeed-dtype') ?? '';
  const fromText = res.headers.get('x-audiofeed-from-batch')?.trim();
  if (!/^\d+$/.test(batchesText) || !Number.isSafeInteger(Number(batchesText))) throw bad('has no valid X-Audiofeed-Batches header');
  const columnList = columns.split(',').filter(Boolean);
  if (columnList.length === 0 || columnList[0] !== 'x') throw bad('has no valid X-Audiofeed-Columns header');
  let xShape: unknown;
  try {
    xShape = JSON.parse(xShapeText);
  } catch {
    xShape = null;
  }
  if (!Array.isArray(xShape) || xShape.length === 0 || xShape.length > 8 || !xShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw bad(`has no valid X-Audiofeed-X-Shape header (${JSON.stringify(xShapeText.slice(0, 80))})`);
  }
  if (!Object.hasOwn(ITEM_BYTES, dtype)) throw bad(`names no feature dtype in X-Audiofeed-Dtype (${JSON.stringify(dtype.slice(0, 40))})`);
  const rowBytes = (xShape as number[]).reduce((a, b) => a * b, ITEM_BYTES[dtype]!);
  if (rowBytes > o.maxBatchBytes) throw bad(`declares samples of ${rowBytes} bytes, more than --max-batch-bytes (${o.maxBatchBytes})`);
  return {
    batches: Number(batchesText),
    fromBatch: fromText === undefined ? null : Number(fromText),
    columns,
    columnCount: columnList.length,
    xShapeText: JSON.stringify(xShape),
    xShape: xShape as number[],
    dtype,
    datasetVersion: res.headers.get('x-audiofeed-dataset-version'),
  };
}

/** Streams the epoch into the partial file from where `kept` ends, then verifies and names it. */
async function download(o: EpochPull, paths: PartialPaths, kept: { rec: PartialRecord; hash: crypto.Hash } | null): Promise<{ batches: number; bytes: number; resumedFrom: number }> {
  const { client } = o;
  const from = kept?.rec.received ?? 0;
  const hash = kept?.hash ?? crypto.createHash('sha256');
  let rec: PartialRecord | null = kept ? { ...kept.rec } : null;
  let received = from;
  let position = kept?.rec.bytes ?? 0;
  const abort = new AbortController();
  const onInterrupt = () => abort.abort(o.interrupted.reason);
  if (o.interrupted.aborted) onInterrupt();
  o.interrupted.addEventListener('abort', onInterrupt, { once: true });
  const progress = createProgress(o.io.stdout, o.label, 'batches');
  const t0 = performance.now();
  let fh: fsp.FileHandle | null = null;
  let lastSaved = 0;
  const save = async (force: boolean) => {
    if (!rec || (!force && performance.now() - lastSaved < RECORD_EVERY_MS)) return;
    lastSaved = performance.now();
    await saveRecord(paths, rec);
  };
  const show = () => {
    if (!rec) return;
    const s = (performance.now() - t0) / 1000;
    const done = received - from;
    progress.update({
      value: received,
      total: rec.batches,
      rate: s > 0 ? `${((position - (kept?.rec.bytes ?? 0)) / 1e6 / s).toFixed(1)} MB/s` : '- MB/s',
      etaSeconds: done > 0 ? (s / done) * (rec.batches - received) : null,
    });
  };
  try {
    fh = await fsp.open(paths.part, kept ? 'r+' : 'w');
    if (kept) await fh.truncate(kept.rec.bytes);
    const handle = fh;
    const write = async (bytes: Uint8Array) => {
      if (bytes.byteLength === 0) return;
      // Short writes are continued; a write that makes no progress is ENOSPC.
      await writeFully(handle, [bytes], paths.part, position);
      position += bytes.byteLength;
      hash.update(bytes);
    };

    if (!kept || kept.rec.received < kept.rec.batches) {
      const res = await client.request(`${o.request}&from_batch=${from}`, { accept: FORMATS[o.format].accept, signal: abort.signal });
      const h = epochHeaders(res, o, client.baseUrl);
      if (!res.body) throw new ProtocolError(`${o.label}: the answer from ${client.baseUrl} has no body`);
      if (kept) {
        const r = kept.rec;
        const differs =
          h.datasetVersion !== r.dataset_version
            ? `the dataset changed since (version ${r.dataset_version} then, ${h.datasetVersion ?? 'unknown'} now)`
            : h.batches !== r.batches - from || (h.fromBatch !== null && h.fromBatch !== from)
              ? `the service announces ${h.batches} batches from batch ${from}, the record ${r.batches - from}`
              : h.columns !== r.columns || h.xShapeText !== r.x_shape || h.dtype !== r.dtype
                ? 'the service streams other columns, shapes or dtypes than the record'
                : null;
        if (differs !== null) {
          await res.body.cancel().catch(() => undefined);
          throw new RestartEpoch(differs);
        }
      } else {
        rec = {
          version: 1,
          request: o.request,
          format: o.format,
          dataset_version: h.datasetVersion,
          batches: h.batches,
          columns: h.columns,
          x_shape: h.xShapeText,
          dtype: h.dtype,
          received: 0,
          bytes: 0,
          schema_bytes: 0,
          sha256: hash.copy().digest('hex'),
        };
      }
      show();
      const check = frameChecker(o, h, client.baseUrl);
      const framer = new StreamFramer(o.format, { maxFrameBytes: o.maxBatchBytes });
      // Resuming Arrow: the response starts with its schema again; it must be the one in the file.
      let skipSchema = o.format === 'arrow' && kept !== null;
      const schemaSeen: Buffer[] = [];
      let streamPos = 0;
      let sawEnd = false;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          let frames: Frame[];
          try {
            frames = framer.push(chunk);
          } catch (err) {
            if (err instanceof StreamFrameError) throw new ProtocolError(`${o.label}: the stream from ${client.baseUrl} is not valid: ${err.message}`);
            throw err;
          }
          const chunkStart = streamPos;
          streamPos += chunk.byteLength;
          let cursor = 0;
          for (const f of frames) {
            const batchDone = check(f);
            const end = f.end - chunkStart;
            if (skipSchema) {
              schemaSeen.push(Buffer.from(chunk.subarray(cursor, end)));
              cursor = end;
              if (f.kind !== 'schema') throw new ProtocolError(`${o.label}: the stream from ${client.baseUrl} does not start with its schema`);
              await sameSchema(paths.part, rec!, Buffer.concat(schemaSeen), from);
              skipSchema = false;
              continue;
            }
            await write(chunk.subarray(cursor, end));
            cursor = end;
            if (f.kind === 'schema') rec!.schema_bytes = position;
            if (f.kind === 'eos') sawEnd = true;
            if (batchDone) {
              received++;
              rec = { ...rec!, received, bytes: position, sha256: hash.copy().digest('hex') };
              show();
              await save(false);
            }
          }
          if (skipSchema) schemaSeen.push(Buffer.from(chunk.subarray(cursor)));
          else await write(chunk.subarray(cursor));
        }
      } catch (err) {
        if (err instanceof ProtocolError || err instanceof RestartEpoch) throw err;
        throw new UnavailableError(`${o.label}: the stream from ${client.baseUrl} was cut after ${received} of ${rec!.batches} batches: ${networkReason(err)}`);
      }
      if (framer.inFrame) {
        throw new UnavailableError(`${o.label}: the stream from ${client.baseUrl} ended inside a batch, after ${received} of ${rec!.batches} batches`);
      }
      if (received !== rec!.batches || (o.format === 'arrow' && !sawEnd)) {
        throw new UnavailableError(`${o.label}: the stream from ${client.baseUrl} ended after ${received} of ${rec!.batches} batches; the epoch is incomplete`);
      }
    } else if (o.format === 'arrow') {
      // Every batch was kept; only Arrow's end marker was missing.
      await write(ARROW_EOS);
    }
    await fh.sync();
    await fh.close();
    fh = null;
    await verifyFile(paths.part, o, rec!, hash.digest('hex'));
    await fsp.rename(paths.part, o.file);
    await fsp.rm(paths.record, { force: true });
    show();
    return { batches: rec!.batches, bytes: position, resumedFrom: from };
  } catch (err) {
    if (err instanceof RestartEpoch) throw err;
    await fh?.close().catch(() => undefined);
    fh = null;
    // What arrived is kept for --resume, unless it is nothing or came from a stream not to trust.
    const keep = rec !== null && received > 0 && !(err instanceof ProtocolError);
    if (keep) await save(true).catch(() => undefined);
    else await removePartial(paths).catch(() => undefined);
    const kept = keep
      ? `${received} of ${rec!.batches} batch${rec!.batches === 1 ? '' : 'es'} kept in ${paths.part}; run the same pull with --resume to continue from batch ${received}`
      : 'nothing was kept';
    if (err instanceof UnavailableError && !(err instanceof ProtocolError)) throw new KeptError(err.message, kept, err.status, err.retryAfterS);
    if (o.interrupted.aborted) throw new KeptError(`${o.label}: interrupted`, kept);
    throw err;
  } finally {
    o.interrupted.removeEventListener('abort', onInterrupt);
    progress.stop();
    abort.abort();
    await fh?.close().catch(() => undefined);
  }
}

/** The Schema of an Arrow schema message's bytes (prefix, metadata; a schema has no body). */
function schemaOfMessage(bytes: Buffer): Schema {
  const prefix = bytes.readUInt32LE(0) === 0xffffffff ? 8 : 4;
  const metaLen = bytes.readInt32LE(prefix - 4);
  return Message.decode(bytes.subarray(prefix, prefix + metaLen)).header() as Schema;
}

/** A schema as comparable text: fields (name, type, nullability, metadata) and the schema's metadata. */
function describeSchema(schema: Schema, skip: readonly string[]): string {
  const meta = (m: Map<string, string>) => [...m.entries()].filter(([k]) => !skip.includes(k)).sort();
  return JSON.stringify({
    fields: schema.fields.map((f) => [f.name, String(f.type), f.nullable, meta(f.metadata)]),
    metadata: meta(schema.metadata),
  });
}

/**
 * Arrow resume: the schema the service sends now must be the file's (kept as the start
 * of the file: it describes the whole epoch), except for the two entries that describe
 * this response's slice: audiofeed.from_batch and audiofeed.batches.
 */
async function sameSchema(file: string, rec: PartialRecord, received: Buffer, from: number): Promise<void> {
  const fh = await fsp.open(file, 'r');
  const stored = Buffer.alloc(rec.schema_bytes);
  try {
    await fh.read(stored, 0, rec.schema_bytes, 0);
  } finally {
    await fh.close();
  }
  let then: Schema;
  let now: Schema;
  try {
    then = schemaOfMessage(stored);
    now = schemaOfMessage(received);
  } catch (err) {
    throw new RestartEpoch(`an Arrow schema cannot be read: ${(err as Error).message}`);
  }
  const slice = ['audiofeed.from_batch', 'audiofeed.batches'];
  const sliceOk =
    (now.metadata.get('audiofeed.from_batch') ?? String(from)) === String(from) &&
    (now.metadata.get('audiofeed.batches') ?? String(rec.batches - from)) === String(rec.batches - from);
  if (!sliceOk || describeSchema(then, slice) !== describeSchema(now, slice)) {
    throw new RestartEpoch("the service's Arrow schema differs from the one in the partial file");
  }
}

/**
 * Checks each frame against the response's headers as it completes; returns true when
 * the frame ends a batch. npy: `columns` arrays per batch, x first with the announced
 * dtype and shape, every array with the same rows. Arrow: a schema, then record batches.
 */
function frameChecker(o: EpochPull, h: ReturnType<typeof epochHeaders>, baseUrl: string): (f: Frame) => boolean {
  const bad = (what: string) => new ProtocolError(`${o.label}: the stream from ${baseUrl} is not valid: ${what}`);
  let arrays = 0;
  let rows = -1;
  let schema = false;
  return (f) => {
    if (f.kind === 'npy') {
      const { dtype, shape } = f.header;
      const column = arrays % h.columnCount;
      if (column === 0) {
        if (dtype !== h.dtype || shape.length !== h.xShape.length + 1 || shape.slice(1).some((d, i) => d !== h.xShape[i]) || shape[0]! < 1) {
          throw bad(`batch ${Math.floor(arrays / h.columnCount)}: x is ${dtype} ${JSON.stringify(shape)}, the headers announce ${h.dtype} [rows, ${h.xShape.join(', ')}]`);
        }
        rows = shape[0]!;
      } else if (shape[0] !== rows) {
        throw bad(`batch ${Math.floor(arrays / h.columnCount)}: column ${column} has ${shape[0]} rows, x has ${rows}`);
      }
      arrays++;
      return arrays % h.columnCount === 0;
    }
    if (f.kind === 'schema') {
      if (schema) throw bad('a second schema');
      schema = true;
      return false;
    }
    if (f.kind === 'record-batch') {
      if (!schema) throw bad('a record batch before the schema');
      if (f.rows < 1) throw bad('an empty record batch');
      return true;
    }
    if (f.kind === 'eos') return false;
    throw bad(`an unexpected Arrow ${f.kind} message`);
  };
}

/**
 * Reads the finished partial file back: the same framing and checks as on the way in,
 * the announced number of batches, the checksum of what was written, and for Arrow a
 * full decode whose x column has the announced shape and dtype.
 */
async function verifyFile(file: string, o: EpochPull, rec: PartialRecord, sha256: string): Promise<void> {
  const bad = (what: string) => new ProtocolError(`${o.label}: ${file} did not verify: ${what}`);
  const h = { columns: rec.columns, columnCount: rec.columns.split(',').length, xShape: JSON.parse(rec.x_shape) as number[], xShapeText: rec.x_shape, dtype: rec.dtype, batches: rec.batches, fromBatch: 0, datasetVersion: rec.dataset_version };
  const framer = new StreamFramer(o.format, { maxFrameBytes: o.maxBatchBytes });
  const check = frameChecker(o, h, o.client.baseUrl);
  const digest = crypto.createHash('sha256');
  let batches = 0;
  try {
    for await (const chunk of fs.createReadStream(file)) {
      digest.update(chunk as Buffer);
      for (const f of framer.push(chunk as Buffer)) if (check(f)) batches++;
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw bad((err as Error).message);
  }
  if (framer.inFrame) throw bad('it ends inside a frame');
  if (batches !== rec.batches) throw bad(`it holds ${batches} batches, the service announced ${rec.batches}`);
  if (digest.digest('hex') !== sha256) throw bad('its checksum is not that of the bytes written');
  if (o.format === 'arrow') {
    let decoded = 0;
    try {
      const reader = await RecordBatchReader.from(fs.createReadStream(file));
      for await (const rb of reader) {
        if (rb.numRows === 0) continue;
        const x = rb.schema.fields.find((f) => f.name === 'x');
        const shape = x?.metadata.get('shape');
        if (!x || !(x.type instanceof FixedSizeList) || shape === undefined || JSON.stringify(JSON.parse(shape)) !== rec.x_shape) {
          throw new Error(`its x column is not a fixed-size list of shape ${rec.x_shape}`);
        }
        decoded++;
      }
    } catch (err) {
      throw bad((err as Error).message);
    }
    if (decoded !== rec.batches) throw bad(`Arrow decodes ${decoded} record batches, the service announced ${rec.batches}`);
  }
}
