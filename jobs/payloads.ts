/**
 * The payloads and results of the featurization jobs, beside their queues (./queues.ts).
 * An augmented batch's payload is the service's AugmentBatchJob (src/services/ports.ts):
 * the stream that asks for the batch builds it.
 */
import type { ShardInput } from '../src/services/features/compute-shard.ts';
import type { ShardFailure } from '../src/services/features/shard-file.ts';

/** Payload of a shard job: the clips of one shard and where its file goes. */
export interface ShardJobData extends ShardInput {
  file: string;
  shardIndex: number;
  /** Request id of the HTTP request that created the flow (log correlation). */
  requestId?: string;
}

/** Result of a shard job, and of an augmented-batch job. */
export interface ShardResult {
  rows: number;
  failures: ShardFailure[];
  ms: number;
  /** True when the shard file already existed (another worker or flow made it). */
  reused: boolean;
}

/** Payload of a featurize parent job: what its progress and its summary need. */
export interface FeaturizeJobData {
  datasetId: string;
  subset: string;
  planKey: string;
  featureHash: string;
  clips: number;
  /** The shards' layout (plan.ts): row r of shard i is subset position positionAt(i, r). Absent in older jobs: subset order. */
  layoutSeed?: number | null;
  /** Every shard file of the subset, in order (also those that existed before). */
  files: string[];
  /** Shards already on disk when the flow was created. */
  reusedShards: number;
  createdAt: number;
  requestId?: string;
}

export interface FeaturizeResult {
  clips: number;
  shards: number;
  failures: ShardFailure[];
  seconds: number;
}
