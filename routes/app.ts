/**
 * Builds the fastify application (no listen): plugins, schemas, error handling and the
 * route plugins, one folder or file per resource. Tests drive it with app.inject();
 * routes/server.ts starts it. Everything it needs comes in the context
 * (routes/compose.ts builds it).
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { loggerOptions } from '../src/services/logging.ts';
import type { AppContext } from './context.ts';
import { PROBLEM_CONTENT_TYPE, problem, sendProblem, serverPathRedactor, toProblem } from './problem.ts';
import { declareForRoutesOf, type Mount } from './route-config.ts';
import { clientErrorHandler, frameworkErrors, rejectLongUrls } from './client-errors.ts';
import { refuseUnknownQueryParameters, validatorCompiler } from './validation.ts';
import requestIds, { genReqId, noSniff, requestSerializer } from './plugins/logging.ts';
import metricsPlugin from './plugins/metrics.ts';
import corsPlugin from './plugins/cors.ts';
import rateLimitPlugin from './plugins/rate-limit.ts';
import authPlugin from './plugins/auth.ts';
import streamTimeouts, { serverTimeoutOptions } from './plugins/timeouts.ts';
import shutdownPlugin from './plugins/shutdown.ts';
import mediaTypes from './plugins/media-types.ts';
import queueBoard, { BOARD_MOUNT } from './plugins/queue-board.ts';
import healthRoutes from './health.ts';
import infoRoutes from './info.ts';
import datasetRoutes from './datasets/index.ts';
import jobRoutes from './jobs/index.ts';
import featureRoutes from './features/index.ts';
import dashboard from './dashboard.ts';

/** The OpenAPI page and document: public. */
const DOCS_MOUNT: Mount = { prefix: '/docs', config: { scope: 'public' } };

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

/** TRUST_PROXY as a hop count: the n proxies nearest the server are believed (what fastify does with a number). */
function trustHops(n: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < n;
}

export async function buildApp(ctx: AppContext, opts: FastifyServerOptions = {}): Promise<App> {
  const app = Fastify({
    // Logged URLs have credential-like query parameters redacted (routes/plugins/logging.ts).
    ...(opts.loggerInstance ? {} : { logger: opts.logger ?? { ...loggerOptions(ctx.config.logLevel), serializers: { req: requestSerializer } } }),
    // X-Request-Id is honoured (when sane) and echoed: routes/plugins/logging.ts.
    requestIdHeader: false,
    // req.ip (rate limit, stream share, logs) from X-Forwarded-For of these proxies only (TRUST_PROXY).
    trustProxy: typeof ctx.config.trustProxy === 'number' ? trustHops(ctx.config.trustProxy) : ctx.config.trustProxy,
    genReqId,
    ...serverTimeoutOptions(ctx.config),
    // 408/414/431/400 answered before routing are problem+json too (routes/client-errors.ts).
    clientErrorHandler,
    frameworkErrors,
    ...opts,
    // A logger given by the caller gets the same request serializer (its own serializers win over fastify's).
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance.child({}, { serializers: { req: requestSerializer } }) } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());

  const redact = serverPathRedactor({ DATA_DIR: ctx.config.dataDir, LOADERS_DIR: ctx.config.loadersDir }, ctx.config.dataRoots);
  app.setErrorHandler((err: Error, req, reply) => {
    const body = redact(toProblem(err, req));
    const retryAfter = (err as { retryAfterS?: unknown }).retryAfterS;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    if (body.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ type: body.type, detail: body.detail }, 'request rejected');
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, problem('route-not-found', 404, 'Not found', `no route ${req.method} ${req.url.split('?')[0]}`, { instance: req.url })),
  );

  // Order matters: these hooks run for every route registered after them.
  app.addHook('onRequest', noSniff);
  app.addHook('onRequest', rejectLongUrls);
  app.addHook('onRoute', refuseUnknownQueryParameters);
  await app.register(requestIds);
  await app.register(metricsPlugin, {
    source: ctx.metrics,
    frontend: ctx.frontend.name,
    stats: { streams: ctx.streamBudget.stats, registry: ctx.registry.rebuildStats },
    dsp: () => ctx.dsp.stats(),
  });
  await app.register(corsPlugin, { origins: ctx.config.corsOrigins });
  await app.register(rateLimitPlugin, { max: ctx.config.rateLimitMax, windowMs: ctx.config.rateLimitWindowMs });
  await app.register(authPlugin, { tokens: ctx.config.apiTokens, mounts: [DOCS_MOUNT, BOARD_MOUNT] });
  await app.register(streamTimeouts, { streamIdleTimeoutMs: ctx.config.streamIdleTimeoutMs });
  await app.register(shutdownPlugin);
  await app.register(mediaTypes);

  await app.register(multipart, {
    limits: {
      fileSize: ctx.config.uploadMaxBytes,
      files: ctx.config.uploadMaxFiles,
      fields: 16,
      fieldSize: 1024 * 1024,
      parts: ctx.config.uploadMaxFiles + 16,
    },
    // Keep the relative paths of uploaded files (busboy strips them by default).
    preservePath: true,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'audiofeed',
        version: ctx.version,
        description:
          'MLTK-exact audio datasets and bit-exact microfrontend spectrograms for training clients. ' +
          `Errors are ${PROBLEM_CONTENT_TYPE} (RFC 9457).`,
      },
      tags: [
        { name: 'datasets', description: 'Dataset registry (MLTK AudioDatasetMixin)' },
        { name: 'jobs', description: 'Featurization jobs (BullMQ flows)' },
        { name: 'service', description: 'Health and service information' },
      ],
      // Enforced only when API_TOKENS is set (routes/plugins/auth.ts).
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
  });
  await app.register(async (docs) => {
    declareForRoutesOf(docs, DOCS_MOUNT);
    await docs.register(swaggerUi, { routePrefix: DOCS_MOUNT.prefix });
  });

  await app.register(healthRoutes, { ctx });
  await app.register(infoRoutes, { ctx });
  await app.register(datasetRoutes, { ctx, prefix: '/v1/datasets' });
  await app.register(jobRoutes, { ctx, prefix: '/v1/jobs' });
  await app.register(queueBoard, { queues: ctx.boardQueues() });
  await app.register(featureRoutes, { ctx, prefix: '/v1/features' });
  await app.register(dashboard);
  return app;
}
