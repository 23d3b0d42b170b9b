/**
 * The registry store port (src/services/ports.ts) in memory, for unit tests of the
 * registry service without Redis. Records go through JSON both ways, as they do in
 * Redis, so a service that kept references to stored objects would be caught.
 */
import type { RegistryStorePort } from '../../src/services/ports.ts';
import type { DatasetRecord, StoredSubsets } from '../../src/services/registry/types.ts';

const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class MemoryRegistryStore implements RegistryStorePort {
  private readonly records = new Map<string, string>();
  private readonly subsets = new Map<string, string>();

  async exists(id: string): Promise<boolean> {
    return this.records.has(id);
  }

  async create(record: DatasetRecord, subsets: StoredSubsets): Promise<boolean> {
    if (this.records.has(record.id)) return false;
    this.records.set(record.id, JSON.stringify(record));
    this.subsets.set(record.id, JSON.stringify(subsets));
    return true;
  }

  private marker = false;

  async update(record: DatasetRecord, subsets: StoredSubsets | undefined, expectedRevision: number): Promise<'updated' | 'missing' | 'conflict'> {
    const cur = this.records.get(record.id);
    if (cur === undefined) return 'missing';
    if (((JSON.parse(cur) as DatasetRecord).revision ?? 0) !== expectedRevision) return 'conflict';
    this.records.set(record.id, JSON.stringify(record));
    if (subsets) this.subsets.set(record.id, JSON.stringify(subsets));
    return 'updated';
  }

  async hasMarker(): Promise<boolean> {
    return this.marker;
  }

  async setMarker(): Promise<void> {
    this.marker = true;
  }

  /** What a store that lost its data looks like: nothing, not even the marker. */
  wipe(): void {
    this.records.clear();
    this.subsets.clear();
    this.marker = false;
  }

  async get(id: string): Promise<DatasetRecord | null> {
    const raw = this.records.get(id);
    return raw === undefined ? null : (JSON.parse(raw) as DatasetRecord);
  }

  async getSubsets(id: string): Promise<StoredSubsets | null> {
    const raw = this.subsets.get(id);
    return raw === undefined ? null : (JSON.parse(raw) as StoredSubsets);
  }

  async list(): Promise<DatasetRecord[]> {
    return [...this.records.values()].map((r) => JSON.parse(r) as DatasetRecord);
  }

  async page(offset: number, limit: number): Promise<{ records: DatasetRecord[]; total: number }> {
    const all = await this.list();
    return { records: all.slice(offset, offset + limit), total: all.length };
  }

  async delete(id: string): Promise<boolean> {
    this.subsets.delete(id);
    return this.records.delete(id);
  }

  /** Everything stored, for assertions that a failure left nothing behind. */
  snapshot(): { records: Record<string, DatasetRecord>; subsets: Record<string, StoredSubsets> } {
    const parse = <T>(m: Map<string, string>) => Object.fromEntries([...m].map(([k, v]) => [k, copy(JSON.parse(v) as T)]));
    return { records: parse<DatasetRecord>(this.records), subsets: parse<StoredSubsets>(this.subsets) };
  }
}
