import type { AggregateOperator } from "../engine/aggregateOperator.js";
import type { OperatorTableRuntime } from "../engine/operatorTable.js";
import type { TableRuntime } from "../engine/runtime.js";
import { DefinitionError } from "../errors.js";
import type { HistoryBatch, HistoryStore } from "../stores/offline/historyStore.js";
import { replayHistory, replayHistoryStreamed, replayOperatorHistory, sourcesOf } from "./historical.js";

/**
 * What point-in-time reads read: each table rebuilt from the recorded
 * history of its sources (never its online state, which may have evicted
 * or, under a processing policy, skipped events), cached until a source's
 * history changes.
 */
export class HistoryReplicas {
  private readonly aggregates = new Map<string, { version: string; op: AggregateOperator }>();
  private readonly operatorTables = new Map<string, { version: number; table: OperatorTableRuntime }>();

  constructor(private readonly history: HistoryStore) {}

  /** The whole history of every source a table reads; refused when one is not recorded. */
  async histories(t: TableRuntime): Promise<Map<string, HistoryBatch>> {
    assertRecorded(t);
    const out = new Map<string, HistoryBatch>();
    for (const d of sourcesOf(t)) out.set(d.name, await this.history.scan(d.name, d.schema, d.timestamp));
    return out;
  }

  /** An aggregate table over every recorded event of its sources. */
  async aggregate(t: TableRuntime): Promise<AggregateOperator> {
    const version = sourcesOf(t)
      .map((d) => `${d.name}@${this.history.version(d.name)}`)
      .join(",");
    const cached = this.aggregates.get(t.def.name);
    if (cached !== undefined && cached.version === version) return cached.op;
    assertRecorded(t);
    const op = (await replayHistoryStreamed(t, this.history)) ?? replayHistory(t, await this.histories(t));
    this.aggregates.set(t.def.name, { version, op });
    return op;
  }

  /** A policy table's exact history (its online state skips inputs): every recorded input computed. Other operator tables read as they are. */
  async operatorTable(t: OperatorTableRuntime): Promise<OperatorTableRuntime> {
    const src = t.source.def;
    if (t.policy === undefined) return t;
    if (src.record === false) throw new DefinitionError(`table "${t.def.name}" has a processing policy and reads dataset "${src.name}", which is not recorded (record: false): point-in-time reads need its history`, { dataset: src.name });
    const version = this.history.version(src.name);
    const cached = this.operatorTables.get(t.def.name);
    if (cached?.version === version) return cached.table;
    const table = t.exactReplica();
    await replayOperatorHistory(table, await this.history.scan(src.name, src.schema, src.timestamp));
    this.operatorTables.set(t.def.name, { version, table });
    return table;
  }
}

/** Refuses a table reading a dataset that is not recorded: point-in-time reads need its history. */
function assertRecorded(t: TableRuntime): void {
  for (const d of sourcesOf(t)) {
    if (d.record === false) throw new DefinitionError(`table "${t.def.name}" reads dataset "${d.name}", which is not recorded (record: false): point-in-time and offline reads need its history`, { dataset: d.name });
  }
}
