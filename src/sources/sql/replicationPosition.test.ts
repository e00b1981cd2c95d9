import { describe, expect, it } from "vitest";
import { SourceError } from "../../errors.js";
import { formatLsn, isAfter, parseLsn, parsePosition, positionJson, type ReplicationPosition } from "./replicationPosition.js";

describe("replication positions", () => {
  it("reads and writes LSNs as PostgreSQL does, past 32 bits", () => {
    expect(parseLsn("16/B374D848")).toBe((0x16n << 32n) | 0xb374d848n);
    expect(parseLsn("0/0")).toBe(0n);
    expect(formatLsn((0x16n << 32n) | 0xb374d848n)).toBe("16/B374D848");
    expect(formatLsn(parseLsn("ff/a") ?? -1n)).toBe("FF/A");
    for (const bad of ["", "16", "16/", "/1", "g/1", "1/2/3", "123456789/0"]) expect(parseLsn(bad)).toBeUndefined();
  });

  it("orders changes by commit LSN, then by index in the transaction", () => {
    const p: ReplicationPosition = { lsn: 100n, n: 3, resumed: [] };
    expect(isAfter(100n, 3, p)).toBe(false);
    expect(isAfter(100n, 2, p)).toBe(false);
    expect(isAfter(100n, 4, p)).toBe(true);
    expect(isAfter(99n, 50, p)).toBe(false);
    expect(isAfter(101n, 1, p)).toBe(true);
  });

  it("survives a JSON round trip with and without a snapshot in progress", () => {
    const streaming: ReplicationPosition = { lsn: parseLsn("1/2A") ?? 0n, n: 7, resumed: [] };
    expect(positionJson(streaming)).toEqual({ lsn: "1/2A", n: 7 });
    const snapshot: ReplicationPosition = { lsn: 5n, n: 0, snapshotAfter: ["2024-01-01T00:00:00Z", "12"], resumed: [{ after: [], lsn: 9n }, { after: ["a", "1"], lsn: 12n }] };
    const json = JSON.parse(JSON.stringify(positionJson(snapshot))) as Parameters<typeof parsePosition>[0];
    expect(json).toEqual({ lsn: "0/5", n: 0, snapshot: ["2024-01-01T00:00:00Z", "12"], resumed: [{ after: [], lsn: "0/9" }, { after: ["a", "1"], lsn: "0/C" }] });
    expect(parsePosition(json)).toEqual(snapshot);
    expect(parsePosition(positionJson(streaming))).toEqual(streaming);
  });

  it("rejects positions of another shape with a SourceError showing the expected one", () => {
    for (const bad of [3, "0/1", ["0/1", 2], { lsn: "x", n: 0 }, { lsn: "0/1", n: -1 }, { lsn: "0/1", n: 1.5 }, { lsn: "0/1", n: 0, snapshot: [1] }, { lsn: "0/1", n: 0, resumed: [{ after: [] }] }]) {
      expect(() => parsePosition(bad)).toThrow(SourceError);
    }
    expect(() => parsePosition({ lsn: "0/1" })).toThrow(/\{ lsn: "0\/1942840", n: 3 \}/);
  });
});
