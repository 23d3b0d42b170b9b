/**
 * /v1/jobs: featurization progress for dashboards (JSON and server-sent events) and
 * cancellation.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../app.ts';
import { jobProgress } from '../../jobs/progress.ts';
import { cancelKey } from '../../jobs/queues.ts';
import { NotFoundError } from '../../src/core/errors.ts';

const JobParams = Type.Object({ id: Type.String({ pattern: '^featurize-[a-f0-9]{32}$' }) }, { additionalProperties: false });
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

const jobs: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const isCancelled = async (id: string) => (await ctx.redis.exists(cancelKey(ctx.config.keyPrefix, id))) === 1;

  app.get('/:id', { schema: { tags: ['jobs'], params: JobParams } }, async (req) => {
    const cancelled = await isCancelled(req.params.id);
    try {
      const progress = await jobProgress(ctx.queues, req.params.id, cancelled);
      // The request that created the flow (X-Request-Id): the key to its API and worker logs.
      const job = await ctx.queues.featurize.getJob(req.params.id);
      return { ...progress, request_id: job?.data.requestId ?? null };
    } catch (err) {
      // A cancelled flow is removed from the queue; its id still answers.
      if (err instanceof NotFoundError && cancelled) return { id: req.params.id, state: 'cancelled', cancelled: true };
      throw err;
    }
  });

  app.get(
    '/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Server-sent events: a `progress` event on every change, then `done`',
        params: JobParams,
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      // Fail before the event stream starts, with a proper status, if the job is unknown.
      let last = JSON.stringify(await jobProgress(ctx.queues, id, await isCancelled(id)));
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let open = true;
      req.raw.on('close', () => (open = false));
      res.write(`event: progress\ndata: ${last}\n\n`);
      let ticks = 0;
      while (open) {
        await new Promise((r) => setTimeout(r, 250));
        if (!open) break;
        let p;
        try {
          p = await jobProgress(ctx.queues, id, await isCancelled(id));
        } catch (err) {
          const gone = err instanceof NotFoundError;
          res.write(`event: error\ndata: ${JSON.stringify({ detail: gone ? 'the job was removed' : (err as Error).message })}\n\n`);
          break;
        }
        const json = JSON.stringify(p);
        if (json !== last) {
          res.write(`event: progress\ndata: ${json}\n\n`);
          last = json;
        } else if (++ticks % 60 === 0) {
          res.write(': keep-alive\n\n');
        }
        if (TERMINAL.has(p.state)) {
          res.write(`event: done\ndata: ${json}\n\n`);
          break;
        }
      }
      res.end();
    },
  );

  app.delete('/:id', { schema: { tags: ['jobs'], params: JobParams } }, async (req, reply) => {
    const id = req.params.id;
    const job = await ctx.queues.featurize.getJob(id);
    if (!job) throw new NotFoundError('job', `no featurization job ${JSON.stringify(id)}`);
    const state = await job.getState();
    if (state === 'completed') return reply.code(200).send(await jobProgress(ctx.queues, id, false));
    await ctx.redis.set(cancelKey(ctx.config.keyPrefix, id), '1', 'EX', 7 * 24 * 3600);
    await ctx.queues.removeFlow(job);
    return reply.code(202).send({ id, state: 'cancelled' });
  });
};

export default jobs;
