/**
 * What an API process does in the background, every MAINTENANCE_INTERVAL_MS (and once at
 * start): rebuild the registry from its manifests if Redis lost it, bring the manifests in
 * step with the registry, and collect the feature cache (features/cache-gc.ts). Passes
 * never overlap in one process; several replicas may run theirs at once (each step is
 * safe under concurrency).
 */
import type { Logger } from './ports.ts';
import { collectFeatureCache, liveShardFiles, type CollectionReport, type CollectorOptions } from './features/cache-gc.ts';
import type { RegistryService } from './registry/service.ts';

export interface MaintenanceReport {
  recovered: number;
  manifests: { written: number; removed: number };
  /** null: the collection was skipped (the registry was not known complete). */
  cache: CollectionReport | null;
}

export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<MaintenanceReport | null> | null = null;

  constructor(
    private readonly deps: {
      registry: RegistryService;
      collector: CollectorOptions;
      intervalMs: number;
      log: Logger;
    },
  ) {}

  /** One pass now (joins the pass in progress, if any). */
  runOnce(): Promise<MaintenanceReport | null> {
    return (this.running ??= this.pass().finally(() => (this.running = null)));
  }

  private async pass(): Promise<MaintenanceReport> {
    const { registry, collector } = this.deps;
    const recovered = await registry.recoverIfLost();
    const manifests = await registry.reconcileManifests();
    const live = await liveShardFiles({ list: () => registry.store.list(), listsOf: (id) => registry.store.getSubsets(id) }, collector.featuresDir);
    // A registry lost while it was read would make every shard look unused: collect only
    // when it is still known complete.
    const cache = (await registry.store.hasMarker()) ? await collectFeatureCache(collector, live) : null;
    return { recovered, manifests, cache };
  }

  /** Runs a pass now and then every intervalMs (0: only the first). Failures are logged, never thrown. */
  start(): void {
    const tick = () => {
      void this.runOnce()
        .catch((err: Error) => this.deps.log.warn(`maintenance pass failed: ${err.message}`))
        .finally(() => {
          if (this.timer !== null && this.deps.intervalMs > 0) this.timer = setTimeout(tick, this.deps.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** Stops the timer and waits for the pass in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
