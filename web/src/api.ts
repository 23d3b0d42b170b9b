/**
 * Talking to the audiofeed API from the page: every request carries the token from
 * sessionStorage as `Authorization: Bearer`, errors become ApiError with the problem
 * document's title and detail, images and audio are fetched (so the header is sent) and
 * shown through blob: URLs, and server-sent events are read with fetch + a stream parser
 * (EventSource cannot send headers).
 */
import { SseParser, type SseEvent } from './sse.ts';

const TOKEN_KEY = 'audiofeed.token';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token === null || token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An RFC 9457 problem (or a failure that is not one, described the same way). */
export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string | null;
  readonly body: Record<string, unknown>;

  constructor(status: number, title: string, detail: string, type: string | null, body: Record<string, unknown> = {}) {
    super(`${title}: ${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = type;
    this.body = body;
  }
}

function headersWith(init: HeadersInit | undefined): Headers {
  const headers = new Headers(init);
  const token = getToken();
  if (token) headers.set('authorization', `Bearer ${token}`);
  return headers;
}

async function problemOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  const type = res.headers.get('content-type') ?? '';
  if (/json/.test(type)) {
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      const title = typeof body.title === 'string' ? body.title : res.statusText || `HTTP ${res.status}`;
      const detail = typeof body.detail === 'string' ? body.detail : typeof body.message === 'string' ? body.message : text;
      return new ApiError(res.status, title, detail, typeof body.type === 'string' ? body.type : null, body);
    } catch {
      // Not JSON after all: fall through to the text.
    }
  }
  return new ApiError(res.status, res.statusText || `HTTP ${res.status}`, text.slice(0, 500) || 'the server sent no explanation', null);
}

/** fetch against the API with the token; throws ApiError for any non-2xx answer or network failure. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: headersWith(init.headers), cache: 'no-store' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'Network error', `could not reach the API (${(err as Error).message})`, null);
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

export async function apiJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  const res = await api(path, { ...init, headers });
  return (await res.json()) as T;
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return apiJson<T>(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Fetches a resource with the token and returns a blob: URL for it (the caller revokes it). */
export async function blobUrl(path: string, accept: string, signal?: AbortSignal): Promise<string> {
  const res = await api(path, { headers: { accept }, ...(signal ? { signal } : {}) });
  return URL.createObjectURL(await res.blob());
}

/** POSTs a JSON body and returns the answer as a blob: URL (the caller revokes it) with its headers. */
export async function postForBlob(path: string, body: unknown, accept: string, signal?: AbortSignal): Promise<{ url: string; headers: Headers }> {
  const res = await api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { url: URL.createObjectURL(await res.blob()), headers: res.headers };
}

/**
 * Reads a text/event-stream with the token until the stream ends or `signal` aborts;
 * `onEvent` gets every event in order.
 */
export async function readEvents(path: string, onEvent: (e: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await api(path, { headers: { accept: 'text/event-stream' }, signal });
  if (!res.body) throw new ApiError(res.status, 'No event stream', 'the server answered without a body', null);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser(onEvent);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    parser.end();
  } finally {
    reader.releaseLock();
  }
}
