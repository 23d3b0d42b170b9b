/**
 * Clips a featurization could not read, from the headers of the shards that exist: the
 * same list every epoch skips, shown in the dataset's summary JSON.
 */
import fs from 'node:fs';
import { positionAt, type SubsetPlan } from './plan.ts';
import { isShardCorrupt } from './integrity.ts';
import { openShardSync, type OpenShard, type ShardCorruptError } from './shard-file.ts';

export interface SkippedClip {
  position: number;
  entry: string | null;
  reason: string;
  detail: string;
}

/** A shard that fails verification counts as not done; `onCorrupt` quarantines it. */
export function featurizationState(
  plan: SubsetPlan,
  onCorrupt: (err: ShardCorruptError) => void = () => undefined,
): { shardsDone: number; shardsTotal: number; skipped: SkippedClip[] } {
  const skipped: SkippedClip[] = [];
  let done = 0;
  for (const s of plan.shards) {
    if (!fs.existsSync(s.file)) continue;
    let shard: OpenShard;
    try {
      shard = openShardSync(s.file);
    } catch (err) {
      if (!isShardCorrupt(err)) throw err;
      onCorrupt(err);
      continue;
    }
    done++;
    fs.closeSync(shard.fd);
    for (const f of shard.header.failures) {
      skipped.push({ position: positionAt(plan, s.index, f.row), entry: f.entry, reason: f.reason, detail: f.detail });
    }
  }
  return { shardsDone: done, shardsTotal: plan.shards.length, skipped };
}
