/**
 * The dataset registry in Redis (the RegistryStorePort of src/services/ports.ts). A
 * record is one JSON string; the (possibly large) subset lists live under a second key
 * so that metadata reads stay small. Creation is one Lua script, so two API replicas
 * racing on the same name produce one dataset and a record never exists without its
 * subsets.
 *
 * Updates are compare-and-set on the record's `revision`. The marker key says the registry
 * is complete: a Redis that lost its data has none (src/services/registry/recovery.ts).
 *
 * Reads of one record are cached in the process for `cacheMs` (metadata endpoints are hot:
 * a training client and its dashboard poll them). Writes through this store invalidate
 * the entry at once; a change made by another replica is seen within `cacheMs`.
 */
import type { Redis } from 'ioredis';
import type { RegistryStorePort } from '../src/services/ports.ts';
import type { DatasetRecord, StoredSubsets } from '../src/services/registry/types.ts';

const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
`;

// Compare-and-set on the record's revision: two replicas updating one dataset at once
// (two clients loading two subsets) never lose one of the writes.
const UPDATE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local rev = cjson.decode(cur)['revision']
if type(rev) ~= 'number' then rev = 0 end
if rev ~= tonumber(ARGV[3]) then return 2 end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
return 1
`;

const MAX_CACHED = 1000;

export class RegistryStore implements RegistryStorePort {
  private readonly cache = new Map<string, { rec: DatasetRecord; until: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly cacheMs = 1000,
  ) {}

  private recordKey(id: string): string {
    return `${this.prefix}:ds:${id}`;
  }
  private subsetsKey(id: string): string {
    return `${this.prefix}:ds:${id}:subsets`;
  }
  private indexKey(): string {
    return `${this.prefix}:datasets`;
  }
  private markerKey(): string {
    return `${this.prefix}:registry-marker`;
  }

  async hasMarker(): Promise<boolean> {
    return (await this.redis.exists(this.markerKey())) === 1;
  }

  async setMarker(): Promise<void> {
    await this.redis.set(this.markerKey(), new Date().toISOString(), 'NX');
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.recordKey(id))) === 1;
  }

  /** Returns false when a dataset with this id already exists (nothing is written then). */
  async create(record: DatasetRecord, subsets: StoredSubsets): Promise<boolean> {
    this.cache.delete(record.id);
    const res = await this.redis.eval(
      CREATE_SCRIPT,
      3,
      this.recordKey(record.id),
      this.subsetsKey(record.id),
      this.indexKey(),
      JSON.stringify(record),
      JSON.stringify(subsets),
      String(Date.parse(record.created_at)),
      record.id,
    );
    return res === 1;
  }

  async update(record: DatasetRecord, subsets: StoredSubsets | undefined, expectedRevision: number): Promise<'updated' | 'missing' | 'conflict'> {
    this.cache.delete(record.id);
    const res = await this.redis.eval(
      UPDATE_SCRIPT,
      2,
      this.recordKey(record.id),
      this.subsetsKey(record.id),
      JSON.stringify(record),
      subsets ? JSON.stringify(subsets) : '',
      String(expectedRevision),
    );
    return res === 1 ? 'updated' : res === 2 ? 'conflict' : 'missing';
  }

  async get(id: string): Promise<DatasetRecord | null> {
    const hit = this.cache.get(id);
    if (hit && hit.until > Date.now()) return hit.rec;
    const raw = await this.redis.get(this.recordKey(id));
    if (!raw) {
      this.cache.delete(id);
      return null;
    }
    const rec = JSON.parse(raw) as DatasetRecord;
    if (this.cacheMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(id, { rec, until: Date.now() + this.cacheMs });
    }
    return rec;
  }

  async getSubsets(id: string): Promise<StoredSubsets | null> {
    const raw = await this.redis.get(this.subsetsKey(id));
    return raw ? (JSON.parse(raw) as StoredSubsets) : null;
  }

  async list(): Promise<DatasetRecord[]> {
    const ids = await this.redis.zrange(this.indexKey(), 0, -1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.recordKey(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as DatasetRecord);
  }

  async page(offset: number, limit: number): Promise<{ records: DatasetRecord[]; total: number }> {
    // One transaction: the count and the ids come from the same moment.
    const [[, total], [, ids]] = (await this.redis
      .multi()
      .zcard(this.indexKey())
      .zrange(this.indexKey(), offset, offset + limit - 1)
      .exec()) as [[Error | null, number], [Error | null, string[]]];
    if (ids.length === 0) return { records: [], total };
    const raws = await this.redis.mget(ids.map((id) => this.recordKey(id)));
    // A dataset deleted between the two reads is left out.
    return { records: raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as DatasetRecord), total };
  }

  async delete(id: string): Promise<boolean> {
    this.cache.delete(id);
    const [[, n]] = (await this.redis
      .multi()
      .del(this.recordKey(id), this.subsetsKey(id))
      .zrem(this.indexKey(), id)
      .exec()) as [[Error | null, number], [Error | null, number]];
    return n > 0;
  }
}
