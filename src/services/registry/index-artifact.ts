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
import { BadRequestError } from '../../core/errors.ts';
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
