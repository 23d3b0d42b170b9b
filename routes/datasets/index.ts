/**
 * /v1/datasets: the registry. Thin: validate, call src/registry, reply.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { MultipartFile } from '@fastify/multipart';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { AppContext } from '../app.ts';
import { BadRequestError, InvalidSettingsError, NotFoundError, PayloadTooLargeError } from '../../src/core/errors.ts';
import {
  ClassCounts,
  DatasetView,
  IdParams,
  LoadKind,
  RegisterBody,
  UploadSettings,
  type RegisterBodyT,
  type UploadSettingsT,
} from '../../src/services/registry/schemas.ts';
import { UploadBudget, datasetRootOf, detectArchive, extractArchive, writeUploadedFile } from '../../src/services/registry/sources/upload.ts';
import { packIndex, unpackIndex } from '../../src/services/registry/index-artifact.ts';
import type { DatasetRecord } from '../../src/services/registry/types.ts';
import { planSubset } from '../../src/services/features/plan.ts';
import { featurizationState } from '../../src/services/features/skipped.ts';
import { featureSpecOf } from '../../src/services/epochs/epoch-plan.ts';

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
    class_counts: rec.class_counts as Record<string, Record<string, number>>,
    class_weights: rec.class_weights,
    index: rec.index as unknown as Record<string, unknown>,
    settings: rec.settings as unknown as Record<string, unknown>,
    warnings: rec.warnings,
  };
}

const uploadSettingsCheck = Compile(UploadSettings);

function wantsJson(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return /application\/(json|problem\+json)/.test(accept) && !/text\/plain/.test(accept.split(',')[0] ?? '');
}

const datasets: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const registry = ctx.registry;
  const tags = ['datasets'];

  app.post(
    '/',
    {
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
        const rec = await receiveUpload(req, ctx);
        return reply.code(201).header('location', `/v1/datasets/${rec.id}`).send(datasetView(rec));
      }
      const body = req.body as RegisterBodyT;
      const rec =
        body.source.type === 'directory'
          ? await registry.registerDirectory(body as RegisterBodyT & { source: { type: 'directory' } })
          : await registry.registerLoader(body as RegisterBodyT & { source: { type: 'loader' } });
      return reply.code(201).header('location', `/v1/datasets/${rec.id}`).send(datasetView(rec));
    },
  );

  app.get('/', { schema: { tags, response: { 200: Type.Object({ datasets: Type.Array(DatasetView) }) } } }, async () => ({
    datasets: (await registry.list()).map(datasetView),
  }));

  // The hottest metadata read: its JSON is made once per record object (the store hands
  // out the same object while it is cached), not once per request.
  const viewJson = new WeakMap<DatasetRecord, string>();
  app.get('/:id', { schema: { tags, params: IdParams, response: { 200: DatasetView } } }, async (req, reply) => {
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

  app.post('/:id/unload', { schema: { tags, params: IdParams, response: { 200: DatasetView } } }, async (req) =>
    datasetView(await registry.unload(req.params.id)),
  );

  app.post(
    '/:id/load',
    {
      schema: {
        tags,
        summary: 'MLTK load_dataset(subset): recompute the subsets from the index',
        params: IdParams,
        body: Type.Object({ subset: LoadKind }, { additionalProperties: false }),
        response: { 200: DatasetView },
      },
    },
    async (req) => datasetView(await registry.load(req.params.id, req.body.subset)),
  );

  app.post(
    '/:id/reindex',
    { schema: { tags, summary: 'Regenerate the index files from the directory as it is now', params: IdParams, response: { 200: DatasetView } } },
    async (req) => datasetView(await registry.reindex(req.params.id)),
  );

  app.get(
    '/:id/summary',
    {
      schema: {
        tags,
        summary: 'summarize_dataset(): MLTK text (text/plain), or JSON with Accept: application/json',
        params: IdParams,
      },
    },
    async (req, reply) => {
      const rec = await registry.get(req.params.id);
      if (wantsJson(req)) {
        const subsets = await registry.subsets(rec.id);
        const featurization: Record<string, unknown> = {};
        for (const name of ['training', 'validation'] as const) {
          const subset = subsets[name];
          if (!subset) continue;
          const state = featurizationState(planSubset(rec.dataset_dir, subset.entries, featureSpecOf(rec), ctx.featuresDir));
          featurization[name] = { shards_done: state.shardsDone, shards_total: state.shardsTotal, skipped_clips: state.skipped };
        }
        return reply.send({ text: rec.summary, ...registry.summaryJson(rec), featurization });
      }
      return reply.type('text/plain; charset=utf-8').send(rec.summary);
    },
  );

  app.get(
    '/:id/class-counts',
    { schema: { tags, params: IdParams, response: { 200: Type.Record(Type.String(), ClassCounts) } } },
    async (req) => (await registry.get(req.params.id)).class_counts,
  );

  app.get('/:id/class-weights', { schema: { tags, params: IdParams } }, async (req) => {
    const rec = await registry.get(req.params.id);
    if (!rec.class_weights) {
      return {
        value: null,
        log: '',
        warning: rec.loaded_subset === 'training' ? null : 'class weights are computed by a training load',
      };
    }
    return rec.class_weights;
  });

  app.get(
    '/:id/samples',
    {
      schema: {
        tags,
        params: IdParams,
        querystring: Type.Object(
          {
            subset: Type.Optional(Type.Union([Type.Literal('training'), Type.Literal('validation')])),
            offset: Type.Optional(Type.Integer({ minimum: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const rec = await registry.get(req.params.id);
      const subsetName = req.query.subset ?? 'training';
      const subsets = await registry.subsets(req.params.id);
      const subset = subsets[subsetName];
      if (!subset) {
        throw new NotFoundError('subset', `dataset ${rec.id} has no ${subsetName} subset loaded (loaded: ${rec.loaded_subset ?? 'nothing'})`);
      }
      const offset = req.query.offset ?? 0;
      const limit = req.query.limit ?? 100;
      const items = subset.entries.slice(offset, offset + limit).map((entry, i) => ({
        index: offset + i,
        entry,
        label: subset.labels[offset + i]!,
        class: rec.settings.classes[subset.labels[offset + i]!]!,
      }));
      return { subset: subsetName, total: subset.entries.length, offset, items };
    },
  );

  app.get(
    '/:id/index',
    {
      schema: {
        tags,
        summary: 'The index files (.index/<class>.txt) as a tar archive, or JSON with Accept: application/json',
        params: IdParams,
      },
    },
    async (req, reply) => {
      const rec = await registry.get(req.params.id);
      if (!rec.index.dir) throw new NotFoundError('index', `dataset ${rec.id} has no index files (it is not loaded)`);
      if (wantsJson(req)) {
        const files: Record<string, string> = {};
        for (const f of rec.index.files) {
          if (fs.existsSync(f)) files[path.basename(f)] = await fsp.readFile(f, 'utf8');
        }
        return { location: rec.index.location, files };
      }
      return reply
        .type('application/x-tar')
        .header('content-disposition', `attachment; filename="${rec.id}-index.tar"`)
        .send(await packIndex(rec.index.dir));
    },
  );

  app.addContentTypeParser(['application/x-tar', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: 256 * 1024 * 1024 }, (_req, body, done) =>
    done(null, body),
  );

  app.put(
    '/:id/index',
    {
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
      await unpackIndex(req.body, registry.dirsFor(rec.dataset_dir).shuffleIndexDir, path.join(registry.tmpDir));
      return datasetView(await registry.load(rec.id, rec.loaded_subset ?? 'training'));
    },
  );
};

/**
 * Multipart registration: the first part is the `settings` field (JSON, as the JSON body
 * minus `source`), then either one archive (zip, tar, tar.gz) or many files whose
 * filenames are paths relative to the dataset directory (`yes/a.wav`).
 */
