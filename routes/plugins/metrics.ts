/**
 * GET /metrics (Prometheus text format) and the request-duration hook. The registry
 * belongs to this app instance (src/metrics.ts).
 */
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { createAppMetrics } from '../../store/job-metrics.ts';
import type { AppContext } from '../app.ts';

const metrics: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const m = createAppMetrics({ redis: ctx.redis, queues: ctx.queues, prefix: ctx.config.keyPrefix, frontend: ctx.frontend.name });

  // Callback-style hooks: an async hook costs a promise per request on every route.
  app.addHook('onRequest', (req, reply, done) => {
    const start = process.hrtime.bigint();
    // 'close' also fires for hijacked replies (SSE) and aborted streams, unlike onResponse.
    reply.raw.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      m.observeRequest(req.routeOptions.url ?? 'unmatched', req.method, reply.raw.statusCode, seconds);
    });
    done();
  });

  app.get('/metrics', { schema: { tags: ['service'], summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    const body = await m.registry.metrics();
    return reply.type(m.registry.contentType).send(body);
  });
};

export default fp(metrics, { name: 'audiofeed-metrics' });
