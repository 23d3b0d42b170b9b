/**
 * Serves the dashboard: GET / (the page) and GET /dashboard/{file} (its script, style
 * sheet and source map), from web/dist, built when missing or stale (web/build.ts).
 * The files hold no data (so both routes are public): everything the page shows comes
 * from the /v1 API, called with the token the user enters (Authorization: Bearer).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError } from '../src/core/errors.ts';
import { ensureDashboardAssets, type DashboardAsset } from '../web/build.ts';

/**
 * The page talks only to its own origin and shows images and audio from blob: URLs it
 * made from API responses; nothing inline, no third party.
 */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' blob:",
  "media-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function send(req: FastifyRequest, reply: FastifyReply, file: DashboardAsset) {
  reply
    .header('content-type', file.contentType)
    .header('etag', file.etag)
    .header('cache-control', 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.send(file.body);
}

const dashboard: FastifyPluginAsync = async (app) => {
  const assets = await ensureDashboardAssets((msg) => app.log.warn(msg));
  app.log.debug({ build: assets.hash, origin: assets.origin }, 'dashboard assets ready');

  app.get('/', { config: { scope: 'public' }, schema: { tags: ['service'], summary: 'The web dashboard (HTML)' } }, async (req, reply) => {
    reply.header('content-security-policy', PAGE_CSP).header('x-frame-options', 'DENY');
    return send(req, reply, assets.files.get('index.html')!);
  });

  app.get(
    '/dashboard/:file',
    {
      config: { scope: 'public' },
      schema: {
        tags: ['service'],
        summary: "The dashboard's script and style sheet",
        params: { type: 'object', properties: { file: { type: 'string', maxLength: 64 } }, required: ['file'], additionalProperties: false },
      },
    },
    async (req, reply) => {
      const name = (req.params as { file: string }).file;
      const file = name === 'index.html' ? undefined : assets.files.get(name);
      if (!file) throw new NotFoundError('asset', `the dashboard has no file ${JSON.stringify(name)}`);
      return send(req, reply, file);
    },
  );
};

export default dashboard;
