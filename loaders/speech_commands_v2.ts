/**
 * Built-in loader: unpacks a local Speech-Commands-style archive (a .tar.gz, .tar or
 * .zip with one directory per word, `<speaker>_nohash_<n>.wav` clips and an optional
 * `_background_noise_/`) once, and returns the directory with the Speech Commands v2
 * listing (speakers kept on one side of the split). MLTK's `speech_commands_v2`
 * module downloads the archive; this service never downloads, so the archive must lie
 * inside an allow-listed data root.
 *
 * options: { archive: string }   path of the archive (absolute, or relative to a root)
 *          { split?: "lists" }   use the archive's validation_list.txt / testing_list.txt
 *                                (listing speech_commands_lists) instead of MLTK's split
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DatasetError, ForbiddenPathError } from '../src/core/errors.ts';
import { isInside, rootOf } from '../src/services/registry/sources/directory.ts';
import { UploadBudget, datasetRootOf, detectArchive, extractArchive } from '../src/services/registry/sources/upload.ts';
import type { LoaderContext, LoaderResult } from '../src/services/registry/sources/loaders.ts';

export const listing = 'speech_commands_v2';

/** The listing the options ask for: `split: "lists"` takes the published list-file split. */
export function listingFor(options: Record<string, unknown>): 'speech_commands_v2' | 'speech_commands_lists' {
  const split = options.split;
  if (split === undefined || split === 'mltk') return listing;
  if (split === 'lists') return 'speech_commands_lists';
  throw new DatasetError('loader-options', `speech_commands_v2: options.split must be "mltk" (default) or "lists", got ${JSON.stringify(split)}`);
}

async function resolveArchive(given: unknown, roots: string[]): Promise<string> {
  if (typeof given !== 'string' || given === '') {
    throw new DatasetError('loader-options', 'speech_commands_v2 needs options.archive: the path of a local archive');
  }
  const candidates = path.isAbsolute(given) ? [path.resolve(given)] : roots.map((r) => path.resolve(r, given));
  for (const c of candidates) {
    if (!rootOf(c, roots)) continue;
    let real: string;
    try {
      real = await fsp.realpath(c);
    } catch {
      continue;
    }
    if (!rootOf(real, roots)) throw new ForbiddenPathError(`${given} resolves outside every data root`);
    return real;
  }
  if (!candidates.some((c) => rootOf(c, roots))) {
    throw new ForbiddenPathError(`${given} is outside every allow-listed data root`);
  }
  throw new DatasetError('loader-options', `archive ${given} does not exist under any data root`);
}

export async function load(options: Record<string, unknown>, ctx: LoaderContext): Promise<LoaderResult> {
  const chosen = listingFor(options);
  const archive = await resolveArchive(options.archive, ctx.dataRoots);
  const st = await fsp.stat(archive);
  const kind = await detectArchive(archive);
  if (!kind) throw new DatasetError('loader-options', `${options.archive} is not a zip, tar or tar.gz archive`);
  // Content-addressed by path, size and mtime: a changed archive unpacks anew.
  const key = crypto.createHash('sha256').update(`${archive}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 16);
  const target = path.join(ctx.workDir, key);
  const done = path.join(ctx.workDir, `${key}.complete`);
  if (fs.existsSync(done)) {
    const root = (await fsp.readFile(done, 'utf8')).trim();
    if (isInside(root, target) && fs.existsSync(root)) return { directory: root, listing: chosen };
  }
  const tmp = await fsp.mkdtemp(path.join(ctx.workDir, `.${key}-`));
  try {
    await extractArchive(archive, kind, tmp, new UploadBudget(ctx.limits));
    await fsp.rm(target, { recursive: true, force: true });
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const root = await datasetRootOf(target, []);
  await fsp.writeFile(done, root + '\n');
  ctx.log(`speech_commands_v2: unpacked ${archive} into ${root}`);
  return { directory: root, listing: chosen };
}
