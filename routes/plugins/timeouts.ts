/**
 * Server timeouts, so slow or idle connections cannot hold sockets and memory:
 *
 * - HEADERS_TIMEOUT_MS: the request headers must arrive within this (slowloris); Node
 *   answers 408 and closes. REQUEST_TIMEOUT_MS: the whole request, body included. Node
 *   checks both only while a request is being received: once headers and body are in,
 *   the connection leaves that list, so a long *response* (an epoch stream, SSE) is not
 *   subject to them. test/ops/timeouts.test.ts checks both sides.
 * - CONNECTION_TIMEOUT_MS: a socket that moves no byte in either direction for this
 *   long is closed (Node's socket timeout: a pending write that drains counts as
 *   progress, so a slow reader is fine; one that stops reading is not).
 * - STREAM_IDLE_TIMEOUT_MS replaces it for the routes that declare `config.stream`
 *   (batch streams and server-sent events), which may legitimately send nothing while a
 *   shard is featurized.
 * - KEEP_ALIVE_TIMEOUT_MS: idle keep-alive connections are closed after this.
 */
import fp from 'fastify-plugin';
import type { ServerOptions } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../src/services/config.ts';

export interface ServerTimeoutOptions {
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  http: ServerOptions;
}

export function serverTimeoutOptions(config: Config): ServerTimeoutOptions {
  const limits = [config.headersTimeoutMs, config.requestTimeoutMs].filter((v) => v > 0);
  return {
    connectionTimeout: config.connectionTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // Node checks the header/request deadlines on this interval (default 30 s): keep it
      // a fraction of the shortest deadline so they hold to within about a quarter.
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(Math.min(...limits) / 4))),
    },
  };
}

const streamTimeouts: FastifyPluginAsync<{ streamIdleTimeoutMs: number }> = async (app, { streamIdleTimeoutMs }) => {
  app.addHook('onRequest', (req, _reply, done) => {
    // Only this request: Node resets the socket timeout when the next request on a kept-alive connection begins.
    const socket = req.raw.socket as { setTimeout?: (ms: number) => unknown } | undefined;
    // (Injected requests have a stand-in socket without timers.)
    if (req.routeOptions.config?.stream && typeof socket?.setTimeout === 'function') socket.setTimeout(streamIdleTimeoutMs);
    done();
  });
};

export default fp(streamTimeouts, { name: 'audiofeed-stream-timeouts' });
