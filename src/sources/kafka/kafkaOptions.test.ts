import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DefinitionError } from "../../errors.js";
import { kafkaErrorMessage } from "./kafkaErrorMessage.js";
import { connectBudgetMs, formatBroker, kafkaSettings, parseBroker, type KafkaSourceOptions } from "./kafkaOptions.js";

const base: KafkaSourceOptions = { brokers: ["127.0.0.1:9092"], topic: "clicks", groupId: "freshet-job" };

/** The DefinitionError thrown for these options (fails the test when none is). */
function problem(options: unknown): DefinitionError {
  try {
    kafkaSettings(options as KafkaSourceOptions);
  } catch (e) {
    if (e instanceof DefinitionError) return e;
    throw e;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

describe("kafka source options", () => {
  it("fills in the defaults", () => {
    expect(kafkaSettings(base)).toEqual({
      brokers: [{ host: "127.0.0.1", port: 9092 }],
      topic: "clicks",
      groupId: "freshet-job",
      clientId: "freshet",
      start: "earliest",
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 10_000,
      retries: 2,
      retryDelayMs: 500,
      fetchMaxWaitMs: 500,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      rebalanceTimeoutMs: 60_000,
      groupInstanceId: undefined,
      bufferMessages: 1_024,
    });
  });

  it("takes brokers as a list or one comma-separated string, IPv6 in brackets", () => {
    expect(kafkaSettings({ ...base, brokers: "a.example:9092, b-2.example:9093" }).brokers).toEqual([
      { host: "a.example", port: 9092 },
      { host: "b-2.example", port: 9093 },
    ]);
    expect(kafkaSettings({ ...base, brokers: ["[::1]:9092"] }).brokers).toEqual([{ host: "::1", port: 9092 }]);
  });

  it("formats a broker back to the text it was parsed from (property)", () => {
    const host = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/), fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65_535 }), (h, port) => {
        const text = h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`;
        expect(formatBroker(parseBroker(text))).toBe(text);
      }),
    );
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ["no brokers", { brokers: [] }, "brokers", /brokers must be a non-empty list/],
    ["a broker without a port", { brokers: ["localhost"] }, "brokers", /brokers: "localhost" is not "host:port"/],
    ["a port out of range", { brokers: ["h:70000"] }, "brokers", /port 70000, outside 1\.\.65535/],
    ["port 0", { brokers: ["h:0"] }, "brokers", /outside 1\.\.65535/],
    ["a URL for a broker", { brokers: ["kafka://h:9092"] }, "brokers", /is not "host:port"/],
    ["a broker that is not text", { brokers: [9092] }, "brokers", /brokers: each must be a "host:port" string, got 9092/],
    ["no topic", { topic: undefined }, "topic", /topic must be a Kafka topic name/],
    ["a topic with a space", { topic: "my topic" }, "topic", /topic must be a Kafka topic name.*"my topic"/],
    ["a topic too long", { topic: "t".repeat(250) }, "topic", /1 to 249/],
    ["an empty groupId", { groupId: " " }, "groupId", /groupId must be a non-empty string/],
    ["a bad clientId", { clientId: "a/b" }, "clientId", /clientId must be a client id/],
    ["a bad start", { start: "committed" }, "start", /start must be "earliest" or "latest", got "committed"/],
    ["a decode that is not a function", { decode: "json" }, "decode", /decode must be a function/],
    ["a negative timeout", { connectTimeoutMs: -1 }, "connectTimeoutMs", /connectTimeoutMs must be a whole number >= 1, got -1/],
    ["a fractional retry count", { retries: 1.5 }, "retries", /retries must be a whole number >= 0/],
    ["a zero buffer", { bufferMessages: 0 }, "bufferMessages", /bufferMessages must be a whole number >= 1/],
    ["a heartbeat as long as the session", { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 3_000 }, "heartbeatIntervalMs", /must be below sessionTimeoutMs/],
    ["a heartbeat as long as a rebalance", { rebalanceTimeoutMs: 2_000 }, "heartbeatIntervalMs", /must be below rebalanceTimeoutMs \(2000\)/],
    ["an unknown SASL mechanism", { sasl: { mechanism: "GSSAPI", username: "u", password: "p" } }, "sasl", /sasl\.mechanism must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/],
    ["SASL without a password", { sasl: { mechanism: "PLAIN", username: "u" } }, "sasl", /needs a username and a password/],
  ])("rejects %s, naming the field", (_, change, field, message) => {
    const e = problem({ ...base, ...change });
    expect(e.details.field).toBe(field);
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/^kafka source: /);
    expect(e.message).toContain(field);
  });

  it("rejects options that are not an object", () => {
    expect(problem(undefined).message).toMatch(/options must be an object with brokers, topic and groupId/);
  });

  it("bounds the time to give up on brokers that do not answer", () => {
    expect(connectBudgetMs({ connectTimeoutMs: 1_000, requestTimeoutMs: 2_000, retries: 2, retryDelayMs: 100 })).toBe(9_200);
  });
});

describe("kafka driver error messages", () => {
  it("brings the nested cause up, once", () => {
    const refused = new Error("Connection to 127.0.0.1:1 failed.");
    const any = new AggregateError([refused], "Cannot connect to any broker.");
    const e = new AggregateError([any, new AggregateError([refused], "Cannot connect to any broker.")], "metadata failed 2 times.");
    expect(kafkaErrorMessage(e)).toBe("metadata failed 2 times: Cannot connect to any broker: Connection to 127.0.0.1:1 failed");
  });

  it("follows causes and keeps a plain message as it is", () => {
    expect(kafkaErrorMessage(new Error("outer", { cause: new Error("inner") }))).toBe("outer: inner");
    expect(kafkaErrorMessage("text")).toBe("text");
  });
});
