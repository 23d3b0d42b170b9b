/**
 * The command line's HTTP client for a running service (an adapter: it speaks HTTP with
 * fetch and imports nothing from routes/ or jobs/). Two kinds of failure, told apart
 * because they ask different things of the user:
 *
 * - `RejectedError`: the service answered 4xx (a problem document: its title and detail
 *   say what to fix). The CLI exits 1.
 * - `UnavailableError`: nothing answered at the URL, the service answered 5xx, or a
 *   response was cut short. Trying again later may work. The CLI exits 3.
 *
 * Redirects are followed here, not by fetch: the bearer token goes only to the origin of
 * --url, never to another origin a redirect (or a Link) points at.
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
export class UnavailableError extends Error {
  constructor(
    message: string,
    /** The HTTP status when the service answered (503: it says it cannot serve now). */
    readonly status?: number,
    /** Seconds the service asked to wait (Retry-After), when it said. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/**
 * The service answered something an audiofeed service does not send (a malformed or
 * oversized frame, headers that contradict the body): nothing of it is kept as valid.
 */
export class ProtocolError extends UnavailableError {}

const MAX_REDIRECTS = 5;
/** Pages a listing may have before the client calls it a loop. */
const MAX_PAGES = 10_000;

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
    return this.requestUrl(new URL(this.baseUrl + path), req);
  }

  /**
   * `request` of an absolute URL. Redirects are followed by hand (at most five): the
   * Authorization header goes only to --url's origin, so a redirect to another host,
   * port or scheme never carries the token there.
   */
  private async requestUrl(start: URL, req: ApiRequest): Promise<Response> {
    const origin = new URL(this.baseUrl).origin;
    let url = start;
    let method = req.method ?? 'GET';
    let body = req.json === undefined ? undefined : JSON.stringify(req.json);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { accept: req.accept ?? 'application/json' };
      if (this.token && url.origin === origin) headers.authorization = `Bearer ${this.token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body, signal: req.signal, redirect: 'manual' });
      } catch (err) {
        throw new UnavailableError(`cannot reach the service at ${url.origin === origin ? this.baseUrl : url.origin}: ${networkReason(err)}`);
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.body?.cancel().catch(() => undefined);
        if (hop >= MAX_REDIRECTS) throw new UnavailableError(`the service at ${this.baseUrl} redirected more than ${MAX_REDIRECTS} times`);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new UnavailableError(`the service at ${this.baseUrl} redirected to an invalid URL ${JSON.stringify(location)}`);
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new UnavailableError(`the service at ${this.baseUrl} redirected to ${next.protocol} (only http and https are followed)`);
        }
        // As fetch does: 303 (and 301/302 after a POST) continue as a GET without the body.
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      if (res.ok) return res;
      const problem = await problemOf(res);
      if (res.status >= 400 && res.status < 500) throw new RejectedError(res.status, problem.title, problem.detail, problem.type);
      const what = `${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`;
      if (res.status === 503) {
        // Not a failure: the service says it cannot do this now (no worker, over budget, shutting down).
        const retry = retryAfterSeconds(res.headers.get('retry-after'));
        throw new UnavailableError(
          `the service at ${this.baseUrl} cannot do this now: ${what}${retry === undefined ? '' : `; retry in ${retry} s`}`,
          503,
          retry,
        );
      }
      throw new UnavailableError(`the service at ${this.baseUrl} failed: ${res.status} ${what}`, res.status);
    }
  }

  /**
   * Every item of a paginated listing (`{"<key>": [...], "total": n}` with
   * `Link: <…>; rel="next"`), following the links on the service's own origin.
   */
  async all<T>(path: string, key: string): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let url: URL | null = new URL(this.baseUrl + path);
    const origin = url.origin;
    while (url !== null) {
      if (seen.has(url.href) || seen.size >= MAX_PAGES) throw new UnavailableError(`the listing ${path} from ${this.baseUrl} does not end (its next links loop)`);
      seen.add(url.href);
      const res = await this.requestUrl(url, {});
      let page: Record<string, unknown>;
      try {
        page = (await res.json()) as Record<string, unknown>;
      } catch (err) {
        throw new UnavailableError(`the service at ${this.baseUrl} sent an unreadable answer to ${path}: ${networkReason(err)}`);
      }
      const got = page[key];
      if (!Array.isArray(got)) throw new UnavailableError(`the answer to ${path} from ${this.baseUrl} has no "${key}" list (is this an audiofeed service?)`);
      items.push(...(got as T[]));
      const next = nextLink(res.headers.get('link'), url);
      if (next !== null && next.origin !== origin) {
        throw new UnavailableError(`the service at ${this.baseUrl} sent a next page on another origin (${next.origin}); not followed`);
      }
      url = next;
    }
    return items;
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

/** The `rel="next"` target of a Link header (RFC 8288), resolved against the request's URL. */
export function nextLink(header: string | null, base: URL): URL | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m || !/(^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2]!)) continue;
    try {
      return new URL(m[1]!, base);
    } catch {
      return null;
    }
  }
  return null;
}

/** Retry-After in seconds (delta-seconds or an HTTP date), when present and sane. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
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
