/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: Redis answers). */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from './app.ts';
import { problem, sendProblem } from './problem.ts';

const health: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const Status = Type.Object({ status: Type.String() });
  app.get('/healthz', { schema: { tags: ['service'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['service'], response: { 200: Status } } }, async (_req, reply) => {
    try {
      const pong = await Promise.race([
        ctx.redis.ping(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000)),
      ]);
      if (pong === 'PONG') return { status: 'ready' };
    } catch {
      // reported below
    }
    return sendProblem(reply, problem('not-ready', 503, 'Not ready', 'Redis does not answer', { instance: '/readyz' }));
  });
};
export default health;
