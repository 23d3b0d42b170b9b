/**
 * Upload registration (multipart POST /v1/datasets): the first part is `settings` (JSON,
 * as the JSON body minus `source`; a field or a file part: ../settings-part.ts), then either one archive (zip, tar,
 * tar.gz: detected by content) or many files whose filenames are paths relative to the
 * dataset directory (`yes/a.wav`). Entries are unpacked into a private temp directory
 * with every name and size checked (src/services/registry/sources/upload.ts), and the
 * registry takes the tree only once all of it is there.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import { BadRequestError, PayloadTooLargeError } from '../../src/core/errors.ts';
import { UploadSettings, type UploadSettingsT } from '../../src/services/registry/schemas.ts';
import { UploadBudget, datasetRootOf, detectArchive, extractArchive, writeUploadedFile } from '../../src/services/registry/sources/upload.ts';
import type { DatasetRecord } from '../../src/services/registry/types.ts';
import type { AppContext } from '../context.ts';
import { isSettingsPart, readSettingsPart } from '../settings-part.ts';
import { jsonValidator } from '../validation.ts';

/** The settings part is checked like a JSON body, its errors told the same way (`settings/…`). */
const checkUploadSettings = jsonValidator<UploadSettingsT>(UploadSettings, 'settings');

export async function receiveUpload(req: FastifyRequest, ctx: AppContext): Promise<DatasetRecord> {
  const registry = ctx.registry;
  const parts = req.parts();
  const first = await parts.next();
  if (first.done || !isSettingsPart(first.value)) {
    throw new BadRequestError('upload-settings-first', 'the first multipart part must be `settings` (JSON), followed by the files');
  }
  const parsed = await readSettingsPart(first.value);
  if (parsed === undefined) throw new BadRequestError('malformed-json', 'the settings part is empty: it must be the registration settings (JSON)');
  const settings = checkUploadSettings(parsed);
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

