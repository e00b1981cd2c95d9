/**
 * The binlog source opened, when no position is given, at a binlog point the
 * test chose (the end of the binlog when the table was made) instead of a
 * snapshot: so the shared conformance suite, which writes rows before it opens
 * a reader, reads them from the binary log. A factory the crash case can call
 * in a child process.
 */
import { mysqlBinlogSource, type MysqlBinlogSource, type MysqlBinlogSourceOptions } from "../../src/sources/sql/mysqlBinlogSource.js";
import type { SourcePosition } from "../../src/sources/stream/streamSource.js";

export interface BinlogFromOptions extends MysqlBinlogSourceOptions {
  readonly start: { readonly file: string; readonly pos: number };
}

export function binlogSourceFrom(options: BinlogFromOptions): MysqlBinlogSource {
  const { start, ...rest } = options;
  const source = mysqlBinlogSource({ ...rest, snapshot: false });
  return {
    kind: source.kind,
    description: source.description,
    text: source.text,
    open: (from: SourcePosition | undefined) => source.open(from ?? { file: start.file, pos: start.pos, skip: 0 }),
    next: (maxRows, maxWaitMs) => source.next(maxRows, maxWaitMs),
    commit: (position) => source.commit(position),
    lag: () => source.lag(),
    lagBytes: () => source.lagBytes(),
    stats: () => source.stats(),
    changes: () => source.changes(),
    close: () => source.close(),
  };
}
