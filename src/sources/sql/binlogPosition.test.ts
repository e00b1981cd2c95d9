import { describe, expect, it } from "vitest";
import { SourceError } from "../../errors.js";
import { binlogPositionJson, changeWanted, compareBinlogPoints, compareKeys, parseBinlogPosition, windowsAhead, type BinlogWindow } from "./binlogPosition.js";

describe("binlog positions", () => {
  it("orders points by file number, then offset, also when the number grows a digit", () => {
    const sorted = [
      { file: "binlog.000002", pos: 4 },
      { file: "binlog.000001", pos: 900 },
      { file: "binlog.1000000", pos: 4 },
      { file: "binlog.000001", pos: 120 },
      { file: "binlog.999999", pos: 7 },
    ].sort(compareBinlogPoints);
    expect(sorted.map((p) => `${p.file}:${p.pos}`)).toEqual(["binlog.000001:120", "binlog.000001:900", "binlog.000002:4", "binlog.999999:7", "binlog.1000000:4"]);
  });

  it("orders integer keys exactly, column by column, beyond 2^53", () => {
    expect(compareKeys(["9007199254740993"], ["9007199254740992"])).toBe(1);
    expect(compareKeys(["-5", "2"], ["-5", "10"])).toBe(-1);
    expect(compareKeys(["3", "1"], ["3", "1"])).toBe(0);
  });

  it("a change before a window's point counts only for rows at or below its key; after the last window, every change counts", () => {
    const windows: BinlogWindow[] = [
      { at: { file: "b.000001", pos: 500 }, key: ["10"] },
      { at: { file: "b.000002", pos: 100 }, key: ["20"] },
    ];
    const at = (file: string, pos: number) => ({ file, pos });
    expect(changeWanted(windows, at("b.000001", 200), ["10"])).toBe(true);
    expect(changeWanted(windows, at("b.000001", 200), ["11"])).toBe(false);
    expect(changeWanted(windows, at("b.000001", 500), ["15"])).toBe(true);
    expect(changeWanted(windows, at("b.000001", 900), ["21"])).toBe(false);
    expect(changeWanted(windows, at("b.000002", 100), ["21"])).toBe(true);
    expect(changeWanted([{ at: at("b.000001", 500), key: null }], at("b.000001", 200), ["-100"])).toBe(false);
    expect(windowsAhead(windows, at("b.000001", 500))).toEqual([windows[1]]);
    expect(windowsAhead(windows, at("b.000003", 4))).toEqual([]);
  });

  it("survives a JSON round trip and rejects what is not a position", () => {
    const p = { file: "binlog.000003", pos: 1581, skip: 2, snapshot: { after: ["29"] }, windows: [{ at: { file: "binlog.000004", pos: 4 }, key: null }] };
    const json = JSON.parse(JSON.stringify(binlogPositionJson(p)));
    expect(json).toEqual({ file: "binlog.000003", pos: 1581, skip: 2, snapshot: { after: ["29"] }, windows: [{ file: "binlog.000004", pos: 4, key: null }] });
    expect(parseBinlogPosition(json)).toEqual(p);
    expect(binlogPositionJson({ file: "b.1", pos: 4, skip: 0, windows: [] })).toEqual({ file: "b.1", pos: 4, skip: 0 });
    for (const bad of [null, 5, "binlog.000001:4", { file: "", pos: 4, skip: 0 }, { file: "b", pos: -1, skip: 0 }, { file: "b", pos: 4, skip: 1.5 }, { file: "b", pos: 4, skip: 0, snapshot: { after: ["x"] } }, { file: "b", pos: 4, skip: 0, windows: {} }]) {
      expect(() => parseBinlogPosition(bad as never)).toThrow(SourceError);
    }
  });
});
