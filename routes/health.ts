/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: Redis answers). Public. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from './context.ts';
import { problem, sendProblem } from './problem.ts';

const health: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const Status = Type.Object({ status: Type.String() });
  const config = { scope: 'public' } as const;
  app.get('/healthz', { config, schema: { tags: ['service'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config, schema: { tags: ['service'], response: { 200: Status } } }, async (_req, reply) => {
    try {
      const ok = await Promise.race([
        ctx.storeAnswers(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000)),
      ]);
      if (ok) return { status: 'ready' };
    } catch {
      // reported below
    }
    return sendProblem(reply, problem('not-ready', 503, 'Not ready', 'Redis does not answer', { instance: '/readyz' }));
  });
};
export default health;
