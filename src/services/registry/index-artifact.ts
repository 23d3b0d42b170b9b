/**
 * The index artifact as a download: `.index/<class>.txt` files (plus any sidecar the
 * index writer keeps there) packed as a tar, and the reverse for pinning a shuffled
 * index. Only plain files directly inside `.index/` are accepted back.
 *
 * Tar layout: `.index/<file>` is the training dataset dir's index; with validation_data,
 * `validation_data/.index/<file>` is the validation dir's (same class names, own files).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create as tarCreate } from 'tar';
import { BadRequestError, InvalidSettingsError } from '../../core/errors.ts';
import { escapedName, hasControlCharacter } from '../../core/datasets/names.ts';
import { UploadBudget, extractArchive, detectArchive } from './sources/upload.ts';

export const VALIDATION_DATA_PREFIX = 'validation_data';

async function tarOf(cwd: string, names: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const stream = tarCreate({ cwd, portable: true, noMtime: true }, names) as unknown as Readable;
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Tar of `<dir>/.index` (and `<validationDir>/.index` as `validation_data/.index`),
 * buffered (index files are small: one line per clip). Without `dir` (a validation_data
 * registration that has listed only its validation dir) the tar holds the validation
 * dir's index alone.
 */
export async function packIndex(dir: string | undefined, validationDir?: string, tmpRoot?: string): Promise<Buffer> {
  if (!dir && !validationDir) throw new Error('packIndex needs a dir');
  const names = dir ? (await fsp.readdir(path.join(dir, '.index'))).sort().map((n) => `.index/${n}`) : [];
  if (!validationDir) return tarOf(dir!, names);
  // Two source dirs: stage copies under one root so the archive has one layout.
  const stage = await fsp.mkdtemp(path.join(tmpRoot ?? dir ?? validationDir, 'index-pack-'));
  try {
    if (dir) await fsp.cp(path.join(dir, '.index'), path.join(stage, '.index'), { recursive: true });
    await fsp.cp(path.join(validationDir, '.index'), path.join(stage, VALIDATION_DATA_PREFIX, '.index'), { recursive: true });
    const vnames = (await fsp.readdir(path.join(stage, VALIDATION_DATA_PREFIX, '.index'))).sort().map((n) => `${VALIDATION_DATA_PREFIX}/.index/${n}`);
    return await tarOf(stage, [...names, ...vnames]);
  } finally {
    await fsp.rm(stage, { recursive: true, force: true });
  }
}

/** Replaces `<target>/.index` by `<from>` in one rename so readers never see a mix. */
async function pin(from: string, target: string): Promise<void> {
  const files = await fsp.readdir(from, { withFileTypes: true });
  if (files.length === 0 || files.some((f) => !f.isFile())) {
    throw new BadRequestError('invalid-index-archive', '.index/ must hold only files, at least one');
  }
  await fsp.mkdir(target, { recursive: true });
  const staged = path.join(target, `.index.pinned-${process.pid}-${Date.now()}`);
  await fsp.rename(from, staged);
  const old = path.join(target, '.index');
  const trash = `${old}.old-${process.pid}-${Date.now()}`;
  if (fs.existsSync(old)) await fsp.rename(old, trash);
  await fsp.rename(staged, old);
  await fsp.rm(trash, { recursive: true, force: true });
}

/**
 * Unpacks a pinned index: `.index/` into `shuffleIndexDir`, and with validation_data an
 * optional `validation_data/.index/` into `validationShuffleIndexDir`.
 */
export async function unpackIndex(archive: Buffer, shuffleIndexDir: string, tmpRoot: string, validationShuffleIndexDir?: string): Promise<string[]> {
  const tmp = await fsp.mkdtemp(path.join(tmpRoot, 'index-'));
  try {
    const file = path.join(tmp, 'index.tar');
    await pipeline(Readable.from([archive]), fs.createWriteStream(file));
    const kind = await detectArchive(file);
    if (kind !== 'tar' && kind !== 'tar.gz') {
      throw new BadRequestError('invalid-archive', 'the index must be a tar (or tar.gz) archive as GET /v1/datasets/{id}/index returns it');
    }
    const out = path.join(tmp, 'out');
    await fsp.mkdir(out);
    await extractArchive(file, kind, out, new UploadBudget({ maxBytes: archive.length, maxFiles: 100_000, maxUnpackedBytes: 1024 ** 3 }));
    const top = (await fsp.readdir(out)).sort();
    const allowed = validationShuffleIndexDir ? ['.index', VALIDATION_DATA_PREFIX] : ['.index'];
    if (!top.includes('.index') || top.some((t) => !allowed.includes(t))) {
      throw new BadRequestError(
        'invalid-index-archive',
        validationShuffleIndexDir
          ? 'the archive must contain a .index/ folder of <class>.txt files and optionally validation_data/.index/, nothing else'
          : 'the archive must contain only a .index/ folder of <class>.txt files',
      );
    }
    let vdir: string | null = null;
    if (top.includes(VALIDATION_DATA_PREFIX)) {
      const inner = await fsp.readdir(path.join(out, VALIDATION_DATA_PREFIX));
      if (inner.length !== 1 || inner[0] !== '.index') {
        throw new BadRequestError('invalid-index-archive', 'validation_data/ must contain only a .index/ folder');
      }
      vdir = path.join(out, VALIDATION_DATA_PREFIX, '.index');
    }
    const names = (await fsp.readdir(path.join(out, '.index'))).sort();
    const vnames = vdir ? (await fsp.readdir(vdir)).sort() : [];
    // Check both before pinning either: only files, at least one, every line a path inside the dataset.
    for (const d of vdir ? [path.join(out, '.index'), vdir] : [path.join(out, '.index')]) {
      const files = await fsp.readdir(d, { withFileTypes: true });
      if (files.length === 0 || files.some((f) => !f.isFile())) {
        throw new BadRequestError('invalid-index-archive', '.index/ must hold only files, at least one');
      }
      for (const f of files) await checkIndexFile(path.join(d, f.name), d === vdir ? `${VALIDATION_DATA_PREFIX}/${f.name}` : f.name);
    }
    await pin(path.join(out, '.index'), shuffleIndexDir);
    if (vdir && validationShuffleIndexDir) await pin(vdir, validationShuffleIndexDir);
    return [...names, ...vnames.map((n) => `${VALIDATION_DATA_PREFIX}/${n}`)];
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * A pinned index file must name files inside the dataset: relative, `/`-separated, no
 * `..`, no control character. Anything else is a 422 naming the file and line, before the
 * index is installed (never a silent regeneration).
 */
async function checkIndexFile(file: string, name: string): Promise<void> {
  const lines = (await fsp.readFile(file, 'utf8')).split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const why = path.posix.isAbsolute(line) || /^[A-Za-z]:[\\/]/.test(line)
      ? 'an absolute path'
      : line.split(/[\\/]/).includes('..')
        ? 'a path that leaves the dataset (..)'
        : hasControlCharacter(line)
          ? 'a name with a control character'
          : null;
    if (why) {
      throw new InvalidSettingsError(`.index/${name} line ${i + 1} is ${why}: ${escapedName(line)}; index entries are paths relative to the dataset directory`, {
        file: `.index/${name}`,
        line: i + 1,
      });
    }
  });
}
