/**
 * Node client for audiofeed: dataset metadata and the Arrow batch stream, decoded
 * incrementally (one record batch at a time, as it arrives) and resumed with
 * `from_batch` after a dropped connection.
 *
 * Depends only on `apache-arrow` and Node 20's global fetch, so it can be copied into a
 * training project without the service's code.
 */
import { FixedSizeList, RecordBatchReader, type Data, type Field, type RecordBatch } from 'apache-arrow';

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
  /** Injected for tests and proxies; defaults to the global fetch. */
  fetch?: typeof fetch;
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

export class AudiofeedClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** GET /v1/datasets/{id}: the mixin's properties (audio_classes, audio_input_shape, ...). */
  async dataset(id: string): Promise<Record<string, unknown>> {
    const res = await this.get(`/v1/datasets/${encodeURIComponent(id)}`, 'application/json');
    return (await res.json()) as Record<string, unknown>;
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
    return (await res.json()) as DatagenContext;
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
        if (!/^\d+$/.test(announced)) throw new IncompleteStreamError(0, null);
        end = next + Number(announced);
        try {
          const reader = await RecordBatchReader.from(res.body as ReadableStream<Uint8Array>);
          for await (const rb of reader) {
            // arrow-js yields a zero-row placeholder when a stream holds a schema and no
            // batch; the service never sends empty training batches, so it is not one.
            if (rb.numRows === 0) continue;
            const batch = decodeBatch(rb, next);
            next++;
            failures = 0;
            yield batch;
          }
        } catch (err) {
          if (params.signal?.aborted) throw err;
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

  private async get(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await this.fetchImpl(this.baseUrl + path, { headers, signal });
    if (!res.ok) throw await problemOf(res);
    return res;
  }
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
  const text = await res.text().catch(() => '');
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
