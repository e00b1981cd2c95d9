import type { Row } from "../../core/schema.js";
import { StorageError, UnknownTableError } from "../../errors.js";
import {
  checkBatch,
  checkColumns,
  checkQuery,
  columnKind,
  keyIdentity,
  readKey,
  readValue,
  type CheckedBatch,
  type ColumnKind,
  type StoredKey,
  type TableColumns,
  type TableHistoryBatch,
  type TableHistoryQuery,
  type TableHistoryStore,
} from "./tableHistoryStore.js";

interface History {
  readonly columns: TableColumns;
  readonly keyKinds: readonly ColumnKind[];
  readonly featureKinds: readonly ColumnKind[];
  /** Appended batches in append order, normalised copies (JSON values as text, as the other stores keep them). */
  readonly chunks: CheckedBatch[];
  marker: string | undefined;
}

/**
 * Table histories in memory, for tests and short-lived processes. Keeps the
 * same normalised values the file and database stores keep, so it answers
 * exactly as they do.
 */
export class MemoryTableHistory implements TableHistoryStore {
  readonly kind = "memory";
  private readonly tables = new Map<string, History>();
  private closed = false;

  async begin(table: string, columns: TableColumns): Promise<void> {
    this.open();
    checkColumns(table, columns);
    const copy: TableColumns = {
      keys: columns.keys.map((c) => ({ name: c.name, type: c.type })),
      features: columns.features.map((c) => ({ name: c.name, type: c.type })),
    };
    this.tables.set(table, {
      columns: copy,
      keyKinds: copy.keys.map((c) => columnKind(c.type)),
      featureKinds: copy.features.map((c) => columnKind(c.type)),
      chunks: [],
      marker: undefined,
    });
  }

  async append(table: string, batch: TableHistoryBatch): Promise<void> {
    const h = this.history(table);
    const checked = checkBatch(table, h.columns, batch);
    if (checked.length > 0) h.chunks.push(checked);
  }

  async commit(table: string, marker: string): Promise<void> {
    this.history(table).marker = marker;
  }

  async marker(table: string): Promise<string | undefined> {
    this.open();
    return this.tables.get(table)?.marker;
  }

  async query(table: string, q?: TableHistoryQuery): Promise<Row[]> {
    const h = this.history(table);
    const cq = checkQuery(table, h.columns, q);
    if (cq.none) return [];
    const wanted = cq.keys === undefined ? undefined : keyMatcher(cq.keys);
    // Matching rows in append order, then a stable sort by event time.
    const chunkOf: number[] = [];
    const rowOf: number[] = [];
    const tsOf: number[] = [];
    h.chunks.forEach((ch, c) => {
      for (let i = 0; i < ch.length; i++) {
        const t = ch.ts[i] as number;
        if (t < cq.start || t >= cq.end) continue;
        if (wanted !== undefined && !wanted(ch.keys, i)) continue;
        chunkOf.push(c);
        rowOf.push(i);
        tsOf.push(t);
      }
    });
    const order = Array.from(tsOf.keys()).sort((a, b) => (tsOf[a] as number) - (tsOf[b] as number));
    const keyNames = h.columns.keys.map((c) => c.name);
    const featureNames = h.columns.features.map((c) => c.name);
    return order.map((j) => {
      const ch = h.chunks[chunkOf[j] as number] as CheckedBatch;
      const i = rowOf[j] as number;
      const row: Row = {};
      keyNames.forEach((name, k) => (row[name] = readKey(h.keyKinds[k] as ColumnKind, ch.keys[k]?.[i])));
      row["ts"] = ch.ts[i];
      featureNames.forEach((name, f) => (row[name] = readValue(h.featureKinds[f] as ColumnKind, ch.values[f]?.[i])));
      return row;
    });
  }

  async drop(table: string): Promise<void> {
    this.open();
    this.tables.delete(table);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.tables.clear();
  }

  private history(table: string): History {
    this.open();
    const h = this.tables.get(table);
    if (h === undefined) throw new UnknownTableError(table, [...this.tables.keys()]);
    return h;
  }

  private open(): void {
    if (this.closed) throw new StorageError("The in-memory table history store is closed; create a new MemoryTableHistory.");
  }
}

/** Whether row i's key tuple is one of the wanted ones. One key column compares values (Set equality: -0 is 0); several compare identities. */
function keyMatcher(wanted: ReadonlyArray<readonly StoredKey[]>): (keys: ReadonlyArray<readonly StoredKey[]>, i: number) => boolean {
  const [only] = wanted;
  if (wanted.length === 1 && only !== undefined) {
    const set = new Set<StoredKey>(only);
    return (keys, i) => set.has(keys[0]?.[i] as StoredKey);
  }
  const count = wanted[0]?.length ?? 0;
  const set = new Set<string>();
  for (let t = 0; t < count; t++) set.add(keyIdentity(wanted.map((col) => col[t] as StoredKey)));
  return (keys, i) => set.has(keyIdentity(keys.map((col) => col[i] as StoredKey)));
}
