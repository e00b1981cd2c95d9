import { describe, expect, it } from "vitest";
import { streamSourceConformance } from "../../../test/streamSource.conformance.js";
import { SourceError } from "../../errors.js";
import { MemoryStream } from "./memoryStream.js";

streamSourceConformance("memory", {
  systemName: /memory/,
  async fixture() {
    const stream = new MemoryStream();
    return { source: () => stream.source("job"), produce: async (rows) => stream.append(rows), teardown: async () => {} };
  },
});

describe("MemoryStream", () => {
  it("rejects a position that is not a message count", async () => {
    const s = new MemoryStream().source();
    await expect(s.open("abc")).rejects.toBeInstanceOf(SourceError);
    await expect(s.open(-1)).rejects.toThrow(/whole number >= 0/);
  });
  it("keeps the acknowledged position per consumer", async () => {
    const stream = new MemoryStream();
    stream.append([{ a: 1 }, { a: 2 }, { a: 3 }]);
    const s = stream.source("c1");
    await s.open(undefined);
    const b = await s.next(2, 0);
    await s.commit(b.position);
    expect(stream.acked.get("c1")).toBe(2);
    expect(stream.acked.get("c2")).toBeUndefined();
  });
});
