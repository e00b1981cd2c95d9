/**
 * The registry in PostgreSQL, under one schema ("freshet" by default), so
 * several processes share it. Tables: features (identity ids, unique names),
 * entities, tables, feature_stats (one jsonb accumulator per feature
 * reference). connect() creates the schema and tables when absent, under an
 * advisory lock so processes starting together do not race on the DDL.
 *
 * Every registration is one transaction that reads the stored record with
 * SELECT ... FOR UPDATE, applies the shared rules (registryRules.ts) and
 * writes the result, so concurrent registrations of one name serialize. Two
 * first registrations of a new name cannot lock a row that does not exist
 * yet: the loser hits the unique constraint and is retried once, now seeing
 * the winner's row (and so getting the rules' ConflictError or replacement).
 *
 * Statistics: recordValues folds the batch into an accumulator first, then in
 * one transaction locks the feature's stats row (created empty if absent),
 * merges and writes it back. Merging is exact, so concurrent writers lose
 * nothing and the result does not depend on their order.
 *
 * Errors: failures to reach or use the server are StorageErrors naming
 * PostgreSQL and its address (host:port/database, never the password).
 *
 * jsonb values are sent as JSON text with `$n::text::jsonb`: with a bare
 * `$n::jsonb` the driver infers a json parameter and encodes the string again.
 */
import postgres from "postgres";
import { postgresAddress } from "../core/databaseUrl.js";
import { z } from "zod";
import { wallClock, type Clock } from "../core/clock.js";
import { FreshetError, RequestError, StorageError } from "../errors.js";
import { FeatureStatsAccumulator } from "./featureStats.js";
import type {
  ColumnSpec,
  EntityRecord,
  EntitySpec,
  FeatureRecord,
  FeatureSpec,
  FeatureStats,
  MetadataSpec,
  Registry,
  TableRecord,
  TableSpec,
} from "./registry.js";
import { ENTITY_KEY_TYPES, FEATURE_DATA_TYPES, TABLE_KINDS, featureReference, planEntity, planFeature, planTable } from "./registryRules.js";
import { messageOf } from "../core/errorMessage.js";

export interface PostgresRegistryOptions {
  /** Schema holding the registry's tables; created if absent. Default "freshet". */
  readonly schema?: string;
  /** Source of createdAt/updatedAt; the wall clock by default. */
  readonly clock?: Clock;
  /** Pool size. Default 4: registry traffic is light. */
  readonly maxConnections?: number;
}

/** Plain identifiers only: the schema name is spliced into DDL. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** SQLSTATE of a unique constraint violation. */
const UNIQUE_VIOLATION = "23505";

export class PostgresRegistry implements Registry {
  readonly kind = "postgres";
  private closed = false;
  private readonly t: {
    readonly features: postgres.Helper<string>;
    readonly entities: postgres.Helper<string>;
    readonly tables: postgres.Helper<string>;
    readonly stats: postgres.Helper<string>;
  };

  private constructor(
    private readonly sql: postgres.Sql,
    readonly schema: string,
    /** host:port/database, for messages. */
    readonly address: string,
    private readonly clock: Clock,
  ) {
    // "schema.table" helpers: postgres.js quotes each dotted part.
    this.t = {
      features: sql(`${schema}.features`),
      entities: sql(`${schema}.entities`),
      tables: sql(`${schema}.tables`),
      stats: sql(`${schema}.feature_stats`),
    };
  }

  /**
   * Connects, and creates the schema and tables when absent. A server that
   * cannot be reached (or refuses the login) is a StorageError naming it.
   */
  static async connect(url: string, options: PostgresRegistryOptions = {}): Promise<PostgresRegistry> {
    const schema = options.schema ?? "freshet";
    if (!SCHEMA_NAME.test(schema)) {
      throw new RequestError(`PostgreSQL schema name ${JSON.stringify(schema)} must be a plain identifier (letters, digits, _; at most 63)`, { field: "schema" });
    }
    const address = postgresAddress(url);
    let sql: postgres.Sql;
    try {
      sql = postgres(url, {
        max: options.maxConnections ?? 4,
        connect_timeout: 10,
        // CREATE ... IF NOT EXISTS reports "already exists, skipping" as a notice at every start.
        onnotice: () => undefined,
      });
    } catch (e) {
      throw new StorageError(`Cannot connect to PostgreSQL at ${address}: ${messageOf(e)}`, { cause: e });
    }
    const registry = new PostgresRegistry(sql, schema, address, options.clock ?? wallClock);
    try {
      await registry.createTables();
    } catch (e) {
      await sql.end({ timeout: 0 }).catch(() => undefined);
      throw registry.storageError(e, `create the registry tables in schema "${schema}"`);
    }
    return registry;
  }

