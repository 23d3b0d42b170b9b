/**
 * /v1/jobs: the featurizations (a filtered, paginated list), their progress for
 * dashboards (JSON and server-sent events) and cancellation. Thin: the queue facade owns
 * the job vocabulary (src/services/ports.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../../src/core/errors.ts';
import type { AppContext } from '../context.ts';
import { linkNextPage, pageOf } from '../pagination.ts';
import { JobListQuery, JobParams } from './schemas.ts';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

const jobs: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['jobs'],
        summary: 'Featurization jobs of every dataset, newest first (progress as GET /v1/jobs/{id}); Link: rel="next" while there are more',
        querystring: JobListQuery,
      },
    },
    async (req, reply) => {
      const page = pageOf(req.query);
      const { jobs, total } = await ctx.features.list({ datasetId: req.query.dataset, states: req.query.state }, page.offset, page.limit);
      linkNextPage(req, reply, page, total);
      return { jobs, total };
    },
  );

  app.get('/:id', { config: { scope: 'read' }, schema: { tags: ['jobs'], params: JobParams } }, async (req) => ctx.features.status(req.params.id));

  app.get(
    '/:id/events',
    {
      config: { scope: 'read', stream: 'events' },
      schema: {
        tags: ['jobs'],
        summary: 'Server-sent events: a `progress` event on every change, then `done`',
        params: JobParams,
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      // Fail before the event stream starts, with a proper status, if the job is unknown.
      let last = JSON.stringify(await ctx.queue.jobProgress(id));
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
          p = await ctx.queue.jobProgress(id);
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

  app.delete('/:id', { config: { scope: 'admin' }, schema: { tags: ['jobs'], params: JobParams } }, async (req, reply) => {
    const outcome = await ctx.queue.cancel(req.params.id);
    if (!outcome.cancelled) return reply.code(200).send(outcome.progress);
    return reply.code(202).send({ id: req.params.id, state: 'cancelled' });
  });
};

export default jobs;
