/**
 * The queue board (bull-board) for the featurize, featurize-shards and augment-batches queues, at
 * /admin/queues. Access: admin scope (src/http/plugins/auth.ts), by bearer token or, in
 * a browser, HTTP Basic with the admin token as password.
 */
import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FeatureQueues } from '../../jobs/queues.ts';
import { BOARD_PREFIX } from './auth.ts';

const queueBoard: FastifyPluginAsync<{ queues: FeatureQueues }> = async (app, { queues }) => {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PREFIX);
  createBullBoard({
    queues: [new BullMQAdapter(queues.featurize), new BullMQAdapter(queues.shards), new BullMQAdapter(queues.augment)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'audiofeed' } },
  });
  const board = serverAdapter.registerPlugin() as unknown as FastifyPluginCallback;
  // bull-board installs its own error handler (plain JSON, 500 unless error.statusCode):
  // keep the app's, so 401/403/429 and the board's own errors are problem+json too.
  const keepAppErrorHandler: FastifyPluginCallback = (instance, opts, done) => {
    (instance as { setErrorHandler: unknown }).setErrorHandler = () => instance;
    board(instance, opts, done);
  };
  await app.register(keepAppErrorHandler, { prefix: BOARD_PREFIX });
};

export default queueBoard;