  registerFeature(spec: FeatureSpec): Promise<FeatureRecord> {
    return this.run("register a feature", () =>
      this.retryingUniqueViolation(() =>
        this.sql.begin(async (tx) => {
          const existing = this.features(await tx`SELECT * FROM ${this.t.features} WHERE name = ${spec.name} FOR UPDATE`)[0];
          const f = planFeature(existing, spec, this.now());
          // Absent optional fields are NULL columns (and absent again when read back).
          const c = {
            group: f.featureGroup ?? null,
            ttl: f.ttlSeconds ?? null,
            nullable: f.isNullable ?? null,
            source: f.source ?? null,
            transformation: f.transformation ?? null,
            description: f.description ?? null,
            owner: f.owner ?? null,
            tags: jsonOrNull(f.tags),
          };
          const rows =
            existing === undefined
              ? await tx`
                  INSERT INTO ${this.t.features} (name, entity, data_type, feature_group, view_name, ttl_seconds, is_nullable,
                    source, transformation, description, owner, tags, version, created_at, updated_at)
                  VALUES (${f.name}, ${f.entity}, ${f.dataType}, ${c.group}, ${f.view}, ${c.ttl}, ${c.nullable}, ${c.source},
                    ${c.transformation}, ${c.description}, ${c.owner}, ${c.tags}::text::jsonb, ${f.version}, ${f.createdAt}, ${f.updatedAt})
                  RETURNING *`
              : await tx`
                  UPDATE ${this.t.features} SET entity = ${f.entity}, data_type = ${f.dataType}, feature_group = ${c.group},
                    view_name = ${f.view}, ttl_seconds = ${c.ttl}, is_nullable = ${c.nullable}, source = ${c.source},
                    transformation = ${c.transformation}, description = ${c.description}, owner = ${c.owner},
                    tags = ${c.tags}::text::jsonb, version = ${f.version}, updated_at = ${f.updatedAt}
                  WHERE id = ${existing.id}
                  RETURNING *`;
          return this.one(this.features(rows), "features");
        }),
      ),
    );
  }

  getFeature(id: number): Promise<FeatureRecord | undefined> {
    return this.run("read a feature", async () => {
      if (!Number.isSafeInteger(id)) return undefined;
      return this.features(await this.sql`SELECT * FROM ${this.t.features} WHERE id = ${id}`)[0];
    });
  }

  findFeature(name: string): Promise<FeatureRecord | undefined> {
    return this.run("read a feature", async () => this.features(await this.sql`SELECT * FROM ${this.t.features} WHERE name = ${name}`)[0]);
  }

  /** In id order. */
  listFeatures(filter: { readonly entity?: string; readonly view?: string } = {}): Promise<FeatureRecord[]> {
    const entity = filter.entity ?? null;
    const view = filter.view ?? null;
    return this.run("list features", async () =>
      this.features(
        await this.sql`
          SELECT * FROM ${this.t.features}
          WHERE (${entity}::text IS NULL OR entity = ${entity}) AND (${view}::text IS NULL OR view_name = ${view})
          ORDER BY id`,
      ),
    );
  }

  deleteFeature(id: number): Promise<FeatureRecord | undefined> {
    return this.run("delete a feature", async () => {
      if (!Number.isSafeInteger(id)) return undefined;
      return this.sql.begin(async (tx) => {
        const removed = this.features(await tx`DELETE FROM ${this.t.features} WHERE id = ${id} RETURNING *`)[0];
        if (removed !== undefined) await tx`DELETE FROM ${this.t.stats} WHERE feature = ${featureReference(removed)}`;
        return removed;
      });
    });
  }

