/**
 * Request bodies by media type: every route that takes a body says which types it
 * accepts (`config.accepts`; default `application/json` for POST, PUT, PATCH and DELETE),
 * and anything else is 415 `unsupported-media-type` listing them, before a byte of the
 * body is parsed. A request without a body and without Content-Type passes (the route's
 * schema decides whether a body was required), except where `config.bodyRequired`; where
 * `config.bodyOptional`, such a request is validated as `{}`.
 */
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { AudiofeedError } from '../../src/core/errors.ts';

export class UnsupportedMediaTypeError extends AudiofeedError {
  constructor(got: string | undefined, accepted: readonly string[]) {
    super(
      'unsupported-media-type',
      415,
      'Unsupported media type',
      `${got ? `Content-Type ${JSON.stringify(got)} is not accepted here` : 'a Content-Type is required'}: send ${accepted.join(' or ')}`,
      { accepted: [...accepted] },
    );
  }
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const len = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

const mediaTypes: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', async (req) => {
    if (!BODY_METHODS.has(req.method)) return;
    const config = req.routeOptions.config ?? {};
    const accepts = config.accepts ?? ['application/json'];
    const raw = req.headers['content-type'];
    if (raw === undefined || raw.trim() === '') {
      if (config.bodyRequired || hasBody(req.headers)) throw new UnsupportedMediaTypeError(undefined, accepts);
      return;
    }
    const type = raw.split(';')[0]!.trim().toLowerCase();
    if (!accepts.includes(type)) throw new UnsupportedMediaTypeError(raw, accepts);
  });
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.routeOptions.config?.bodyOptional) req.body = {};
  });
};

export default fp(mediaTypes, { name: 'media-types' });
