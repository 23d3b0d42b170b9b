/**
 * Optional bearer-token authentication (API_TOKENS). Each route declares who may call
 * it (`config: { scope }`, routes/route-config.ts); today:
 *
 * - public: /healthz, /readyz, /docs and the dashboard's static page (GET /, /dashboard/*);
 * - admin: changing the registry (register, delete, unload, load, reindex, pin an
 *   index), cancelling jobs, and the queue board (/admin/queues);
 * - read (admin implies read): everything else, including starting a featurization and
 *   uploading sample weights (a training client needs both, and streaming batches starts
 *   the same featurization anyway), POST /v1/features and /metrics.
 *
 * A route that declares nothing needs read for GET/HEAD/OPTIONS and admin for any other
 * method, so a new mutating route is admin-only until it declares otherwise. Routes that
 * third-party plugins register (swagger-ui, bull-board) get their scope from the plugin
 * that mounts them (routes/app.ts, plugins/queue-board.ts), and so do URLs under such a
 * mount that match no route (a 404 under /docs is public, under /admin/queues admin).
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
import { mountOf, requiredScope, type Mount } from '../route-config.ts';

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

const auth: FastifyPluginAsync<{ tokens: ApiToken[]; mounts: readonly Mount[] }> = async (app, { tokens, mounts }) => {
  if (tokens.length === 0) return;
  app.addHook('onRequest', async (req, reply) => {
    // CORS preflights never carry credentials; @fastify/cors answers them.
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) return;
    const config = req.routeOptions.url === undefined ? mountOf(req.url.split('?')[0]!, mounts)?.config : req.routeOptions.config;
    const need = requiredScope(req.method, config?.scope);
    if (need === 'public') return;
    const board = config?.basicAuth === true;
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