  registerEntity(spec: EntitySpec): Promise<EntityRecord> {
    return this.run("register an entity", () =>
      this.retryingUniqueViolation(() =>
        this.sql.begin(async (tx) => {
          const existing = this.entities(await tx`SELECT * FROM ${this.t.entities} WHERE name = ${spec.name} FOR UPDATE`)[0];
          const e = planEntity(existing, spec, this.now());
          if (e === existing) return existing;
          const [description, owner, tags] = [e.description ?? null, e.owner ?? null, jsonOrNull(e.tags)];
          const rows =
            existing === undefined
              ? await tx`
                  INSERT INTO ${this.t.entities} (name, key_type, description, owner, tags, version, created_at, updated_at)
                  VALUES (${e.name}, ${e.keyType}, ${description}, ${owner}, ${tags}::text::jsonb, ${e.version}, ${e.createdAt}, ${e.updatedAt})
                  RETURNING *`
              : await tx`
                  UPDATE ${this.t.entities} SET key_type = ${e.keyType}, description = ${description}, owner = ${owner},
                    tags = ${tags}::text::jsonb, version = ${e.version}, updated_at = ${e.updatedAt}
                  WHERE name = ${e.name}
                  RETURNING *`;
          return this.one(this.entities(rows), "entities");
        }),
      ),
    );
  }

  /** In name order. */
  listEntities(): Promise<EntityRecord[]> {
    return this.run("list entities", async () => this.entities(await this.sql`SELECT * FROM ${this.t.entities} ORDER BY name COLLATE "C"`));
  }

  registerTable(spec: TableSpec): Promise<TableRecord> {
    return this.run("register a table", () =>
      this.retryingUniqueViolation(() =>
        this.sql.begin(async (tx) => {
          const existing = this.tables(await tx`SELECT * FROM ${this.t.tables} WHERE name = ${spec.name} FOR UPDATE`)[0];
          const r = planTable(existing, spec, this.now());
          if (r === existing) return existing;
          const [keys, fields, ttl] = [JSON.stringify(r.keys), JSON.stringify(r.fields), r.ttlSeconds ?? null];
          const [description, owner, tags] = [r.description ?? null, r.owner ?? null, jsonOrNull(r.tags)];
          const rows =
            existing === undefined
              ? await tx`
                  INSERT INTO ${this.t.tables} (name, kind, keys, fields, ttl_seconds, description, owner, tags, version, created_at, updated_at)
                  VALUES (${r.name}, ${r.kind}, ${keys}::text::jsonb, ${fields}::text::jsonb, ${ttl}, ${description}, ${owner}, ${tags}::text::jsonb,
                    ${r.version}, ${r.createdAt}, ${r.updatedAt})
                  RETURNING *`
              : await tx`
                  UPDATE ${this.t.tables} SET kind = ${r.kind}, keys = ${keys}::text::jsonb, fields = ${fields}::text::jsonb, ttl_seconds = ${ttl},
                    description = ${description}, owner = ${owner}, tags = ${tags}::text::jsonb, version = ${r.version}, updated_at = ${r.updatedAt}
                  WHERE name = ${r.name}
                  RETURNING *`;
          return this.one(this.tables(rows), "tables");
        }),
      ),
    );
  }

  getTable(name: string): Promise<TableRecord | undefined> {
    return this.run("read a table", async () => this.tables(await this.sql`SELECT * FROM ${this.t.tables} WHERE name = ${name}`)[0]);
  }

  /** In name order. */
  listTables(): Promise<TableRecord[]> {
    return this.run("list tables", async () => this.tables(await this.sql`SELECT * FROM ${this.t.tables} ORDER BY name COLLATE "C"`));
  }

  deleteTable(name: string): Promise<TableRecord | undefined> {
    return this.run("delete a table", async () => this.tables(await this.sql`DELETE FROM ${this.t.tables} WHERE name = ${name} RETURNING *`)[0]);
  }

