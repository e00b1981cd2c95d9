import { describe, expect, it } from "vitest";
import { binlogBytesAfter } from "./binlogLag.js";

describe("binlogBytesAfter", () => {
  const files = [
    { name: "binlog.000001", size: 1_000 },
    { name: "binlog.000002", size: 700 },
    { name: "binlog.000003", size: 256 },
  ];

  it("counts the rest of the position's file and every later file", () => {
    expect(binlogBytesAfter(files, { file: "binlog.000003", pos: 256 })).toBe(0);
    expect(binlogBytesAfter(files, { file: "binlog.000003", pos: 200 })).toBe(56);
    expect(binlogBytesAfter(files, { file: "binlog.000002", pos: 650 })).toBe(50 + 256);
    expect(binlogBytesAfter(files, { file: "binlog.000001", pos: 4 })).toBe(996 + 700 + 256);
  });

  it("is 0 for a position past its file's listed size, and unknown for a file the server no longer lists", () => {
    expect(binlogBytesAfter(files, { file: "binlog.000003", pos: 300 })).toBe(0);
    expect(binlogBytesAfter(files, { file: "binlog.000000", pos: 4 })).toBeUndefined();
  });
});
