import type { FeatureRecord, Registry } from "../registry/registry.js";

/**
 * The registry's features, cached in memory for the serving hot path. The
 * server is the registry's writer: every change goes through `put`/`remove`,
 * so the cache never lags the stored records.
 *
 * Values of registered features live in the online store under one
 * namespace per entity type, so one ingest (one entity id) is one atomic
 * write whatever the features' groups. The view a Feast reference names
 * ("group:feature") is the record's `view` (featureGroup ?? entity).
 */
export class RegisteredFeatures {
  private readonly byName = new Map<string, FeatureRecord>();
  private readonly byView = new Map<string, Map<string, FeatureRecord>>();

  static async load(registry: Registry): Promise<RegisteredFeatures> {
    const cache = new RegisteredFeatures();
    for (const f of await registry.listFeatures()) cache.put(f);
    return cache;
  }

  put(f: FeatureRecord): void {
    const old = this.byName.get(f.name);
    if (old !== undefined) this.remove(old);
    this.byName.set(f.name, f);
    let view = this.byView.get(f.view);
    if (view === undefined) this.byView.set(f.view, (view = new Map()));
    view.set(f.name, f);
  }

  remove(f: FeatureRecord): void {
    this.byName.delete(f.name);
    const view = this.byView.get(f.view);
    view?.delete(f.name);
    if (view?.size === 0) this.byView.delete(f.view);
  }

  get(name: string): FeatureRecord | undefined {
    return this.byName.get(name);
  }

  /** A feature of a view, by the view's name and the feature's. */
  inView(view: string, name: string): FeatureRecord | undefined {
    return this.byView.get(view)?.get(name);
  }

  hasView(view: string): boolean {
    return this.byView.has(view);
  }

  views(): string[] {
    return [...this.byView.keys()];
  }

  all(): FeatureRecord[] {
    return [...this.byName.values()];
  }

  /** Entity types with registered features: the online store namespaces to search for an entity id. */
  entities(): string[] {
    return [...new Set([...this.byName.values()].map((f) => f.entity))];
  }
}

/** The online store namespace of a registered feature's values. */
export function namespaceOf(f: FeatureRecord): string {
  return `entity:${f.entity}`;
}

/** TTL in ms per feature name, for the features that have one. */
export function ttlsOf(features: readonly FeatureRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of features) if (f.ttlSeconds !== undefined) out[f.name] = f.ttlSeconds * 1000;
  return out;
}
