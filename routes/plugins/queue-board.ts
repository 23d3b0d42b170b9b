/**
 * The queue board (bull-board) for the featurize, featurize-shards and augment-batches
 * queues, at /admin/queues. Access: admin scope, by bearer token or, in a browser, HTTP
 * Basic with the admin token as password (declared here for every board route).
 */
import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import type { BaseAdapter } from '@bull-board/api/baseAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { declareForRoutesOf, type Mount } from '../route-config.ts';

export const BOARD_PREFIX = '/admin/queues';
export const BOARD_MOUNT: Mount = { prefix: BOARD_PREFIX, config: { scope: 'admin', basicAuth: true } };

const queueBoard: FastifyPluginAsync<{ queues: BaseAdapter[] }> = async (app, { queues }) => {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PREFIX);
  createBullBoard({ queues, serverAdapter, options: { uiConfig: { boardTitle: 'audiofeed' } } });
  const board = serverAdapter.registerPlugin() as unknown as FastifyPluginCallback;
  // bull-board installs its own error handler (plain JSON, 500 unless error.statusCode):
  // keep the app's, so 401/403/429 and the board's own errors are problem+json too.
  const keepAppErrorHandler: FastifyPluginCallback = (instance, opts, done) => {
    declareForRoutesOf(instance, BOARD_MOUNT);
    (instance as { setErrorHandler: unknown }).setErrorHandler = () => instance;
    board(instance, opts, done);
  };
  await app.register(keepAppErrorHandler, { prefix: BOARD_PREFIX });
};

export default queueBoard;
