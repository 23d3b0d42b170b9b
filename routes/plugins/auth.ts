/**
 * Optional bearer-token authentication (API_TOKENS). When tokens are configured, every
 * route except /healthz, /readyz, /docs and the dashboard's static page (GET /,
 * /dashboard/*) needs `Authorization: Bearer <token>`:
 *
 * - admin scope: changing the registry (register, delete, unload, load, reindex, pin an
 *   index), cancelling jobs, and the queue board (/admin/queues);
 * - read scope (admin implies read): everything else, including starting a
 *   featurization and uploading sample weights (a training client needs both, and
 *   streaming batches starts the same featurization anyway), POST /v1/features and
 *   /metrics.
 *
 * A route not listed below needs read for GET/HEAD and admin for any other method, so a
 * new mutating route is admin-only until it is listed as read here.
 *
 * Tokens are kept as SHA-256 digests and compared with crypto.timingSafeEqual over
 * equal-length digests, against every configured token (no early exit). The board also
 * takes HTTP Basic credentials with the token as password, so a browser can open it.
 */
import crypto from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiToken, Scope } from '../../src/services/config.ts';
import { ForbiddenError, UnauthorizedError } from '../../src/core/errors.ts';

export type Requirement = 'public' | Scope;

/** Health checks, and the dashboard's page and assets (static files, no data: the page calls /v1 with the user's token). */
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/', '/dashboard/:file']);
export const BOARD_PREFIX = '/admin/queues';

const ADMIN_ROUTES = new Set([
  'POST /v1/datasets',
  'DELETE /v1/datasets/:id',
  'POST /v1/datasets/:id/unload',
  'POST /v1/datasets/:id/load',
  'POST /v1/datasets/:id/reindex',
  'PUT /v1/datasets/:id/index',
  'DELETE /v1/jobs/:id',
]);

/** Non-GET routes that read scope may call. */
const READ_MUTATIONS = new Set(['POST /v1/datasets/:id/featurize', 'POST /v1/datasets/:id/sample-weights', 'POST /v1/features']);

function normalise(url: string): string {
  return url.length > 1 ? url.replace(/\/+$/, '') : url;
}

/** What a request to `url` (a route pattern, or the raw path when no route matched) needs. */
export function requiredScope(method: string, url: string): Requirement {
  const path = normalise(url.split('?')[0]!);
  const read = method === 'GET' || method === 'HEAD';
  if ((read && PUBLIC_ROUTES.has(path)) || path === '/docs' || path.startsWith('/docs/')) return 'public';
  if (path === BOARD_PREFIX || path.startsWith(BOARD_PREFIX + '/')) return 'admin';
  const m = method === 'HEAD' ? 'GET' : method;
  const key = `${m} ${path}`;
  if (ADMIN_ROUTES.has(key)) return 'admin';
  if (m === 'GET' || m === 'OPTIONS' || READ_MUTATIONS.has(key)) return 'read';
  return 'admin';
}

function presentedToken(req: FastifyRequest, allowBasic: boolean): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const bearer = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
  if (bearer) return bearer[1]!;
  const basic = allowBasic ? /^Basic[ ]+([A-Za-z0-9+/=]+)[ ]*$/i.exec(header) : null;
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return '';
}

/** Scope of the token, or null. Compares against every token so timing does not tell which matched. */
export function scopeOf(token: string, tokens: ApiToken[]): Scope | null {
  const digest = crypto.createHash('sha256').update(token).digest();
  let scope: Scope | null = null;
  for (const t of tokens) {
    if (crypto.timingSafeEqual(digest, t.digest) && scope !== 'admin') scope = t.scope;
  }
  return scope;
}

function challenge(reply: FastifyReply, board: boolean, extra = ''): void {
  reply.header('www-authenticate', `Bearer realm="audiofeed"${extra}` + (board ? ', Basic realm="audiofeed"' : ''));
}

const auth: FastifyPluginAsync<{ tokens: ApiToken[] }> = async (app, { tokens }) => {
  if (tokens.length === 0) return;
  app.addHook('onRequest', async (req, reply) => {
    // CORS preflights never carry credentials; @fastify/cors answers them.
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) return;
    const need = requiredScope(req.method, req.routeOptions.url ?? req.url);
    if (need === 'public') return;
    const board = need === 'admin' && (req.routeOptions.url ?? req.url).startsWith(BOARD_PREFIX);
    const token = presentedToken(req, board);
    if (token === null) {
      challenge(reply, board);
      throw new UnauthorizedError('this route needs a token: send Authorization: Bearer <token>');
    }
    const scope = token === '' ? null : scopeOf(token, tokens);
    if (scope === null) {
      challenge(reply, board, ', error="invalid_token"');
      throw new UnauthorizedError('the token is not valid (Authorization: Bearer <token>, a token from API_TOKENS)');
    }
    if (need === 'admin' && scope !== 'admin') {
      reply.header('www-authenticate', 'Bearer realm="audiofeed", error="insufficient_scope", scope="admin"');
      throw new ForbiddenError('this route needs a token with admin scope', { required_scope: 'admin' });
    }
  });
};

export default fp(auth, { name: 'audiofeed-auth' });
