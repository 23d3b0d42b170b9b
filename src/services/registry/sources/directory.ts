/**
 * Directory sources: a dataset directory must resolve inside an allow-listed root, and
 * no symbolic link the listing could follow may lead outside that root.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DatasetError, ForbiddenPathError } from '../../../core/errors.ts';

export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export function rootOf(p: string, roots: string[]): string | null {
  return roots.find((r) => isInside(p, r)) ?? null;
}

/**
 * Resolves a client-given directory. Relative paths are taken relative to each root in
 * turn. Containment is checked on the lexical path first (so nothing outside the roots
 * is even probed) and again on the real path (so a symlink cannot smuggle it out).
 * The result is normalised: absolute, no trailing separator (MLTK Q-01, fixed).
 */
export async function resolveDatasetDirectory(given: string, roots: string[]): Promise<{ dir: string; root: string }> {
  if (given.includes('\0')) throw new ForbiddenPathError('the path contains a NUL byte');
  if (roots.length === 0) {
    throw new ForbiddenPathError('no data roots are configured (set DATA_ROOTS), so no directory can be registered');
  }
  const candidates = path.isAbsolute(given) ? [path.resolve(given)] : roots.map((r) => path.resolve(r, given));
  const inside = candidates.filter((c) => rootOf(c, roots) !== null);
  if (inside.length === 0) {
    throw new ForbiddenPathError(`${given} is outside every allow-listed data root (${roots.join(', ')})`, {
      roots,
    });
  }
  let lastErr: NodeJS.ErrnoException | null = null;
  for (const candidate of inside) {
    let real: string;
    try {
      real = await fsp.realpath(candidate);
    } catch (err) {
      lastErr = err as NodeJS.ErrnoException;
      continue;
    }
    const root = rootOf(real, roots);
    if (!root) {
      throw new ForbiddenPathError(`${given} resolves (through a symbolic link) to ${real}, outside every data root`);
    }
    const st = await fsp.stat(real);
    if (!st.isDirectory()) {
      throw new DatasetError('not-a-directory', `${given} is not a directory`, { path: given });
    }
    try {
      await fsp.access(real, fs.constants.R_OK | fs.constants.X_OK);
      await fsp.readdir(real);
    } catch {
      throw new DatasetError('directory-unreadable', `${given} cannot be read by the service (permissions)`, {
        path: given,
      });
    }
    return { dir: real, root };
  }
  if (lastErr?.code === 'EACCES') {
    throw new DatasetError('directory-unreadable', `${given} cannot be read by the service (permissions)`, { path: given });
  }
  throw new DatasetError('directory-not-found', `${given} does not exist under any data root`, { path: given });
}

/**
 * Walks the dataset directory the way the listing will (descending into directory
 * links only with followLinks) and refuses any symbolic link whose target lies outside
 * `root`. Dangling links are allowed: MLTK lists them and they fail per clip.
 */
export async function assertLinksStayInside(dir: string, root: string, followLinks: boolean): Promise<void> {
  const escapes: string[] = [];
  const onPath = new Set<string>();
  const walk = async (abs: string, rel: string): Promise<void> => {
    const real = await fsp.realpath(abs);
    if (onPath.has(real)) return; // a cycle: the listing skips it too (Q-05 fix)
    onPath.add(real);
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(abs, { withFileTypes: true });
    } catch {
      onPath.delete(real);
      return; // unreadable sub-directories are the listing's business
    }
    for (const e of entries) {
      const childAbs = path.join(abs, e.name);
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) {
        let target: string;
        try {
          target = await fsp.realpath(childAbs);
        } catch {
          continue; // dangling
        }
        if (!isInside(target, root)) {
          escapes.push(childRel);
          if (escapes.length >= 20) break;
          continue;
        }
        if (followLinks && (await fsp.stat(childAbs)).isDirectory()) await walk(childAbs, childRel);
      } else if (e.isDirectory()) {
        await walk(childAbs, childRel);
      }
      if (escapes.length >= 20) break;
    }
    onPath.delete(real);
  };
  await walk(dir, '');
  if (escapes.length > 0) {
    throw new ForbiddenPathError(
      `symbolic links in the dataset lead outside the data root ${root}: ${escapes.join(', ')}`,
      { links: escapes },
    );
  }
}

/** A directory with no sub-directory at all cannot hold a class: say so before MLTK's per-class errors. */
export async function assertHasClassDirectories(dir: string): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  if (entries.length === 0) {
    throw new DatasetError('empty-directory', `the dataset directory ${dir} is empty`, { path: dir });
  }
  if (!entries.some((e) => e.isDirectory() || e.isSymbolicLink())) {
    throw new DatasetError(
      'no-class-directories',
      `the dataset directory ${dir} holds no class sub-directories (expected one directory per class)`,
      { path: dir },
    );
  }
}

