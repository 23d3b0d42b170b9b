/**
 * Liveness (`/healthz`: the process answers) and readiness (`/readyz`: a stream request
 * will be served: Redis answers AND at least one featurization worker, in-process or
 * `npm run worker`, is connected to the queues). Public.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from './context.ts';
import { problem, sendProblem } from './problem.ts';

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

const health: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const Status = Type.Object({ status: Type.String(), workers: Type.Optional(Type.Integer()) });
  const config = { scope: 'public' } as const;
  app.get('/healthz', { config, schema: { tags: ['service'], response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config, schema: { tags: ['service'], response: { 200: Status } } }, async (_req, reply) => {
    let detail = 'Redis does not answer';
    try {
      if (await within(ctx.storeAnswers(), 1000)) {
        const workers = await within(ctx.queue.workersConnected('shards'), 1000);
        if (workers > 0) return { status: 'ready', workers };
        detail = 'no featurization worker is connected yet (in-process workers starting, or run `npm run worker`)';
      }
    } catch {
      // reported below
    }
    return sendProblem(reply, problem('not-ready', 503, 'Not ready', detail, { instance: '/readyz' }));
  });
};
export default health;
