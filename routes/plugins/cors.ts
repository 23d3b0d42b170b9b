/**
 * CORS (@fastify/cors) for dashboards served from other origins: CORS_ORIGINS is a
 * comma list of origins (`*` for any); unset, no CORS headers are sent and browsers keep
 * other origins out. Bearer tokens, not cookies: credentials mode stays off.
 */
import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import type { FastifyPluginAsync } from 'fastify';

const corsPlugin: FastifyPluginAsync<{ origins: string[] }> = async (app, { origins }) => {
  if (origins.length === 0) return;
  await app.register(cors, {
    origin: origins.includes('*') ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'accept', 'x-request-id', 'last-event-id'],
    exposedHeaders: [
      'x-request-id',
      'location',
      'link',
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'x-audiofeed-batches',
      'x-audiofeed-from-batch',
      'x-audiofeed-columns',
      'x-audiofeed-x-shape',
      'x-audiofeed-dtype',
      'x-audiofeed-dataset-version',
    ],
    maxAge: 600,
  });
};

export default fp(corsPlugin, { name: 'audiofeed-cors' });
