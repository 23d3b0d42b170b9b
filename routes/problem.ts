/**
 * RFC 9457 problem details for every error the API returns. One stable `type` per
 * failure; `detail` says what to fix.
 */
import fs from 'node:fs';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { AudiofeedError, PROBLEM_BASE } from '../src/core/errors.ts';
import { describeSchemaError, explainValidation } from './validation.ts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [k: string]: unknown;
}

export function problem(code: string, status: number, title: string, detail: string, extra: Record<string, unknown> = {}): ProblemBody {
  return { type: PROBLEM_BASE + code, title, status, detail, ...extra };
}

/** Fastify and plugin error codes mapped to our problem types. */
const FASTIFY_CODES: Record<string, { code: string; status: number; title: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'malformed-json', status: 400, title: 'Malformed JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'malformed-json', status: 400, title: 'Malformed JSON' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported-media-type', status: 415, title: 'Unsupported media type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad-request', status: 400, title: 'Bad request' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload-too-large', status: 413, title: 'Payload too large' },
  FST_REQ_FILE_TOO_LARGE: { code: 'payload-too-large', status: 413, title: 'Payload too large' },
  FST_PARTS_LIMIT: { code: 'payload-too-large', status: 413, title: 'Payload too large' },
  FST_FILES_LIMIT: { code: 'payload-too-large', status: 413, title: 'Payload too large' },
  FST_FIELDS_LIMIT: { code: 'payload-too-large', status: 413, title: 'Payload too large' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: 'unsupported-media-type', status: 415, title: 'Unsupported media type' },
  FST_PROTO_VIOLATION: { code: 'malformed-json', status: 400, title: 'Malformed JSON' },
  // A multipart field typed application/json whose value is not JSON (the plugin says 406).
  FST_INVALID_JSON_FIELD_ERROR: { code: 'malformed-json', status: 400, title: 'Malformed JSON' },
};

/** True for errors that mean Redis is unreachable: the request may succeed later. */
function isBackendDown(err: Error): boolean {
  const msg = err.message ?? '';
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue/.test(msg)
  );
}

export function toProblem(err: FastifyError | Error, req: FastifyRequest): ProblemBody {
  if (err instanceof AudiofeedError) {
    return { type: err.type, title: err.title, status: err.status, detail: err.message, instance: req.url, ...err.extra };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    // One error per mistake: the one that matters (routes/validation.ts).
    const error = explainValidation(fe.validation as ErrorObject[], fe.validationContext ?? 'request');
    return problem('validation-error', 400, 'Request does not match the schema', describeSchemaError(error), {
      instance: req.url,
      errors: [error],
    });
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return problem(mapped.code, mapped.status, mapped.title, fe.message, { instance: req.url });
  if (isBackendDown(err)) {
    return problem('backend-unavailable', 503, 'Service unavailable', 'the registry (Redis) is unreachable; retry shortly', {
      instance: req.url,
    });
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return problem('bad-request', fe.statusCode, 'Bad request', fe.message, { instance: req.url });
  }
  return problem('internal-error', 500, 'Internal server error', 'an unexpected error occurred; it has been logged', {
    instance: req.url,
  });
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  // Also for problems sent before any hook ran (router errors): see noSniff in routes/plugins/logging.ts.
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).header('x-content-type-options', 'nosniff').send(body);
}

/** Characters that end a path inside a message (or start one): anything else continues a file name. */
const PATH_EDGE = `[\\s"'\`,;:()[\\]{}<>=]`;
/** After a directory: the end, a separator, an edge, or a full stop that ends the sentence (`… in /srv/data.`). */
const AFTER_PATH = `(?=$|/|${PATH_EDGE}|\\.(?:$|\\s))`;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The directory and, when it differs (a symlinked DATA_DIR), the real path it resolves to. */
function spellings(dir: string): string[] {
  const plain = dir.replace(/\/+$/, '');
  try {
    const real = fs.realpathSync(plain);
    return real === plain ? [plain] : [plain, real];
  } catch {
    return [plain];
  }
}

/**
 * Server paths outside the data roots never reach a client: DATA_DIR (uploads, temp
 * directories, artifacts) and LOADERS_DIR are shown by their variable name, in every
 * string of the problem body (a detail, a hint, a path member). Only a whole path
 * prefix is replaced, at a path boundary: with DATA_DIR=/srv/data, `/srv/datasets/x`
 * (another directory whose name merely starts the same) stays as it is. Paths under a
 * `shown` directory (the data roots, which GET /v1/info lists anyway) are left whole,
 * even inside DATA_DIR. Returns the redactor (its pattern is built once).
 */
export function serverPathRedactor(dirs: Record<string, string>, shown: readonly string[] = []): (body: ProblemBody) => ProblemBody {
  const named = Object.entries(dirs)
    .flatMap(([name, dir]) => spellings(dir).map((d) => [d, name] as const))
    .filter(([d]) => d.length > 1)
    // Longest first: a LOADERS_DIR inside DATA_DIR is named as itself.
    .sort((a, b) => b[0].length - a[0].length);
  if (named.length === 0) return (body) => body;
  const nameOf = new Map(named);
  const pattern = new RegExp(`(?<=^|${PATH_EDGE})(?:${named.map(([d]) => escapeRegExp(d)).join('|')})${AFTER_PATH}`, 'g');
  const shownAt = shown.map((root) => new RegExp(`^${escapeRegExp(root.replace(/\/+$/, ''))}${AFTER_PATH}`));
  const scrubText = (text: string) =>
    text.replace(pattern, (dir: string, at: number) => (shownAt.some((r) => r.test(text.slice(at))) ? dir : `$${nameOf.get(dir)}`));
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') return scrubText(v);
    if (Array.isArray(v)) return v.map(scrub);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
    return v;
  };
  return (body) => scrub(body) as ProblemBody;
}
