/** Service information: version, which frontend backend runs, configured loaders. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from './context.ts';
import { listLoaders } from '../src/services/registry/sources/loaders.ts';

const info: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/info',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['service'],
        response: {
          200: Type.Object({
            name: Type.String(),
            version: Type.String(),
            frontend_backend: Type.String(),
            loaders: Type.Array(Type.String()),
            data_roots: Type.Array(Type.String()),
          }),
        },
      },
    },
    async () => ({
      name: 'audiofeed',
      version: ctx.version,
      frontend_backend: ctx.frontend.name,
      loaders: listLoaders(ctx.config.loadersDir),
      data_roots: ctx.config.dataRoots,
    }),
  );
};
export default info;
