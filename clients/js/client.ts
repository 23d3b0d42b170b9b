/**
 * Node client for audiofeed: dataset metadata and the Arrow batch stream, decoded
 * incrementally (one record batch at a time, as it arrives) and resumed with
 * `from_batch` after a dropped connection.
 *
 * Safe against a hostile or misconfigured server: redirects are followed here and the
 * token goes only to the base URL's origin; every Arrow message's declared size is
 * checked before arrow-js reads its body, and every batch against the
 * X-Audiofeed-X-Shape / -Dtype headers; answers are read up to a limit. Failures of
 * the server's side are this client's own errors (AudiofeedProtocolError,
 * DatasetChangedError, IncompleteStreamError, AudiofeedError), never a raw RangeError.
 *
 * Depends only on `apache-arrow` and Node 20's global fetch, so it can be copied into a
 * training project without the service's code (which is why its stream checks are its
 * own, not the service's src/core/tensors/stream-frames.ts).
 */
import { FixedSizeList, Message, MessageHeader, RecordBatchReader, type Data, type Field, type RecordBatch } from 'apache-arrow';

export type TypedArray = Float32Array | Int8Array | Uint16Array | Int32Array;

export interface Tensor {
  data: TypedArray;
  shape: number[];
}

export interface Batch {
  /** Absolute index of this batch in the epoch (from_batch + position in the stream). */
  index: number;
  x: Tensor;
  y: Tensor | null;
  sampleWeight: Float32Array | null;
}

export interface BatchParams {
  subset?: 'training' | 'validation' | 'evaluation';
  epoch?: number;
  batchSize?: number;
  shuffle?: boolean | 'batch';
  stepsPerEpoch?: number;
  classMode?: 'categorical' | 'binary' | 'sparse' | 'input' | 'none';
  dtype?: 'float32' | 'int8' | 'uint16';
  classWeight?: boolean;
  sampleWeightId?: string;
  fromBatch?: number;
  /** Reconnections allowed after a dropped stream (consecutive, reset by progress). Default 3. */
  retries?: number;
  /** Wait before reconnecting, multiplied by the attempt number. Default 500 ms. */
  retryDelayMs?: number;
  signal?: AbortSignal;
}

export interface ClientOptions {
  token?: string;
  /** Injected for tests and proxies; defaults to the global fetch. Redirects are followed by the client, not by it. */
  fetch?: typeof fetch;
  /**
   * Largest batch accepted (bytes of one Arrow message, e.g. x + y + weights of a batch);
   * a stream that declares more is refused before anything is allocated. Default 1 GiB.
   */
  maxBatchBytes?: number;
}

/** The server sent what an audiofeed service does not: an oversized or malformed frame, a batch that contradicts its headers, an answer too large. */
export class AudiofeedProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AudiofeedProtocolError';
  }
}

/**
 * The dataset changed between two requests of one epoch (a reconnection answered with
 * another X-Audiofeed-Dataset-Version, shape or dtype): the batches already yielded and
 * the rest would not be one epoch.
 */
export class DatasetChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetChangedError';
  }
}

/** An RFC 9457 problem returned by the service. */
export class AudiofeedError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly body: Record<string, unknown>;

  constructor(status: number, type: string, title: string, detail: string, body: Record<string, unknown> = {}) {
    super(`${status} ${title}: ${detail}`);
    this.name = 'AudiofeedError';
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail;
    this.body = body;
  }
}

/**
 * The batch stream ended before the batches announced in `X-Audiofeed-Batches`, and
 * reconnecting did not help: a body that ends on a batch boundary, even cleanly, but too
 * early (`cause` undefined), a message cut mid-way (`cause` is arrow's or fetch's error), or a
 * response without the header (`expected` null: a cut could not be told from the end).
 * `received` and `expected` count batches from the request's `fromBatch`.
 */
