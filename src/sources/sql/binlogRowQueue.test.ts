import { describe, expect, it } from "vitest";
import { RowQueue, type OpenTx } from "./binlogRowQueue.js";

const tx = (pos: number): OpenTx => ({ start: { file: "binlog.000001", pos }, windows: [], changes: 0, skip: 0, lastQueued: 0, committed: undefined });

describe("binlog row queue", () => {
  it("a batch ending inside a transaction is positioned at (its start, change number); one ending at its last row after its commit, once read", () => {
    const q = new RowQueue();
    const a = tx(100);
    for (let i = 1; i <= 5; i++) q.push({ id: i }, a, i);
    const first = q.take(2);
    expect(first.rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect(first.position).toEqual({ file: "binlog.000001", pos: 100, skip: 2, windows: [] });
    // The commit is read: only the transaction's last row moves past it.
    a.committed = { file: "binlog.000001", pos: 900, skip: 0 };
    const b = tx(900);
    q.push({ id: 6 }, b, 1);
    expect(q.take(2).position).toEqual({ file: "binlog.000001", pos: 100, skip: 4, windows: [] });
    expect(q.take(1).position).toEqual({ file: "binlog.000001", pos: 900, skip: 0 });
    expect(q.length).toBe(1);
    expect(q.take(1)).toEqual({ rows: [{ id: 6 }], position: { file: "binlog.000001", pos: 900, skip: 1, windows: [] } });
  });
});