  recordValues(feature: string, values: readonly unknown[]): Promise<void> {
    return this.run("record feature statistics", async () => {
      if (values.length === 0) return;
      // Folded outside the transaction so the row lock is held only for the merge.
      const batch = new FeatureStatsAccumulator().addAll(values);
      const empty = JSON.stringify(new FeatureStatsAccumulator().toJSON());
      const now = this.now();
      await this.sql.begin(async (tx) => {
        await tx`
          INSERT INTO ${this.t.stats} (feature, stats, updated_at) VALUES (${feature}, ${empty}::text::jsonb, ${now})
          ON CONFLICT (feature) DO NOTHING`;
        const [row] = await tx`SELECT stats FROM ${this.t.stats} WHERE feature = ${feature} FOR UPDATE`;
        const merged = this.accumulatorOf(row, feature).merge(batch);
        await tx`UPDATE ${this.t.stats} SET stats = ${JSON.stringify(merged.toJSON())}::text::jsonb, updated_at = ${now} WHERE feature = ${feature}`;
      });
    });
  }

  stats(feature: string): Promise<FeatureStats | undefined> {
    return this.run("read feature statistics", async () => {
      const [row] = await this.sql`SELECT stats FROM ${this.t.stats} WHERE feature = ${feature}`;
      return row === undefined ? undefined : this.accumulatorOf(row, feature).snapshot();
    });
  }

  /** Waits for running queries (up to 5 s), then closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sql.end({ timeout: 5 });
  }

  private async createTables(): Promise<void> {
    const s = this.sql(this.schema);
    await this.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`freshet registry ${this.schema}`}))`;
      await tx`CREATE SCHEMA IF NOT EXISTS ${s}`;
      await tx`
        CREATE TABLE IF NOT EXISTS ${this.t.features} (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL UNIQUE,
          entity text NOT NULL,
          data_type text NOT NULL,
          feature_group text,
          view_name text NOT NULL,
          ttl_seconds bigint,
          is_nullable boolean,
          source text,
          transformation text,
          description text,
          owner text,
          tags jsonb,
          version bigint NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz
        )`;
      await tx`
        CREATE TABLE IF NOT EXISTS ${this.t.entities} (
          name text PRIMARY KEY,
          key_type text NOT NULL,
          description text,
          owner text,
          tags jsonb,
          version bigint NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz
        )`;
      await tx`
        CREATE TABLE IF NOT EXISTS ${this.t.tables} (
          name text PRIMARY KEY,
          kind text NOT NULL,
          keys jsonb NOT NULL,
          fields jsonb NOT NULL,
          ttl_seconds bigint,
          description text,
          owner text,
          tags jsonb,
          version bigint NOT NULL,
          created_at timestamptz NOT NULL,
          updated_at timestamptz
        )`;
      await tx`
        CREATE TABLE IF NOT EXISTS ${this.t.stats} (
          feature text PRIMARY KEY,
          stats jsonb NOT NULL,
          updated_at timestamptz NOT NULL
        )`;
    });
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  /** Runs `op`, turning anything that is not already a FreshetError into a StorageError naming the server. */
  private async run<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageError(`The PostgreSQL registry at ${this.address} is closed; connect again with PostgresRegistry.connect().`);
    try {
      return await op();
    } catch (e) {
      throw this.storageError(e, what);
    }
  }

  private async retryingUniqueViolation<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (!(e instanceof postgres.PostgresError && e.code === UNIQUE_VIOLATION)) throw e;
      return op();
    }
  }

  private storageError(e: unknown, what: string): FreshetError {
    if (e instanceof FreshetError) return e;
    const message = messageOf(e);
    if (e instanceof postgres.PostgresError) {
      return new StorageError(`PostgreSQL at ${this.address} refused to ${what}: ${message} (SQLSTATE ${e.code})`, { cause: e });
    }
    return new StorageError(
      `Cannot reach PostgreSQL at ${this.address} (to ${what}): ${message}. Check that the server is running and the URL is right.`,
      { cause: e },
    );
  }

  private features(rows: readonly unknown[]): FeatureRecord[] {
    return parseRows(featureRow, rows, `${this.schema}.features`, this.address);
  }

  private entities(rows: readonly unknown[]): EntityRecord[] {
    return parseRows(entityRow, rows, `${this.schema}.entities`, this.address);
  }

  private tables(rows: readonly unknown[]): TableRecord[] {
    return parseRows(tableRow, rows, `${this.schema}.tables`, this.address);
  }

  private one<T>(rows: readonly T[], table: string): T {
    const [row] = rows;
    if (row === undefined) throw new StorageError(`PostgreSQL at ${this.address} returned no row from ${this.schema}.${table} after writing it`);
    return row;
  }

  private accumulatorOf(row: unknown, feature: string): FeatureStatsAccumulator {
    const parsed = z.object({ stats: z.unknown() }).safeParse(row);
    const where = `PostgreSQL at ${this.address}, ${this.schema}.feature_stats row "${feature}"`;
    if (!parsed.success) throw new StorageError(`${where}: has no stats column`);
    return FeatureStatsAccumulator.fromJSON(parsed.data.stats, where);
  }
}