export class IncompleteStreamError extends Error {
  readonly received: number;
  readonly expected: number | null;
  constructor(received: number, expected: number | null, cause?: unknown) {
    super(
      expected === null
        ? 'batch stream without a valid X-Audiofeed-Batches header: a cut stream could not be told from a complete one, so it is not read (is this an audiofeed service?)'
        : `batch stream ended early: ${received} of ${expected} batches arrived (${
            cause === undefined ? 'the body ended on a batch boundary' : `cut: ${cause instanceof Error ? cause.message : String(cause)}`
          }); the epoch is incomplete`,
      { cause },
    );
    this.name = 'IncompleteStreamError';
    this.received = received;
    this.expected = expected;
  }
}

/** The answer of GET /v1/datasets/{id}/datagen. */
export interface DatagenContext {
  subset: 'training' | 'validation' | 'evaluation';
  batch_size: number;
  shuffle: boolean;
  seed: number | null;
  effective_seed: number;
  augmentation: Record<string, unknown> | null;
  class_mode: string | null;
  /** x's dtype: float32 whenever the standardization below is on. */
  dtype: string;
  /** MLTK's standardization applied to each x row by the service (null / false: off). */
  rescale: number | null;
  samplewise_center: boolean;
  samplewise_std_normalization: boolean;
  samplewise_normalize_range: [number, number] | null;
  samples: number;
  batches_per_epoch: number;
  steps_per_epoch: number | null;
  batches: number;
  x_shape: number[];
  classes: string[];
  validation_freq: number | number[];
  epoch: number | null;
  validation_after_epoch: boolean | null;
}

/** Statuses worth retrying: the gateway or a replica was momentarily unavailable. */
const TRANSIENT = new Set([502, 503, 504]);
const DEFAULT_MAX_BATCH_BYTES = 1024 ** 3;
const MAX_REDIRECTS = 5;
/** Largest JSON answer read (a dataset view, a datagen context) and problem document. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const MAX_PROBLEM_BYTES = 1024 * 1024;
/** Largest Arrow message metadata (a schema or a batch header is a few hundred bytes). */
const MAX_METADATA_BYTES = 1024 * 1024;
const ITEM_BYTES: Record<string, number> = { float32: 4, int8: 1, uint16: 2, int32: 4 };

/** What the headers of a batch stream announce, checked once before its body is read. */
interface StreamHeaders {
  xShape: number[];
  dtype: string;
  version: string | null;
}