async function receiveUpload(req: FastifyRequest, ctx: AppContext): Promise<DatasetRecord> {
  const registry = ctx.registry;
  const parts = req.parts();
  const first = await parts.next();
  if (first.done || first.value.type !== 'field' || first.value.fieldname !== 'settings') {
    throw new BadRequestError('upload-settings-first', 'the first multipart part must be the field `settings` (JSON), followed by the files');
  }
  let settings: UploadSettingsT;
  try {
    settings = JSON.parse(String(first.value.value)) as UploadSettingsT;
  } catch (err) {
    throw new BadRequestError('malformed-json', `the settings part is not valid JSON: ${(err as Error).message}`);
  }
  if (!uploadSettingsCheck.Check(settings)) {
    const errors = [...uploadSettingsCheck.Errors(settings)].slice(0, 10);
    throw new BadRequestError('validation-error', `settings ${errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`, {
      errors: errors.map((e) => ({ location: `settings${e.instancePath}`, message: e.message })),
    });
  }
  const id = await registry.reserveId(settings.name);
  const tmp = await fsp.mkdtemp(path.join(registry.tmpDir, 'upload-'));
  const budget = new UploadBudget({
    maxBytes: ctx.config.uploadMaxBytes,
    maxFiles: ctx.config.uploadMaxFiles,
    maxUnpackedBytes: ctx.config.uploadMaxUnpackedBytes,
  });
  try {
    const filesDir = path.join(tmp, 'files');
    await fsp.mkdir(filesDir);
    const names: string[] = [];
    for await (const part of parts) {
      if (part.type !== 'file') {
        throw new BadRequestError('unexpected-field', `unexpected field ${JSON.stringify(part.fieldname)}: only \`settings\` and files are accepted`);
      }
      const file = part as MultipartFile;
      if (!file.filename) throw new BadRequestError('unsafe-upload-entry', 'a file part has no filename');
      await writeUploadedFile(filesDir, file.filename, file.file, budget, true);
      if (file.file.truncated) {
        throw new PayloadTooLargeError(`${file.filename} exceeds UPLOAD_MAX_BYTES (${ctx.config.uploadMaxBytes} bytes)`, {
          limit: ctx.config.uploadMaxBytes,
        });
      }
      names.push(file.filename);
    }
    if (names.length === 0) throw new BadRequestError('upload-empty', 'the upload holds no files');
    let tree = filesDir;
    let archive: 'zip' | 'tar' | 'tar.gz' | 'files' = 'files';
    if (names.length === 1) {
      const only = path.join(filesDir, names[0]!);
      const kind = await detectArchive(only);
      if (kind) {
        archive = kind;
        tree = path.join(tmp, 'tree');
        await fsp.mkdir(tree);
        budget.files = 0;
        budget.unpacked = 0;
        await extractArchive(only, kind, tree, budget);
      }
    }
    const root = await datasetRootOf(tree, settings.classes);
    return await registry.registerUpload(id, settings, root, { files: budget.files, bytes: budget.received, archive });
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

export default datasets;
