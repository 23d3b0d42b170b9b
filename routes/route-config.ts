/**
 * What a route declares about itself, in its options' `config` (fastify's per-route
 * config; the plugins read it from req.routeOptions.config):
 *
 * - `scope`: who may call it (plugins/auth.ts): 'public', 'read' or 'admin' (admin
 *   implies read). A route that declares nothing needs read for GET, HEAD and OPTIONS
 *   and admin for anything else, so a new mutating route is admin-only until it says
 *   otherwise.
 * - `basicAuth`: the route also takes HTTP Basic credentials with the token as password
 *   (browsers opening the queue board).
 * - `stream`: the response is long-lived: 'batches' (an epoch stream) or 'events'
 *   (server-sent events). Both get STREAM_IDLE_TIMEOUT_MS instead of
 *   CONNECTION_TIMEOUT_MS (plugins/timeouts.ts); event streams are closed when shutdown
 *   begins (plugins/shutdown.ts), since they would never end on their own.
 * - `accepts` / `bodyRequired`: the body's media types (plugins/media-types.ts: 415 otherwise).
 * - `bodyOptional`: a request without a body is validated as `{}` (every field optional).
 */
import type { FastifyInstance } from 'fastify';
import type { Scope } from '../src/services/config.ts';

export type Requirement = 'public' | Scope;

export interface AudiofeedRouteConfig {
  scope?: Requirement;
  basicAuth?: boolean;
  stream?: 'batches' | 'events';
  /** Media types the body may have (plugins/media-types.ts); default application/json. */
  accepts?: readonly string[];
  /** A request without Content-Type is 415 (the body is required). */
  bodyRequired?: boolean;
  /** A request without a body is validated (and handled) as the empty object. */
  bodyOptional?: boolean;
}

declare module 'fastify' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FastifyContextConfig extends AudiofeedRouteConfig {}
}

/** The scope a request needs: the route's declaration, else read for GET/HEAD/OPTIONS, admin otherwise. */
export function requiredScope(method: string, declared: Requirement | undefined): Requirement {
  if (declared !== undefined) return declared;
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 'read' : 'admin';
}

/**
 * A URL prefix where a third-party plugin registers routes that cannot carry our config
 * (swagger-ui's /docs, bull-board's /admin/queues): the mount declares for all of them,
 * and for URLs under the prefix that match no route (their 404 needs the same scope).
 */
export interface Mount {
  prefix: string;
  config: AudiofeedRouteConfig;
}

/** Declares the mount's config on every route registered from now on in `app`'s scope (and its children) that declares none. */
export function declareForRoutesOf(app: FastifyInstance, mount: Mount): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...mount.config, ...route.config };
  });
}

/** The mount a path (without query) lies under, if any. */
export function mountOf(path: string, mounts: readonly Mount[]): Mount | undefined {
  return mounts.find((m) => path === m.prefix || path.startsWith(m.prefix + '/'));
}
