import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StreamDecodeFailure } from "../stream/streamSource.js";
import { decodeKafkaJson, kafkaRow, type KafkaRecordLike } from "./kafkaMessage.js";
import type { KafkaMessageMeta } from "./kafkaOptions.js";

function record(value: string | undefined, more: Partial<KafkaRecordLike> = {}): KafkaRecordLike {
  return {
    topic: "clicks",
    partition: 2,
    offset: 9_007_199_254_740_993n,
    timestamp: 1_700_000_000_123n,
    value: value === undefined ? undefined : Buffer.from(value, "utf8"),
    key: undefined,
    headers: new Map(),
    ...more,
  };
}

describe("kafka message → row", () => {
  it("parses a JSON value by default", () => {
    expect(kafkaRow(record('{"id":7,"user":"u1"}'), decodeKafkaJson)).toEqual({ id: 7, user: "u1" });
  });

  it("turns a value that is not JSON into a decode failure at partition/offset, with the raw text", () => {
    const row = kafkaRow(record("{not json"), decodeKafkaJson);
    expect(row).toBeInstanceOf(StreamDecodeFailure);
    expect(row).toMatchObject({ raw: "{not json", at: "2/9007199254740993" });
    expect((row as StreamDecodeFailure).reason).toMatch(/^payload is not JSON: /);
  });

  it("turns a tombstone (no value) into a decode failure", () => {
    expect(kafkaRow(record(undefined), decodeKafkaJson)).toEqual(new StreamDecodeFailure("message has no value (a tombstone)", "", "2/9007199254740993"));
    expect(kafkaRow({ ...record(undefined), value: null }, decodeKafkaJson)).toBeInstanceOf(StreamDecodeFailure);
  });

  it("gives a custom decoder the message's place, key, timestamp and headers as text", () => {
    let seen: KafkaMessageMeta | undefined;
    const row = kafkaRow(
      record("v", { key: Buffer.from("k1"), headers: new Map<Buffer, Buffer | null>([[Buffer.from("source"), Buffer.from("web")], [Buffer.from("empty"), null]]) }),
      (value, meta) => {
        seen = meta;
        return { v: value.toString("utf8") };
      },
    );
    expect(row).toEqual({ v: "v" });
    expect(seen).toEqual({
      topic: "clicks",
      partition: 2,
      offset: "9007199254740993",
      key: Buffer.from("k1"),
      timestamp: 1_700_000_000_123,
      headers: new Map([["source", "web"], ["empty", ""]]),
    });
  });

  it("turns a custom decoder's error into a decode failure with its reason, truncating the raw text", () => {
    const long = "x".repeat(1_500);
    const row = kafkaRow(record(long), () => {
      throw new TypeError("not an order");
    });
    expect(row).toBeInstanceOf(StreamDecodeFailure);
    expect((row as StreamDecodeFailure).reason).toBe("decode failed: not an order");
    expect((row as StreamDecodeFailure).raw).toHaveLength(1_000);
  });

  it("never throws, whatever the bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (bytes, partition, offset) => {
        const row = kafkaRow({ ...record(undefined), value: Buffer.from(bytes), partition, offset }, decodeKafkaJson);
        if (row instanceof StreamDecodeFailure) expect(row.at).toBe(`${partition}/${offset}`);
      }),
    );
  });
});
