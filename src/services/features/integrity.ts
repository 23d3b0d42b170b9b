/**
 * What happens to a shard that fails verification (src/services/features/shard-file.ts):
 * it is moved aside to DATA_DIR/features/quarantine/<name>.<timestamp> (kept for a
 * post-mortem, never read again), logged at warn with the file and the reason, counted
 * (audiofeed_shard_corruptions_total{reason}, deployment-wide through the FeatureQueue
 * port) and, by the caller, featurized again. A shard that is simply gone is counted with
 * reason "missing" and featurized again.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureQueue, Logger } from '../ports.ts';
import { ShardCorruptError } from './shard-file.ts';

/** DATA_DIR/features/quarantine for a shard file DATA_DIR/features/<spec>/<key>.afs. */
export function quarantineDirOf(shardFile: string): string {
  return path.join(path.dirname(path.dirname(shardFile)), 'quarantine');
}

export function isShardCorrupt(err: unknown): err is ShardCorruptError {
  return err instanceof ShardCorruptError;
}

/**
 * Moves the bad file aside (unless another reader already did, or a worker already
 * replaced it with a good one: the inode the error saw is compared), logs and counts it.
 * Returns where the file went (null when nothing was moved).
 */
export async function quarantineShard(
  err: ShardCorruptError,
  sink: Pick<FeatureQueue, 'recordShardCorruption'>,
  log?: Logger,
): Promise<string | null> {
  let moved: string | null = null;
  if (err.reason !== 'missing') {
    try {
      const st = fs.statSync(err.file);
      if (err.ino !== undefined && st.ino !== err.ino) return null; // already replaced by a fresh shard
      const dir = quarantineDirOf(err.file);
      fs.mkdirSync(dir, { recursive: true });
      const dest = path.join(dir, `${path.basename(err.file)}.${new Date().toISOString().replace(/[:.]/g, '-')}`);
      fs.renameSync(err.file, dest);
      moved = dest;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // another reader moved it first
      throw e;
    }
  }
  const where = moved ? `moved to ${moved}` : 'featurizing it again';
  log?.warn(`corrupted feature shard ${err.file} (${err.reason}: ${err.message.slice(err.file.length + 2)}): ${where}`);
  await sink.recordShardCorruption(err.reason).catch(() => undefined);
  return moved;
}
