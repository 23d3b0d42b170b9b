/**
 * Generic sample listing (spec §3). MLTK re-walks the whole dataset tree once per
 * class and keeps files below `<dataset>/<class>/`; bucketing one walk by the first
 * path component gives the same result, so each requested top-level directory is
 * walked exactly once and the rest of the tree is never touched.
 *
 * Copied quirks: any non-directory whose lowercased name ends in `wav` counts,
 * hidden files/dirs are not skipped, dangling symlinks are listed, a symlinked
 * directory is entered only with `followLinks`. Fixed: with `followLinks`, a directory
 * whose real path is already on the current walk path (a symlink cycle) is skipped
 * instead of being followed until ELOOP.
 */
import fs from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { hasControlCharacter } from './names.ts';

export interface ClassListing {
  /** Entries relative to the dataset dir, `/`-separated, in walk order (unsorted). */
  entries: string[];
  /** Whether the walk entered `<dataset>/<class>` at all (Speech Commands writes no index otherwise). */
  entered: boolean;
  /**
   * Files and directories below the class whose name has a control character (a newline
   * would split an index line): not listed, not entered; relative to the dataset dir.
   */
  skipped: string[];
}

/** Chain of real paths of the directories on the current walk path. */
interface Ancestor {
  real: string;
  parent: Ancestor | null;
}

function onPath(chain: Ancestor | null, real: string): boolean {
  for (let a = chain; a; a = a.parent) if (a.real === real) return true;
  return false;
}

export function isSampleName(name: string): boolean {
  return name.toLowerCase().endsWith('wav');
}

interface DirTask {
  abs: string;
  rel: string;
  chain: Ancestor;
  out: string[];
  skipped: string[];
}

const WALK_CONCURRENCY = 16;

async function readDirSafe(abs: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(abs, { withFileTypes: true });
  } catch {
    // os.walk ignores unreadable directories (onerror=None).
    return [];
  }
}

async function statSafe(abs: string): Promise<import('node:fs').Stats | null> {
  try {
    return await fs.stat(abs);
  } catch {
    return null;
  }
}

/**
 * Lists the sample files of each named top-level directory of `datasetDir`.
 * Directories are read with bounded concurrency; the result per class is in an
 * unspecified but complete order (callers sort or permute it).
 */
export async function listClassEntries(
  datasetDir: string,
  names: readonly string[],
  followLinks: boolean,
): Promise<Map<string, ClassListing>> {
  const result = new Map<string, ClassListing>();
  const queue: DirTask[] = [];

  await Promise.all(
    names.map(async (name) => {
      const listing: ClassListing = { entries: [], entered: false, skipped: [] };
      result.set(name, listing);
      const abs = path.join(datasetDir, name);
      let lst;
      try {
        lst = await fs.lstat(abs);
      } catch {
        return; // a class whose directory does not exist has zero files
      }
      let isDir = lst.isDirectory();
      if (lst.isSymbolicLink()) {
        // os.walk sees a linked top-level dir but only enters it with followlinks.
        if (!followLinks) return;
        isDir = (await statSafe(abs))?.isDirectory() ?? false;
      }
      if (!isDir) return;
      let real: string;
      try {
        real = await fs.realpath(abs);
      } catch {
        return;
      }
      listing.entered = true;
      queue.push({ abs, rel: name, chain: { real, parent: null }, out: listing.entries, skipped: listing.skipped });
    }),
  );

  async function visit(task: DirTask): Promise<void> {
    const dirents = await readDirSafe(task.abs);
    for (const d of dirents) {
      const name = d.name;
      if (hasControlCharacter(name)) {
        if (d.isDirectory() || d.isSymbolicLink() || isSampleName(name)) task.skipped.push(task.rel + '/' + name);
        continue;
      }
      if (d.isDirectory()) {
        queue.push({
          abs: task.abs + '/' + name,
          rel: task.rel + '/' + name,
          chain: { real: task.chain.real + '/' + name, parent: task.chain },
          out: task.out,
          skipped: task.skipped,
        });
      } else if (d.isSymbolicLink()) {
        const childAbs = task.abs + '/' + name;
        const st = await statSafe(childAbs);
        if (st?.isDirectory()) {
          if (!followLinks) continue;
          let real: string;
          try {
            real = await fs.realpath(childAbs);
          } catch {
            continue;
          }
          if (onPath(task.chain, real)) continue; // Q-05 fix: cycle
          queue.push({ abs: childAbs, rel: task.rel + '/' + name, chain: { real, parent: task.chain }, out: task.out, skipped: task.skipped });
        } else if (isSampleName(name)) {
          task.out.push(task.rel + '/' + name); // link to a file, or dangling
        }
      } else if (isSampleName(name)) {
        task.out.push(task.rel + '/' + name);
      }
    }
  }

  let active = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      if (queue.length === 0 && active === 0) {
        resolve();
        return;
      }
      while (active < WALK_CONCURRENCY && queue.length > 0) {
        const task = queue.shift()!;
        active++;
        visit(task).then(
          () => {
            active--;
            pump();
          },
          (err: unknown) => reject(err),
        );
      }
    };
    pump();
  });
  return result;
}
