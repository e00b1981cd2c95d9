/**
 * The Kafka source. No Kafka broker can be installed on this project's
 * machines (only the npm registry and Debian's packages are reachable, and
 * neither ships a broker), so:
 * - everything that needs no broker runs always: option errors, the
 *   unreachable-broker error and its time bound, calls out of order;
 * - the shared conformance suite (and a multi-partition test) runs against a
 *   broker you name: FRESHET_KAFKA_BROKERS=host:port npx vitest run test/kafkaSource.test.ts
 *   It is skipped otherwise, even under FRESHET_REQUIRE_SERVICES=1, which
 *   only requires the services these machines run.
 */
import { createServer } from "node:net";
import { Admin, Producer, stringSerializers } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionError, SourceError } from "../src/errors.js";
import { kafkaSource } from "../src/sources/kafka/kafkaSource.js";
import { StreamDecodeFailure, type StreamSource } from "../src/sources/stream/streamSource.js";
import { readN, streamSourceConformance, testRows, type TestRow } from "./streamSource.conformance.js";

const BROKERS = process.env.FRESHET_KAFKA_BROKERS?.trim() ?? "";
if (BROKERS === "") {
  console.warn(
    "skipping the Kafka conformance suite: no Kafka broker on this machine (none can be installed here; FRESHET_REQUIRE_SERVICES does not require one). " +
      "Run it against yours with FRESHET_KAFKA_BROKERS=host:port npx vitest run test/kafkaSource.test.ts",
  );
}

