/**
 * The registry: what exists and what it means. Features (the Realtime Feature
 * Store seed's registered features), entities, and tables (source datasets and
 * feature tables from definitions), each with version, description, owner,
 * tags and TTL; plus statistics per feature, kept up to date incrementally.
 *
 * Two implementations behind this one interface pass one conformance suite
 * (test/registry.conformance.ts): a file in the data directory, and PostgreSQL.
 */

export type FeatureDataType = "int" | "float" | "string" | "bool" | "embedding" | "json";

export interface MetadataSpec {
  readonly description?: string;
  readonly owner?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface FeatureSpec extends MetadataSpec {
  /** Unique among features. */
  readonly name: string;
  /** The entity type whose ids key this feature ("user"). */
  readonly entity: string;
  readonly dataType: FeatureDataType;
  /** The view (namespace) the feature is served under; defaults to the entity. */
  readonly featureGroup?: string;
  /** Seconds a written value stays servable; unset: never expires. */
  readonly ttlSeconds?: number;
  readonly isNullable?: boolean;
  readonly source?: string;
  readonly transformation?: string;
  /**
   * Registering a name that exists is a conflict unless this is higher than
   * the stored version: then the new definition replaces it. Default 1.
   */
  readonly version?: number;
}

export interface FeatureRecord extends FeatureSpec {
  readonly id: number;
  readonly version: number;
  /** featureGroup ?? entity: the online store namespace of the feature's values. */
  readonly view: string;
  readonly createdAt: Date;
  readonly updatedAt: Date | null;
}

export interface EntitySpec extends MetadataSpec {
  readonly name: string;
  /** Type of the entity's id; changing it needs a new version. */
  readonly keyType: "string" | "int" | "float" | "bool";
  readonly version?: number;
}

export interface EntityRecord extends EntitySpec {
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date | null;
}

export interface ColumnSpec {
  readonly name: string;
  /** A Freshet field type name ("string", "int", "float", "bool", "timestamp", "list<float>", ...). */
  readonly type: string;
}

export interface TableSpec extends MetadataSpec {
  readonly name: string;
  readonly kind: "dataset" | "table" | "onDemand";
  readonly keys: readonly ColumnSpec[];
  readonly fields: readonly ColumnSpec[];
  readonly ttlSeconds?: number;
  /**
   * Registering a table again with different key names or types is refused
   * (ConflictError, saying what changed) unless the version is raised.
   * Default 1. Other changes (fields, metadata) update the record.
   */
  readonly version?: number;
}

export interface TableRecord extends TableSpec {
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date | null;
}

export interface HistogramBin {
  /** Inclusive lower bound. */
  readonly lower: number;
  /** Exclusive upper bound (the last bin includes it). */
  readonly upper: number;
  readonly count: number;
}

export interface FeatureStats {
  /** Values recorded, nulls included. */
  readonly count: number;
  readonly nulls: number;
  /** Over numeric values only; null when there are none. */
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** Population standard deviation. */
  readonly stddev: number | null;
  readonly histogram: readonly HistogramBin[];
}

export interface Registry {
  /** "file" or "postgres". */
  readonly kind: string;
  /** ConflictError (HTTP 409) on a duplicate name without a higher version. */
  registerFeature(spec: FeatureSpec): Promise<FeatureRecord>;
  getFeature(id: number): Promise<FeatureRecord | undefined>;
  findFeature(name: string): Promise<FeatureRecord | undefined>;
  listFeatures(filter?: { readonly entity?: string; readonly view?: string }): Promise<FeatureRecord[]>;
  /** Removes the feature and its statistics; returns what was removed. */
  deleteFeature(id: number): Promise<FeatureRecord | undefined>;

  registerEntity(spec: EntitySpec): Promise<EntityRecord>;
  listEntities(): Promise<EntityRecord[]>;

  registerTable(spec: TableSpec): Promise<TableRecord>;
  getTable(name: string): Promise<TableRecord | undefined>;
  listTables(): Promise<TableRecord[]>;
  deleteTable(name: string): Promise<TableRecord | undefined>;

  /**
   * Adds values to the statistics of a feature reference ("view:feature").
   * Non-numeric values count toward count and nulls only.
   */
  recordValues(feature: string, values: readonly unknown[]): Promise<void>;
  stats(feature: string): Promise<FeatureStats | undefined>;
  close(): Promise<void>;
}