export class AudiofeedClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly maxBatchBytes: number;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = options.fetch ?? fetch;
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  }

  /** GET /v1/datasets/{id}: the mixin's properties (audio_classes, audio_input_shape, ...). */
  async dataset(id: string): Promise<Record<string, unknown>> {
    const res = await this.get(`/v1/datasets/${encodeURIComponent(id)}`, 'application/json');
    return (await readJson(res)) as Record<string, unknown>;
  }

  /**
   * GET /v1/datasets/{id}/datagen (MLTK datagen_context): what the generator of `subset`
   * uses — batch_size, shuffle, seed, augmentation, class_mode, dtype, samples,
   * batches_per_epoch, steps_per_epoch, batches, x_shape, classes, and with `epoch`
   * whether validation runs after it. `params` are the batches query parameters, by
   * their wire names (batch_size, steps_per_epoch, validation_freq, ...).
   */
  async datagen(
    id: string,
    subset: 'training' | 'validation' | 'evaluation' = 'training',
    params: Record<string, string | number | boolean | undefined> = {},
  ): Promise<DatagenContext> {
    const q = new URLSearchParams({ subset });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
    const res = await this.get(`/v1/datasets/${encodeURIComponent(id)}/datagen?${q}`, 'application/json');
    return (await readJson(res)) as DatagenContext;
  }

  /**
   * The batches of one epoch request, decoded as they arrive. After a dropped connection
   * the request is repeated with `from_batch` = the next batch not yet received.
   */
  async *batches(id: string, params: BatchParams = {}): AsyncGenerator<Batch, void, undefined> {
    const retries = params.retries ?? 3;
    const delay = params.retryDelayMs ?? 500;
    let next = params.fromBatch ?? 0;
    let end = Number.POSITIVE_INFINITY;
    let failures = 0;
    let lastError: unknown;
    // The first response's description of the epoch: every reconnection must answer the same.
    let first: StreamHeaders | null = null;

    for (;;) {
      const abort = new AbortController();
      const onOuterAbort = () => abort.abort(params.signal?.reason);
      params.signal?.addEventListener('abort', onOuterAbort, { once: true });
      try {
        let res: Response;
        try {
          res = await this.get(`/v1/datasets/${encodeURIComponent(id)}/batches?${batchQuery(params, next)}`, 'application/vnd.apache.arrow.stream', abort.signal);
        } catch (err) {
          if (params.signal?.aborted || (err instanceof AudiofeedError && !TRANSIENT.has(err.status))) throw err;
          lastError = err;
          if (++failures > retries) throw err;
          await sleep(delay * failures);
          continue;
        }
        // The count is what tells a cut on a batch boundary from the end of the epoch.
        const announced = res.headers.get('x-audiofeed-batches')?.trim() ?? '';
        if (!/^\d+$/.test(announced)) {
          await res.body?.cancel().catch(() => undefined);
          throw new IncompleteStreamError(0, null);
        }
        let headers: StreamHeaders;
        try {
          headers = streamHeaders(res, params.dtype, this.maxBatchBytes);
          if (first && !sameEpoch(first, headers)) {
            throw new DatasetChangedError(
              `the epoch changed between requests (from batch ${next}: ${describeHeaders(headers)}; before: ${describeHeaders(first)}); its batches would not be one epoch`,
            );
          }
        } catch (err) {
          await res.body?.cancel().catch(() => undefined);
          throw err;
        }
        first ??= headers;
        end = next + Number(announced);
        try {
          // Every message's size is checked before arrow-js reads (and allocates) its body.
          for await (const rb of recordBatches(res.body as unknown as AsyncIterable<Uint8Array>, this.maxBatchBytes)) {
            // arrow-js yields a zero-row placeholder when a stream holds a schema and no
            // batch; the service never sends empty training batches, so it is not one.
            if (rb.numRows === 0) continue;
            const batch = checkedBatch(rb, next, headers, this.maxBatchBytes);
            next++;
            failures = 0;
            yield batch;
          }
        } catch (err) {
          if (params.signal?.aborted || err instanceof AudiofeedProtocolError) throw err;
          lastError = err;
        }
        if (next >= end) return;
        if (++failures > retries) throw new IncompleteStreamError(next - (params.fromBatch ?? 0), end - (params.fromBatch ?? 0), lastError);
        await sleep(delay * failures);
        lastError = undefined;
      } finally {
        params.signal?.removeEventListener('abort', onOuterAbort);
        // Ends the response if the consumer stopped early (break / return).
        abort.abort();
      }
    }
  }

  /**
   * GET with redirects followed here (at most five, http and https only): the bearer
   * token is sent to the base URL's origin only, never to another host, port or scheme
   * a redirect points at, whatever the fetch implementation would do.
   */
  private async get(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
    const origin = new URL(this.baseUrl).origin;
    let url = new URL(this.baseUrl + path);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { accept };
      if (this.token && url.origin === origin) headers.authorization = `Bearer ${this.token}`;
      const res = await this.fetchImpl(url.href, { headers, signal, redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.body?.cancel().catch(() => undefined);
        if (hop >= MAX_REDIRECTS) throw new AudiofeedProtocolError(`${this.baseUrl} redirected more than ${MAX_REDIRECTS} times`);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new AudiofeedProtocolError(`${this.baseUrl} redirected to an invalid URL ${JSON.stringify(location.slice(0, 200))}`);
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new AudiofeedProtocolError(`${this.baseUrl} redirected to ${next.protocol} (only http and https are followed)`);
        }
        url = next;
        continue;
      }
      if (!res.ok) throw await problemOf(res);
      return res;
    }
  }
}