/** A local port where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const deadPort = await closedPort();
const unreachable = (): StreamSource =>
  kafkaSource({ brokers: [`127.0.0.1:${deadPort}`], topic: "nothing", groupId: "freshet-test", connectTimeoutMs: 1_000, retries: 1, retryDelayMs: 100, requestTimeoutMs: 2_000 });

describe("Kafka source without a broker", () => {
  it("rejects bad options when it is made, naming the field", () => {
    const make = (o: Record<string, unknown>): unknown => {
      try {
        kafkaSource({ brokers: ["127.0.0.1:9092"], topic: "clicks", groupId: "job", ...o });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const noTopic = make({ topic: "" });
    expect(noTopic).toBeInstanceOf(DefinitionError);
    expect((noTopic as DefinitionError).details.field).toBe("topic");
    expect((make({ brokers: "localhost" }) as DefinitionError).message).toMatch(/^kafka source: brokers: "localhost" is not "host:port"/);
    expect((make({ groupId: undefined }) as DefinitionError).details.field).toBe("groupId");
    expect((make({ fetchMaxWaitMs: -5 }) as DefinitionError).details.field).toBe("fetchMaxWaitMs");
  });

  it("describes where it reads, without the SASL password", () => {
    const s = kafkaSource({ brokers: "k1:9092,[::1]:9093", topic: "clicks", groupId: "job", sasl: { mechanism: "PLAIN", username: "u", password: "s3cret" } });
    expect(s.kind).toBe("kafka");
    expect(s.text).toBe(false);
    expect(s.description).toBe('Kafka topic "clicks" (group job) at k1:9092,[::1]:9093');
    expect(s.description).not.toContain("s3cret");
  });

  it("fails to open an unreachable broker with a SourceError naming Kafka and the broker, within the bound it is given", async () => {
    const s = unreachable();
    const t0 = performance.now();
    const err = await s.open(undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).code).toBe("SOURCE_ERROR");
    expect((err as Error).message).toMatch(new RegExp(`^Kafka at 127\\.0\\.0\\.1:${deadPort}: could not read the metadata of topic "nothing": .*Connection to 127\\.0\\.0\\.1:${deadPort} failed`));
    expect((err as Error).cause).toBeDefined();
    // 2 attempts of at most 1 s to connect, 100 ms apart; refused at once here.
    expect(took).toBeLessThan(8_000);
    await s.close();
    await s.close();
    // Closed after a failed open, it refuses reads like a source never opened.
    await expect(s.next(1, 0)).rejects.toThrow(/next\(\) before open\(\)/);
  }, 20_000);

  it("gives up on brokers that accept connections but never answer, within its timeouts", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    try {
      const s = kafkaSource({ brokers: [`127.0.0.1:${address.port}`], topic: "t", groupId: "g", connectTimeoutMs: 500, requestTimeoutMs: 500, retries: 0 });
      const t0 = performance.now();
      const err = await s.open(undefined).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceError);
      expect((err as Error).message).toMatch(new RegExp(`^Kafka at 127\\.0\\.0\\.1:${address.port}: could not read the metadata of topic "t"`));
      expect(performance.now() - t0).toBeLessThan(5_000);
      await s.close();
    } finally {
      silent.close();
    }
  }, 20_000);

  it("refuses calls before open, and a malformed position before connecting", async () => {
    const s = unreachable();
    await expect(s.next(10, 0)).rejects.toBeInstanceOf(SourceError);
    await expect(s.commit({ "0": "1" })).rejects.toThrow(/commit\(\) before open\(\)/);
    await expect(s.commit(12)).rejects.toThrow(/a position is an object of partition → next offset/);
    expect(await s.lag()).toBeUndefined();
    expect(s.stats()).toEqual({ read: 0, committed: 0 });
    const t0 = performance.now();
    await expect(s.open({ "0": 5 })).rejects.toThrow(/offset of partition 0 must be a whole number >= 0 written as text/);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it("checks next() arguments like every stream source", async () => {
    const s = unreachable();
    await expect(s.next(0, 10)).rejects.toThrow(/kafka source: maxRows must be a positive integer/);
    await expect(s.next(1, -1)).rejects.toThrow(/kafka source: maxWaitMs must be >= 0/);
  });
});

describe.skipIf(BROKERS === "")("Kafka source against FRESHET_KAFKA_BROKERS", () => {
  const brokers = BROKERS.split(",").map((b) => b.trim());
  let admin: Admin;
  let producer: Producer<string, string, string, string>;
  let run = 0;
  const unique = (): string => `freshet_test_${process.pid}_${Date.now()}_${run++}`;

  beforeAll(() => {
    admin = new Admin({ clientId: "freshet-test-admin", bootstrapBrokers: brokers });
    producer = new Producer({ clientId: "freshet-test-producer", bootstrapBrokers: brokers, serializers: stringSerializers });
  });
  afterAll(async () => {
    await producer.close();
    await admin.close();
  });

  async function newTopic(partitions = 1): Promise<string> {
    const topic = unique();
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    return topic;
  }

  /** Sends in order, to partition 0 unless told: one partition keeps one order. */
  async function send(topic: string, values: readonly string[], partition = 0): Promise<void> {
    for (let i = 0; i < values.length; i += 500) {
      await producer.send({ messages: values.slice(i, i + 500).map((value) => ({ topic, partition, value })) });
    }
  }

  streamSourceConformance("Kafka", {
    systemName: /Kafka/,
    unreachable,
    async fixture() {
      const topic = await newTopic();
      const groupId = unique();
      return {
        source: () => kafkaSource({ brokers, topic, groupId }),
        produce: (rows) => send(topic, rows.map((r) => JSON.stringify(r))),
        produceRaw: (payload) => send(topic, [payload]),
        teardown: () => admin.deleteTopics({ topics: [topic] }),
      };
    },
  });

  it("keeps one offset per partition in its position, and reads nothing again when opened from it", async () => {
    const topic = await newTopic(3);
    const groupId = unique();
    try {
      for (let p = 0; p < 3; p++) await send(topic, testRows(4, p * 100).map((r) => JSON.stringify(r)), p);
      const first = kafkaSource({ brokers, topic, groupId });
      await first.open(undefined);
      const { rows, position } = await readN(first, 12);
      expect(rows.map((r) => (r as TestRow).id).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 100, 101, 102, 103, 200, 201, 202, 203]);
      expect(position).toEqual({ "0": "4", "1": "4", "2": "4" });
      await first.commit(position ?? {});
      expect(first.stats()).toEqual({ read: 12, committed: 12 });
      expect(await first.lag()).toBe(0);
      await first.close();
      const again = kafkaSource({ brokers, topic, groupId });
      await again.open(JSON.parse(JSON.stringify(position)) as typeof position);
      expect((await again.next(10, 300)).rows).toEqual([]);
      await again.close();
    } finally {
      await admin.deleteTopics({ topics: [topic] });
    }
  });

  it("gives a decode failure its partition/offset, and a custom decoder's error its reason", async () => {
    const topic = await newTopic();
    try {
      await send(topic, ['{"id":1}', "plain text", '{"id":2}']);
      const s = kafkaSource({
        brokers,
        topic,
        groupId: unique(),
        decode: (value) => {
          const v = JSON.parse(value.toString("utf8")) as unknown;
          if (typeof v !== "object") throw new Error("not an object");
          return v;
        },
      });
      await s.open(undefined);
      const { rows } = await readN(s, 3);
      expect(rows[1]).toBeInstanceOf(StreamDecodeFailure);
      expect((rows[1] as StreamDecodeFailure).at).toBe("0/1");
      expect((rows[1] as StreamDecodeFailure).raw).toBe("plain text");
      expect((rows[1] as StreamDecodeFailure).reason).toMatch(/^decode failed: /);
      await s.close();
    } finally {
      await admin.deleteTopics({ topics: [topic] });
    }
  });

  // An offset retention deleted (below the earliest) is refused by startingOffsets, tested in kafkaPositions.test.ts.
  it("refuses to open from an offset past the end of the partition", async () => {
    const topic = await newTopic();
    try {
      await send(topic, ["{}", "{}"]);
      const s = kafkaSource({ brokers, topic, groupId: unique() });
      await expect(s.open({ "0": "7" })).rejects.toThrow(/saved offset 7 of topic .* partition 0 is after its latest offset \(2\)/);
      await s.close();
    } finally {
      await admin.deleteTopics({ topics: [topic] });
    }
  });
});
