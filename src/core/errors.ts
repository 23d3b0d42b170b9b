/**
 * One error class per failure a client can cause. Every one carries a stable
 * problem `type` (RFC 9457), the HTTP status it maps to, and a message that says
 * what to fix. Routes never build problem bodies by hand: they throw these and the
 * error handler (src/http/problem.ts) renders them.
 */
export const PROBLEM_BASE = 'https://audiofeed.dev/problems/';

export class AudiofeedError extends Error {
  /** Short slug, appended to PROBLEM_BASE to form the problem `type`. */
  readonly code: string;
  readonly status: number;
  readonly title: string;
  /** Extra members merged into the problem body (must be JSON-serialisable). */
  readonly extra: Record<string, unknown>;

  constructor(code: string, status: number, title: string, detail: string, extra: Record<string, unknown> = {}) {
    super(detail);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.title = title;
    this.extra = extra;
  }

  get type(): string {
    return PROBLEM_BASE + this.code;
  }
}

/** A request or setting is well-formed JSON but its values are not acceptable. */
export class InvalidSettingsError extends AudiofeedError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super('invalid-settings', 422, 'Invalid settings', detail, extra);
  }
}

/** The frontend settings describe an impossible or undefined pipeline. */
export class FrontendSettingsError extends AudiofeedError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super('invalid-frontend-settings', 422, 'Invalid frontend settings', detail, extra);
  }
}

/** A WAV file could not be decoded. `reason` is a stable machine-readable slug. */
export class WavDecodeError extends AudiofeedError {
  readonly reason: string;
  constructor(reason: string, detail: string, file?: string) {
    super('invalid-wav', 422, 'Invalid WAV file', file ? `${file}: ${detail}` : detail, {
      reason,
      ...(file ? { file } : {}),
    });
    this.reason = reason;
  }
}

/** MLTK-equivalent dataset failure (no samples for a class, no unknown candidates, ...). */
export class DatasetError extends AudiofeedError {
  constructor(code: string, detail: string, extra: Record<string, unknown> = {}, status = 422) {
    super(code, status, 'Dataset cannot be loaded', detail, extra);
  }
}

export class NotFoundError extends AudiofeedError {
  constructor(what: string, detail: string) {
    super(`${what}-not-found`, 404, 'Not found', detail);
  }
}

export class ConflictError extends AudiofeedError {
  constructor(code: string, detail: string, extra: Record<string, unknown> = {}) {
    super(code, 409, 'Conflict', detail, extra);
  }
}

export class PayloadTooLargeError extends AudiofeedError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super('payload-too-large', 413, 'Payload too large', detail, extra);
  }
}

export class BadRequestError extends AudiofeedError {
  constructor(code: string, detail: string, extra: Record<string, unknown> = {}) {
    super(code, 400, 'Bad request', detail, extra);
  }
}

export class ForbiddenPathError extends AudiofeedError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super('path-not-allowed', 403, 'Path not allowed', detail, extra);
  }
}

/** No credentials, or credentials that match no configured token (401 + WWW-Authenticate). */
export class UnauthorizedError extends AudiofeedError {
  constructor(detail: string) {
    super('unauthorized', 401, 'Unauthorized', detail);
  }
}

/** A valid token whose scope does not cover the route (403). */
export class ForbiddenError extends AudiofeedError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super('insufficient-scope', 403, 'Forbidden', detail, extra);
  }
}

/** Rate limit exceeded (429; Retry-After says when to come back). */
export class TooManyRequestsError extends AudiofeedError {
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super('rate-limited', 429, 'Too many requests', detail, extra);
  }
}

/**
 * A clip needs resampling and this server has no resampler: MLTK's soxr_hq comes only
 * from libsoxr in the native addon, and nothing else stands in for it (different numbers
 * would be served silently). 501: the server lacks a capability the request needs.
 */
export class ResamplerUnavailableError extends AudiofeedError {
  static readonly CODE = 'resampler-unavailable';
  constructor(detail: string, extra: Record<string, unknown> = {}) {
    super(ResamplerUnavailableError.CODE, 501, 'Resampler unavailable', detail, extra);
  }
}
