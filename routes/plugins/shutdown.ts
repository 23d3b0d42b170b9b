/**
 * Graceful close of the HTTP side: fastify's close() stops accepting, answers requests
 * that arrive on kept-alive connections with 503, closes idle connections and waits for
 * in-flight requests and batch streams to finish. Server-sent event streams (routes that
 * declare `config.stream: 'events'`) would never finish on their own (they follow a
 * job), so they are closed when shutdown begins; an EventSource reconnects, to another
 * replica. The grace period and the exit code are
 * handled by the process (routes/server.ts).
 */
import fp from 'fastify-plugin';
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';

const shutdown: FastifyPluginAsync = async (app) => {
  const open = new Set<ServerResponse>();
  app.addHook('onRequest', (req, reply, done) => {
    if (req.routeOptions.config?.stream === 'events') {
      const res = reply.raw;
      open.add(res);
      res.once('close', () => open.delete(res));
    }
    done();
  });
  app.addHook('preClose', async () => {
    for (const res of open) res.destroy();
  });
};

export default fp(shutdown, { name: 'audiofeed-shutdown' });
