/**
 * Clips a featurization could not read, from the headers of the shards that exist: the
 * same list every epoch skips, shown in the dataset's summary JSON.
 */
import fs from 'node:fs';
import { SHARD_SIZE, type SubsetPlan } from './plan.ts';
import { openShardSync } from './shard-file.ts';

export interface SkippedClip {
  position: number;
  entry: string | null;
  reason: string;
  detail: string;
}

export function featurizationState(plan: SubsetPlan): { shardsDone: number; shardsTotal: number; skipped: SkippedClip[] } {
  const skipped: SkippedClip[] = [];
  let done = 0;
  for (const s of plan.shards) {
    if (!fs.existsSync(s.file)) continue;
    done++;
    const shard = openShardSync(s.file);
    fs.closeSync(shard.fd);
    for (const f of shard.header.failures) {
      skipped.push({ position: s.index * SHARD_SIZE + f.row, entry: f.entry, reason: f.reason, detail: f.detail });
    }
  }
  return { shardsDone: done, shardsTotal: plan.shards.length, skipped };
}
