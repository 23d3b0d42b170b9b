/**
 * The command line's HTTP client for a running service (an adapter: it speaks HTTP with
 * fetch and imports nothing from routes/ or jobs/). Two kinds of failure, told apart
 * because they ask different things of the user:
 *
 * - `RejectedError`: the service answered 4xx (a problem document: its title and detail
 *   say what to fix). The CLI exits 1.
 * - `UnavailableError`: nothing answered at the URL, the service answered 5xx, or a
 *   response was cut short. Trying again later may work. The CLI exits 3.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The service refused the request (HTTP 4xx). */
export class RejectedError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly type: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

/** The service could not be reached, failed (5xx), or cut a response short. */
export class UnavailableError extends Error {}

export interface ApiRequest {
  method?: string;
  /** A JSON request body. */
  json?: unknown;
  accept?: string;
  signal?: AbortSignal;
}

export class ApiClient {
  readonly baseUrl: string;

  constructor(
    url: string,
    private readonly token: string | undefined,
  ) {
    this.baseUrl = url.replace(/\/+$/, '');
  }

  /** The response of a 2xx answer; anything else is thrown as RejectedError / UnavailableError. */
  async request(path: string, req: ApiRequest = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: req.accept ?? 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (req.json !== undefined) headers['content-type'] = 'application/json';
    const url = this.baseUrl + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method: req.method ?? 'GET',
        headers,
        body: req.json === undefined ? undefined : JSON.stringify(req.json),
        signal: req.signal,
      });
    } catch (err) {
      throw new UnavailableError(`cannot reach the service at ${this.baseUrl}: ${networkReason(err)}`);
    }
    if (res.ok) return res;
    const problem = await problemOf(res);
    if (res.status >= 400 && res.status < 500) throw new RejectedError(res.status, problem.title, problem.detail, problem.type);
    throw new UnavailableError(
      `the service at ${this.baseUrl} failed: ${res.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`,
    );
  }

  async json<T = Record<string, unknown>>(path: string, req: ApiRequest = {}): Promise<T> {
    const res = await this.request(path, req);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw new UnavailableError(`the service at ${this.baseUrl} sent an unreadable answer to ${path}: ${networkReason(err)}`);
    }
  }

  async text(path: string, req: ApiRequest = {}): Promise<string> {
    const res = await this.request(path, req);
    try {
      return await res.text();
    } catch (err) {
      throw new UnavailableError(`the answer to ${path} from ${this.baseUrl} was cut: ${networkReason(err)}`);
    }
  }

  /**
   * Server-sent events of `path` (fetch streaming, so the bearer token goes along), one
   * message at a time. Ends when the server ends the stream.
   */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<EventSourceMessage> {
    const res = await this.request(path, { accept: 'text/event-stream', signal });
    if (!res.body) return;
    const queue: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => queue.push(e) });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        while (queue.length > 0) yield queue.shift()!;
      }
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new UnavailableError(`the event stream ${path} from ${this.baseUrl} was cut: ${networkReason(err)}`);
    }
  }
}

/** What fetch's "fetch failed" hides: ECONNREFUSED, ENOTFOUND, a reset, ... */
export function networkReason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused (is `npm start` running, and is --url / AUDIOFEED_URL right?)';
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  if (cause?.message) return cause.message;
  return e.message ?? String(err);
}

async function problemOf(res: Response): Promise<{ title: string; detail: string; type: string }> {
  const text = await res.text().catch(() => '');
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      let detail = typeof body.detail === 'string' ? body.detail : '';
      // A schema violation lists where (and which unknown field): say it on the same line.
      if (Array.isArray(body.errors) && body.errors.length > 0) {
        const where = (body.errors as Record<string, unknown>[]).slice(0, 5).map((e) =>
          [e.location, e.field === undefined ? '' : `"${String(e.field)}"`].filter(Boolean).join(' '),
        );
        detail += ` (${where.join('; ')})`;
      }
      return {
        title: typeof body.title === 'string' ? body.title : res.statusText,
        detail,
        type: typeof body.type === 'string' ? body.type : 'about:blank',
      };
    } catch {
      // Not JSON after all: the text below.
    }
  }
  return { title: res.statusText || `HTTP ${res.status}`, detail: text.trim().slice(0, 500), type: 'about:blank' };
}
