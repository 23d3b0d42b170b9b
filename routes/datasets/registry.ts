/**
 * /v1/datasets and /v1/datasets/{id}: the registry (MLTK AudioDatasetMixin). Register
 * (JSON: directory or loader source; multipart: ./upload.ts), list, read, delete, MLTK's
 * load / unload / reindex, the summary, class counts and weights, and the index files
 * (download, or pin a shuffled index). Thin: validate, call the registry service, reply.
 */
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { BadRequestError, InvalidSettingsError, NotFoundError } from '../../src/core/errors.ts';
import { DEFAULT_MAX_LIST_FILE_BYTES, readTextBounded } from '../../src/core/datasets/text-files.ts';
import { SubsetName } from '../../src/core/schemas.ts';
import { packIndex, unpackIndex } from '../../src/services/registry/index-artifact.ts';
import { RegisterBody, type RegisterBodyT } from '../../src/services/registry/schemas.ts';
import { loadedKinds, loadsOf } from '../../src/services/registry/loads.ts';
import { standardizationOf } from '../../src/services/registry/settings.ts';
import type { DatasetRecord } from '../../src/services/registry/types.ts';
import type { AppContext } from '../context.ts';
import { PageQueryFields, linkNextPage, pageOf } from '../pagination.ts';
import { ClassCounts, DatasetView, IdParams, LoadQuery } from './schemas.ts';
import { receiveUpload } from './upload.ts';

export function datasetView(rec: DatasetRecord) {
  const fe = rec.settings.frontend_settings;
  return {
    id: rec.id,
    status: rec.status,
    created_at: rec.created_at,
    updated_at: rec.updated_at,
    source: rec.source as Record<string, unknown>,
    dataset_dir: rec.dataset_dir,
    listing: rec.settings.listing,
    audio_classes: rec.settings.classes,
    audio_input_shape: rec.audio_input_shape,
    sample_rate_hz: fe.sample_rate_hz,
    sample_length_ms: fe.sample_length_ms,
    class_mode: rec.settings.class_mode,
    frontend_enabled: rec.settings.frontend_enabled,
    frontend_settings: fe as unknown as Record<string, unknown>,
    loaded_subset: rec.loaded_subset,
    loaded_subsets: loadedKinds(rec),
    loads: loadsOf(rec) as Record<string, Record<string, unknown>>,
    class_counts: rec.class_counts as Record<string, Record<string, number>>,
    class_weights: rec.class_weights,
    index: rec.index as unknown as Record<string, unknown>,
    validation_data: (rec.validation_data ?? null) as unknown as Record<string, unknown> | null,
    // Records registered before standardization existed show its effective (off) values too.
    settings: { ...rec.settings, ...standardizationOf(rec.settings) } as unknown as Record<string, unknown>,
    warnings: rec.warnings,
  };
}

/**
 * A training subset was just loaded: the first batches of its augmented epoch 0 are queued
 * now (EpochService.precomputeHead), so a trainer's first request finds them computed. In
 * the background: never delays or fails the answer.
 */
function precomputeAugmentedHead(ctx: AppContext, req: FastifyRequest, rec: DatasetRecord): DatasetRecord {
  if (rec.settings.augmentation && rec.status === 'ready') {
    void (async () => ctx.epochs.precomputeHead(rec, await ctx.registry.subsets(rec.id), req.id))().catch((err: Error) =>
      req.log.warn({ err: err.message }, `augmented epoch 0 of ${rec.id} not precomputed`),
    );
  }
  return rec;
}

function wantsJson(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return /application\/(json|problem\+json)/.test(accept) && !/text\/plain/.test(accept.split(',')[0] ?? '');
}

const registryRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const registry = ctx.registry;
  const tags = ['datasets'];
  const read = { scope: 'read' } as const;
  const admin = { scope: 'admin' } as const;

  app.post(
    '/',
    {
      config: { scope: 'admin', accepts: ['application/json', 'multipart/form-data'], bodyRequired: true },
      schema: {
        tags,
        summary: 'Register a dataset (JSON: directory or loader source; multipart: upload)',
        body: {
          content: {
            'application/json': { schema: RegisterBody },
          },
        },
        response: { 201: DatasetView },
      },
    },
    async (req, reply) => {
      if (req.isMultipart()) {
        const rec = precomputeAugmentedHead(ctx, req, await receiveUpload(req, ctx));
        return reply.code(201).header('location', `/v1/datasets/${rec.id}`).send(datasetView(rec));
      }
      const body = req.body as RegisterBodyT;
      const rec =
        body.source.type === 'directory'
          ? await registry.registerDirectory(body as RegisterBodyT & { source: { type: 'directory' } })
          : await registry.registerLoader(body as RegisterBodyT & { source: { type: 'loader' } });
      precomputeAugmentedHead(ctx, req, rec);
      return reply.code(201).header('location', `/v1/datasets/${rec.id}`).send(datasetView(rec));
    },
  );

  app.get(
    '/',
    {
      config: read,
      schema: {
        tags,
        summary: 'The registered datasets, oldest first, a page at a time (Link: rel="next" while there are more)',
        querystring: Type.Object(PageQueryFields, { additionalProperties: false }),
        response: { 200: Type.Object({ datasets: Type.Array(DatasetView), total: Type.Integer({ description: 'Datasets registered' }) }) },
      },
    },
    async (req, reply) => {
      const page = pageOf(req.query);
      const { records, total } = await registry.page(page.offset, page.limit);
      linkNextPage(req, reply, page, total);
      return { datasets: records.map(datasetView), total };
    },
  );

  // The hottest metadata read: its JSON is made once per record object (the store hands
  // out the same object while it is cached), not once per request.
  const viewJson = new WeakMap<DatasetRecord, string>();
  app.get('/:id', { config: read, schema: { tags, params: IdParams, response: { 200: DatasetView } } }, async (req, reply) => {
    const rec = await registry.get(req.params.id);
    let json = viewJson.get(rec);
    if (json === undefined) {
      json = JSON.stringify(datasetView(rec));
      viewJson.set(rec, json);
    }
    // A string payload is sent as is; the response schema still documents the shape.
    return reply.type('application/json; charset=utf-8').send(json as unknown as ReturnType<typeof datasetView>);
  });

  app.delete(
    '/:id',
    {
      config: admin,
      schema: {
        tags,
        params: IdParams,
        querystring: Type.Object({ purge: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      await registry.delete(req.params.id, req.query.purge ?? false);
      return reply.code(204).send();
    },
  );

  app.post(
    '/:id/unload',
    {
      config: { ...admin, bodyOptional: true },
      schema: {
        tags,
        summary: 'MLTK unload_dataset(): forget the load of one subset ({"subset": …}), or of every subset (no body)',
        params: IdParams,
        body: Type.Object({ subset: Type.Optional(SubsetName) }, { additionalProperties: false }),
        response: { 200: DatasetView },
      },
    },
    async (req) => datasetView(await registry.unload(req.params.id, req.body.subset)),
  );

  app.post(
    '/:id/load',
    {
      config: admin,
      schema: {
        tags,
        summary: 'MLTK load_dataset(subset): compute the subset from the index and add it to the loaded subsets',
        params: IdParams,
        body: Type.Object({ subset: SubsetName }, { additionalProperties: false }),
        response: { 200: DatasetView },
      },
    },
    async (req) => datasetView(precomputeAugmentedHead(ctx, req, await registry.load(req.params.id, req.body.subset))),
  );

  app.post(
    '/:id/reindex',
    {
      config: admin,
      schema: { tags, summary: 'Regenerate the index files from the directory as it is now and recompute every loaded subset', params: IdParams, response: { 200: DatasetView } },
    },
    async (req) => datasetView(precomputeAugmentedHead(ctx, req, await registry.reindex(req.params.id))),
  );

  app.get(
    '/:id/summary',
    {
      config: read,
      schema: {
        tags,
        summary:
          'summarize_dataset(): MLTK text (text/plain), or JSON with Accept: application/json; of the most recent load, or of the load of ?subset=',
        params: IdParams,
        querystring: LoadQuery,
      },
    },
    async (req, reply) => {
      const rec = await registry.get(req.params.id);
      const kind = req.query.subset;
      const text = kind ? registry.loadOf(rec, kind).summary : rec.summary;
      if (wantsJson(req)) {
        const featurization = ctx.features.summary(rec, await registry.subsets(rec.id));
        return reply.send({ text, ...registry.summaryJson(rec, kind), featurization });
      }
      return reply.type('text/plain; charset=utf-8').send(text);
    },
  );

  app.get(
    '/:id/class-counts',
    {
      config: read,
      schema: {
        tags,
        summary: 'Class counts per subset: of the most recent load, or of the load of ?subset=',
        params: IdParams,
        querystring: LoadQuery,
        response: { 200: Type.Record(Type.String(), ClassCounts) },
      },
    },
    async (req) => {
      const rec = await registry.get(req.params.id);
      return req.query.subset ? registry.loadOf(rec, req.query.subset).class_counts : rec.class_counts;
    },
  );

  app.get('/:id/class-weights', { config: read, schema: { tags, params: IdParams } }, async (req) => {
    const rec = await registry.get(req.params.id);
    if (!rec.class_weights) {
      return {
        value: null,
        log: '',
        warning: loadedKinds(rec).includes('training') ? null : 'class weights are computed by a training load',
      };
    }
    return rec.class_weights;
  });

  app.get(
    '/:id/index',
    {
      config: read,
      schema: {
        tags,
        summary:
          'The index files as a tar archive (.index/<class>.txt; with validation_data also validation_data/.index/<class>.txt), or JSON with Accept: application/json',
        params: IdParams,
      },
    },
    async (req, reply) => {
      const rec = await registry.get(req.params.id);
      const v = rec.validation_data?.index?.dir ? rec.validation_data.index : null;
      // A validation_data registration loaded for validation or evaluation only has listed
      // the validation dir alone: its index is the download.
      if (!rec.index.dir && !v) throw new NotFoundError('index', `dataset ${rec.id} has no index files (it is not loaded)`);
      if (wantsJson(req)) {
        const read = async (list: string[]) => {
          const files: Record<string, string> = {};
          for (const f of list) {
            // Index files may be a dataset's own (MLTK reuses them): bounded, and never waited on (a FIFO is a 422).
            const text = await readTextBounded(f, DEFAULT_MAX_LIST_FILE_BYTES, 'index file');
            if (text !== null) files[path.basename(f)] = text;
          }
          return files;
        };
        const files = await read(rec.index.dir ? rec.index.files : []);
        if (!v) return { location: rec.index.location, files };
        return { location: rec.index.location, files, validation_data: { location: v.location, files: await read(v.files) } };
      }
      return reply
        .type('application/x-tar')
        .header('content-disposition', `attachment; filename="${rec.id}-index.tar"`)
        .send(await packIndex(rec.index.dir || undefined, v?.dir, registry.tmpDir));
    },
  );

  app.addContentTypeParser(['application/x-tar', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: 256 * 1024 * 1024 }, (_req, body, done) =>
    done(null, body),
  );

  app.put(
    '/:id/index',
    {
      config: { ...admin, accepts: ['application/x-tar', 'application/octet-stream'], bodyRequired: true },
      schema: {
        tags,
        summary: 'Pin a shuffled index (a tar from GET …/index) and reload with it',
        params: IdParams,
        response: { 200: DatasetView },
      },
    },
    async (req) => {
      const rec = await registry.get(req.params.id);
      if (!rec.settings.shuffle_dataset_enabled) {
        throw new InvalidSettingsError(
          'only a shuffled index can be pinned: this dataset uses the alphabetical index, which is derived from the directory',
        );
      }
      if (!Buffer.isBuffer(req.body)) throw new BadRequestError('index-archive-required', 'send the index as a tar archive (Content-Type: application/x-tar)');
      const dirs = registry.datasetDirsOf(rec);
      await unpackIndex(req.body, dirs.shuffleIndexDir, path.join(registry.tmpDir), dirs.validationData?.shuffleIndexDir);
      return datasetView(await registry.reload(rec.id));
    },
  );
};

export default registryRoutes;
