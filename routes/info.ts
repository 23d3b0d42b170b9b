/** Service information: version, which frontend backend and resampler run, configured loaders. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from './context.ts';
import { listLoaders } from '../src/services/registry/sources/loaders.ts';
import { resamplerStatus } from '../src/core/audio/index.ts';

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
            resampler: Type.Object(
              {
                res_type: Type.Union([Type.Literal('soxr_hq'), Type.Null()], {
                  description: "librosa's res_type this process resamples with, or null: clips at other rates are refused (501)",
                }),
                libsoxr_version: Type.Union([Type.String(), Type.Null()]),
                detail: Type.String({ description: "why there is no resampler ('' when there is one)" }),
              },
              { description: "This API process's resampler (workers log theirs at start)" },
            ),
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
      resampler: (({ engine, version, reason }) => ({
        res_type: engine === 'soxr' ? ('soxr_hq' as const) : null,
        libsoxr_version: version,
        detail: reason,
      }))(resamplerStatus()),
      loaders: listLoaders(ctx.config.loadersDir),
      data_roots: ctx.config.dataRoots,
    }),
  );
};
export default info;
