/**
 * Rate limiting (@fastify/rate-limit): RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS
 * per client address, off when RATE_LIMIT_MAX is 0. It runs before authentication, so
 * guessing tokens counts too. Health checks and /metrics are exempt (orchestrators and
 * Prometheus poll them). Over the limit: 429 problem+json with Retry-After.
 */
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import { TooManyRequestsError } from '../../src/core/errors.ts';

const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

const limiter: FastifyPluginAsync<{ max: number; windowMs: number }> = async (app, { max, windowMs }) => {
  if (max <= 0) return;
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: windowMs,
    keyGenerator: (req) => req.ip,
    allowList: (req) => EXEMPT.has(req.url.split('?')[0]!),
    errorResponseBuilder: (_req, ctx) =>
      new TooManyRequestsError(`rate limit of ${ctx.max} requests per ${windowMs} ms exceeded; retry in ${ctx.after}`, {
        limit: ctx.max,
        window_ms: windowMs,
        retry_after_ms: ctx.ttl,
      }),
  });
};

export default fp(limiter, { name: 'audiofeed-rate-limit' });