/** The body of a JSON answer, read up to `limit` bytes (a larger one is refused, not buffered). */
async function readText(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new AudiofeedProtocolError(`an answer of ${declared} bytes; at most ${limit} are read`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await res.body.cancel().catch(() => undefined);
      throw new AudiofeedProtocolError(`an answer longer than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(res: Response): Promise<unknown> {
  const text = await readText(res, MAX_JSON_BYTES);
  try {
    return JSON.parse(text);
  } catch {
    throw new AudiofeedProtocolError(`the answer is not JSON: ${JSON.stringify(text.slice(0, 100))}`);
  }
}

/** X-Audiofeed-X-Shape and -Dtype: present, sane, the dtype asked for, one sample within the batch limit. */
function streamHeaders(res: Response, requestedDtype: string | undefined, maxBatchBytes: number): StreamHeaders {
  const shapeText = res.headers.get('x-audiofeed-x-shape') ?? '';
  const dtype = res.headers.get('x-audiofeed-dtype') ?? '';
  let xShape: unknown;
  try {
    xShape = JSON.parse(shapeText);
  } catch {
    xShape = null;
  }
  if (!Array.isArray(xShape) || xShape.length === 0 || xShape.length > 8 || !xShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new AudiofeedProtocolError(`the batch stream has no valid X-Audiofeed-X-Shape header (${JSON.stringify(shapeText.slice(0, 80))}); is this an audiofeed service?`);
  }
  if (!['float32', 'int8', 'uint16'].includes(dtype)) {
    throw new AudiofeedProtocolError(`the batch stream has no valid X-Audiofeed-Dtype header (${JSON.stringify(dtype.slice(0, 40))})`);
  }
  if (requestedDtype !== undefined && dtype !== requestedDtype) {
    throw new AudiofeedProtocolError(`asked for dtype ${requestedDtype}, the batch stream announces ${dtype}`);
  }
  const sampleBytes = (xShape as number[]).reduce((a, b) => a * b, ITEM_BYTES[dtype]!);
  if (sampleBytes > maxBatchBytes) {
    throw new AudiofeedProtocolError(`the batch stream announces samples of ${sampleBytes} bytes; maxBatchBytes is ${maxBatchBytes}`);
  }
  return { xShape: xShape as number[], dtype, version: res.headers.get('x-audiofeed-dataset-version') };
}

function sameEpoch(a: StreamHeaders, b: StreamHeaders): boolean {
  return a.dtype === b.dtype && a.version === b.version && JSON.stringify(a.xShape) === JSON.stringify(b.xShape);
}

function describeHeaders(h: StreamHeaders): string {
  return `x ${h.dtype} [rows, ${h.xShape.join(', ')}], dataset version ${h.version ?? 'unknown'}`;
}

/** One whole message of an Arrow IPC stream: its prefix, metadata and body. */
export interface IpcMessage {
  kind: 'schema' | 'batch' | 'end';
  bytes: Buffer;
}

const END_OF_STREAM = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * The messages of an Arrow IPC stream, each whole, framed while the bytes arrive: a
 * message whose metadata or body declares more than the limits (or a message that is not
 * a schema or a record batch) is an AudiofeedProtocolError before anything reads (and
 * allocates) its body. The client decodes each batch on its own as soon as its last byte
 * is here: arrow-js's streaming reader asks for more bytes before it hands over a message
 * that ends exactly where a network chunk ends (Node 24's fetch delivers whole batches
 * that way), so a batch would wait for the next one, and a batch followed by a dropped
 * connection would be lost although every byte of it arrived.
 */
export async function* ipcMessages(body: AsyncIterable<Uint8Array>, maxBodyBytes: number): AsyncGenerator<IpcMessage> {
  const parts: Buffer[] = []; // bytes received and not yet passed on
  let have = 0;
  let need = 0; // bytes of the message being received (0: its metadata is not read yet)
  let kind: IpcMessage['kind'] = 'schema';
  let ended = false;
  /** The first `n` bytes (n <= have) as one buffer; with `consume`, removed from `parts`. */
  const first = (n: number, consume: boolean): Buffer => {
    if (parts[0]!.length >= n) {
      const out = parts[0]!.subarray(0, n);
      if (consume) {
        parts[0] = parts[0]!.subarray(n);
        if (parts[0].length === 0) parts.shift();
        have -= n;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    let i = 0;
    while (off < n) {
      const p = parts[i]!;
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (consume) {
        if (k === p.length) parts.splice(i, 1);
        else {
          parts[i] = p.subarray(k);
          i++;
        }
      } else i++;
    }
    if (consume) have -= n;
    return out;
  };
  for await (const chunk of body) {
    if (chunk.byteLength === 0) continue;
    parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    have += chunk.byteLength;
    for (;;) {
      if (need === 0) {
        if (have === 0) break;
        if (ended) throw new AudiofeedProtocolError('data after the Arrow end-of-stream marker');
        if (have < 8) break;
        const head = first(8, false);
        const prefix = head.readUInt32LE(0) === 0xffffffff ? 8 : 4;
        const metaLen = head.readInt32LE(prefix - 4);
        if (metaLen === 0) {
          ended = true;
          yield { kind: 'end', bytes: first(prefix, true) };
          continue;
        }
        if (metaLen < 0 || metaLen > MAX_METADATA_BYTES) throw new AudiofeedProtocolError(`an Arrow message declares ${metaLen} bytes of metadata`);
        if (have < prefix + metaLen) break;
        let message: Message;
        try {
          message = Message.decode(first(prefix + metaLen, false).subarray(prefix));
        } catch (err) {
          throw new AudiofeedProtocolError(`a malformed Arrow message: ${(err as Error).message}`);
        }
        if (message.headerType !== MessageHeader.Schema && message.headerType !== MessageHeader.RecordBatch) {
          throw new AudiofeedProtocolError(`an unexpected Arrow message (type ${message.headerType})`);
        }
        const bodyLength = Number(message.bodyLength);
        if (!Number.isSafeInteger(bodyLength) || bodyLength < 0 || bodyLength > maxBodyBytes) {
          throw new AudiofeedProtocolError(`an Arrow message declares a body of ${String(message.bodyLength)} bytes; maxBatchBytes is ${maxBodyBytes}`);
        }
        need = prefix + metaLen + bodyLength;
        kind = message.headerType === MessageHeader.Schema ? 'schema' : 'batch';
      }
      if (have < need) break;
      yield { kind, bytes: first(need, true) };
      need = 0;
    }
  }
  if (have > 0) throw new Error(`the stream ended inside an Arrow message (${have} bytes of it arrived)`);
}

/** The record batches of an Arrow IPC stream, each decoded as soon as all its bytes are here. */
async function* recordBatches(body: AsyncIterable<Uint8Array>, maxBodyBytes: number): AsyncGenerator<RecordBatch> {
  let schema: Buffer | null = null;
  for await (const message of ipcMessages(body, maxBodyBytes)) {
    if (message.kind === 'schema') {
      if (schema) throw new AudiofeedProtocolError('a second Arrow schema in one stream');
      schema = message.bytes;
    } else if (message.kind === 'batch') {
      if (!schema) throw new AudiofeedProtocolError('an Arrow record batch before the schema');
      let decoded: RecordBatch[];
      try {
        decoded = [...RecordBatchReader.from(Buffer.concat([schema, message.bytes, END_OF_STREAM]))];
      } catch (err) {
        throw new AudiofeedProtocolError(`a malformed Arrow record batch: ${(err as Error).message}`);
      }
      yield* decoded;
    }
  }
}

/** A decoded batch, checked against the stream's headers: x is [rows, ...X-Shape] of X-Dtype, every column has the rows. */
function checkedBatch(rb: RecordBatch, index: number, h: StreamHeaders, maxBatchBytes: number): Batch {
  let batch: Batch;
  try {
    batch = decodeBatch(rb, index);
  } catch (err) {
    throw new AudiofeedProtocolError(`batch ${index} cannot be decoded: ${(err as Error).message}`);
  }
  const { x, y, sampleWeight } = batch;
  const rows = x.shape[0]!;
  const dtypeOf = (a: TypedArray) =>
    a instanceof Float32Array ? 'float32' : a instanceof Int8Array ? 'int8' : a instanceof Uint16Array ? 'uint16' : a instanceof Int32Array ? 'int32' : 'other';
  const want = [rows, ...h.xShape];
  if (dtypeOf(x.data) !== h.dtype || JSON.stringify(x.shape) !== JSON.stringify(want) || x.data.length !== want.reduce((a, b) => a * b, 1)) {
    throw new AudiofeedProtocolError(`batch ${index}: x is ${dtypeOf(x.data)} ${JSON.stringify(x.shape)}, the headers announce ${h.dtype} [rows, ${h.xShape.join(', ')}]`);
  }
  if (x.data.byteLength > maxBatchBytes) throw new AudiofeedProtocolError(`batch ${index} holds ${x.data.byteLength} bytes of x; maxBatchBytes is ${maxBatchBytes}`);
  if ((y && y.shape[0] !== rows) || (sampleWeight && sampleWeight.length !== rows)) {
    throw new AudiofeedProtocolError(`batch ${index}: the columns do not all have ${rows} rows`);
  }
  return batch;
}

function batchQuery(p: BatchParams, fromBatch: number): string {
  const q = new URLSearchParams();
  const set = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) q.set(name, String(value));
  };
  set('subset', p.subset);
  set('epoch', p.epoch);
  set('batch_size', p.batchSize);
  set('shuffle', p.shuffle);
  set('steps_per_epoch', p.stepsPerEpoch);
  set('class_mode', p.classMode);
  set('dtype', p.dtype);
  set('class_weight', p.classWeight);
  set('sample_weight_id', p.sampleWeightId);
  set('from_batch', fromBatch);
  set('format', 'arrow');
  return q.toString();
}

async function problemOf(res: Response): Promise<AudiofeedError> {
  const text = await readText(res, MAX_PROBLEM_BYTES).catch(() => '');
  const contentType = res.headers.get('content-type') ?? '';
  if (contentType.includes('json')) {
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      return new AudiofeedError(
        typeof body.status === 'number' ? body.status : res.status,
        typeof body.type === 'string' ? body.type : 'about:blank',
        typeof body.title === 'string' ? body.title : res.statusText,
        typeof body.detail === 'string' ? body.detail : text,
        body,
      );
    } catch {
      // Not JSON after all: fall through to the plain-text form.
    }
  }
  return new AudiofeedError(res.status, 'about:blank', res.statusText, text);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/** Turns one record batch into flat typed arrays with their shapes (views, no copies). */
export function decodeBatch(rb: RecordBatch, index: number): Batch {
  const rows = rb.numRows;
  const column = (name: string): { field: Field; data: Data } | null => {
    const field = rb.schema.fields.find((f) => f.name === name);
    const vector = rb.getChild(name);
    if (!field || !vector) return null;
    // One record batch read from IPC holds exactly one chunk per column.
    return { field, data: vector.data[0]! };
  };
  const x = column('x');
  if (!x) throw new Error('batch has no x column');
  const y = column('y');
  const w = column('sample_weight');
  return {
    index,
    x: tensorOf(x.field, x.data, rows),
    y: y ? tensorOf(y.field, y.data, rows) : null,
    sampleWeight: w ? (flatValues(w.data) as Float32Array) : null,
  };
}

function tensorOf(field: Field, data: Data, rows: number): Tensor {
  if (field.type instanceof FixedSizeList) {
    const shape = field.metadata.get('shape');
    return { data: flatValues(data), shape: [rows, ...(shape ? (JSON.parse(shape) as number[]) : [field.type.listSize])] };
  }
  return { data: flatValues(data), shape: [rows] };
}

function flatValues(data: Data): TypedArray {
  if (data.type instanceof FixedSizeList) {
    const child = data.children[0]!;
    const width = data.type.listSize;
    const values = child.values as TypedArray;
    return values.subarray(child.offset + data.offset * width, child.offset + (data.offset + data.length) * width);
  }
  return (data.values as TypedArray).subarray(data.offset, data.offset + data.length);
}
