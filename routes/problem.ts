/**
 * RFC 9457 problem details for every error the API returns. One stable `type` per
 * failure; `detail` says what to fix.
 */
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
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/**
 * Server paths outside the data roots never reach a client: DATA_DIR (uploads, temp
 * directories, artifacts) and LOADERS_DIR are shown by their variable name, in every
 * string of the problem body (a detail, a hint, a path member).
 */
export function redactServerPaths(body: ProblemBody, dirs: Record<string, string>): ProblemBody {
  const pairs = Object.entries(dirs)
    .filter(([, dir]) => dir.length > 1)
    .sort((a, b) => b[1].length - a[1].length);
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') return pairs.reduce((text, [name, dir]) => text.split(dir).join(`$${name}`), v);
    if (Array.isArray(v)) return v.map(scrub);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
    return v;
  };
  return scrub(body) as ProblemBody;
}