// ---------------------------------------------------------------------------
// Rows: parsed from what the driver returns (bigint arrives as a string).

const bigintColumn = z
  .union([z.number(), z.string().regex(/^-?\d+$/)])
  .transform(Number)
  .refine(Number.isSafeInteger, "must be a safe integer");
const text = z.string().nullable();
const tags = z.record(z.string(), z.string()).nullable();
const columns = z.array(z.object({ name: z.string(), type: z.string() }));
const times = { version: bigintColumn, created_at: z.date(), updated_at: z.date().nullable() };

const featureRow = z
  .object({
    id: bigintColumn,
    name: z.string(),
    entity: z.string(),
    data_type: z.enum(FEATURE_DATA_TYPES),
    feature_group: text,
    view_name: z.string(),
    ttl_seconds: bigintColumn.nullable(),
    is_nullable: z.boolean().nullable(),
    source: text,
    transformation: text,
    description: text,
    owner: text,
    tags,
    ...times,
  })
  .transform(
    (r): FeatureRecord => ({
      id: r.id,
      name: r.name,
      entity: r.entity,
      dataType: r.data_type,
      ...(r.feature_group !== null && { featureGroup: r.feature_group }),
      ...(r.ttl_seconds !== null && { ttlSeconds: r.ttl_seconds }),
      ...(r.is_nullable !== null && { isNullable: r.is_nullable }),
      ...(r.source !== null && { source: r.source }),
      ...(r.transformation !== null && { transformation: r.transformation }),
      ...metadataOfRow(r),
      version: r.version,
      view: r.view_name,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }),
  );

const entityRow = z
  .object({ name: z.string(), key_type: z.enum(ENTITY_KEY_TYPES), description: text, owner: text, tags, ...times })
  .transform(
    (r): EntityRecord => ({
      name: r.name,
      keyType: r.key_type,
      ...metadataOfRow(r),
      version: r.version,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }),
  );

const tableRow = z
  .object({
    name: z.string(),
    kind: z.enum(TABLE_KINDS),
    keys: columns,
    fields: columns,
    ttl_seconds: bigintColumn.nullable(),
    description: text,
    owner: text,
    tags,
    ...times,
  })
  .transform(
    (r): TableRecord => ({
      name: r.name,
      kind: r.kind,
      keys: r.keys.map((c): ColumnSpec => ({ name: c.name, type: c.type })),
      fields: r.fields.map((c): ColumnSpec => ({ name: c.name, type: c.type })),
      ...(r.ttl_seconds !== null && { ttlSeconds: r.ttl_seconds }),
      ...metadataOfRow(r),
      version: r.version,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }),
  );

function metadataOfRow(r: { description: string | null; owner: string | null; tags: Record<string, string> | null }): MetadataSpec {
  return {
    ...(r.description !== null && { description: r.description }),
    ...(r.owner !== null && { owner: r.owner }),
    ...(r.tags !== null && { tags: r.tags }),
  };
}

function parseRows<T>(schema: z.ZodType<T>, rows: readonly unknown[], table: string, address: string): T[] {
  return rows.map((row, i) => {
    const parsed = schema.safeParse(row);
    if (!parsed.success) {
      throw new StorageError(`PostgreSQL at ${address}: row ${i + 1} of ${table} is not a valid registry record: ${z.prettifyError(parsed.error)}`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  });
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}


