/**
 * The index artifact as a download: `.index/<class>.txt` files (plus any sidecar the
 * index writer keeps there) packed as a tar, and the reverse for pinning a shuffled
 * index. Only plain files directly inside `.index/` are accepted back.
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

/** Tar of `<dir>/.index`, buffered (index files are small: one line per clip). */
export async function packIndex(dir: string): Promise<Buffer> {
  const names = (await fsp.readdir(path.join(dir, '.index'))).sort().map((n) => `.index/${n}`);
  const chunks: Buffer[] = [];
  const stream = tarCreate({ cwd: dir, portable: true, noMtime: true }, names) as unknown as Readable;
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function unpackIndex(archive: Buffer, shuffleIndexDir: string, tmpRoot: string): Promise<string[]> {
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
    const top = await fsp.readdir(out);
    if (top.length !== 1 || top[0] !== '.index') {
      throw new BadRequestError('invalid-index-archive', 'the archive must contain only a .index/ folder of <class>.txt files');
    }
    const files = await fsp.readdir(path.join(out, '.index'), { withFileTypes: true });
    if (files.length === 0 || files.some((f) => !f.isFile())) {
      throw new BadRequestError('invalid-index-archive', '.index/ must hold only files, at least one');
    }
    for (const f of files) await checkIndexFile(path.join(out, '.index', f.name), f.name);
    // Replace the whole .index folder in one rename so readers never see a mix.
    await fsp.mkdir(shuffleIndexDir, { recursive: true });
    const staged = path.join(shuffleIndexDir, `.index.pinned-${process.pid}-${Date.now()}`);
    await fsp.rename(path.join(out, '.index'), staged);
    const old = path.join(shuffleIndexDir, '.index');
    const trash = `${old}.old-${process.pid}-${Date.now()}`;
    if (fs.existsSync(old)) await fsp.rename(old, trash);
    await fsp.rename(staged, old);
    await fsp.rm(trash, { recursive: true, force: true });
    return files.map((f) => f.name).sort();
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
