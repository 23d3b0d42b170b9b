/**
 * Structured logs and request ids. Logs are pino JSON (fastify's logger). Every request
 * has an id: the caller's `X-Request-Id` when it is a sane token (so a trace spans the
 * training client, the proxy and this service), else a random UUID; it is echoed in the
 * `X-Request-Id` response header, tags every log line of the request (`reqId`), and is
 * stored in the data of the featurization jobs the request creates, so worker logs and
 * GET /v1/jobs/{id} name it too. Credentials never reach the logs: the Authorization
 * and Cookie headers are redacted wherever a header object is logged
 * (src/services/logging.ts), and the value of every query parameter whose name looks like
 * a credential (`token`, `access_token`, `api_key`, `secret`, `password`, …) is replaced
 * by `[Redacted]` in the logged URL (requestSerializer, installed by routes/app.ts).
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Query parameter names whose values are credentials: never logged. */
export const SECRET_QUERY_PARAMETER = /token|key|secret|password|passwd|auth|credential|signature|session/i;

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** `url` with the value of every credential-like query parameter replaced by `[Redacted]` (the rest as sent). */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const redacted = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && SECRET_QUERY_PARAMETER.test(decodedName(name)) ? `${name}=[Redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${redacted}`;
}

/** fastify's request serializer (method, url, host, address, port), with the URL redacted. */
export function requestSerializer(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket ? req.socket.remotePort : undefined,
  };
}
const SANE_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

/**
 * `X-Content-Type-Options: nosniff` on every response (JSON, problems, streams, the
 * dashboard and its assets, the queue board): set on the raw response as the first
 * onRequest hook, so hijacked replies (batch streams, SSE) and early rejections carry it.
 */
export function noSniff(_req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.raw.setHeader('x-content-type-options', 'nosniff');
  done();
}

export function genReqId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const value = Array.isArray(given) ? given[0] : given;
  return value !== undefined && SANE_ID.test(value) ? value : crypto.randomUUID();
}

const requestIds: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', (req, reply, done) => {
    // On the raw response, so hijacked replies (server-sent events) carry it too.
    reply.raw.setHeader(REQUEST_ID_HEADER, req.id);
    done();
  });
};

export default fp(requestIds, { name: 'audiofeed-request-ids' });
