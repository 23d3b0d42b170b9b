/**
 * Structured logs and request ids. Logs are pino JSON (fastify's logger). Every request
 * has an id: the caller's `X-Request-Id` when it is a sane token (so a trace spans the
 * training client, the proxy and this service), else a random UUID; it is echoed in the
 * `X-Request-Id` response header, tags every log line of the request (`reqId`), and is
 * stored in the data of the featurization jobs the request creates, so worker logs and
 * GET /v1/jobs/{id} name it too. Credentials never reach the logs: the Authorization
 * and Cookie headers are redacted wherever a header object is logged
 * (src/services/logging.ts).
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_ID = /^[A-Za-z0-9._:@\/+=-]{1,128}$/;

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
