/**
 * The NATS JetStream source against the real server (nats://127.0.0.1:4222,
 * started with -js). Each fixture creates its own stream, deleted afterwards.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DefinitionError, SourceError } from "../src/errors.js";
import { natsSource, type NatsSourceOptions } from "../src/sources/nats/natsSource.js";
import { StreamDecodeFailure, type StreamSource } from "../src/sources/stream/streamSource.js";
import { SERVICES, serviceAvailable } from "./helpers/services.js";
import { readN, streamSourceConformance, testRows, type TestRow } from "./streamSource.conformance.js";

const natsUp = await serviceAvailable("nats");

let run = 0;
const unique = (): string => `freshet_test_${process.pid}_${Date.now()}_${run++}`;

describe.skipIf(!natsUp)("NATS JetStream source", () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  const streams: string[] = [];
  const sources: StreamSource[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: SERVICES.nats.url });
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  });
  afterAll(async () => {
    await nc.close();
  });
  afterEach(async () => {
    for (const s of sources.splice(0)) await s.close();
    for (const name of streams.splice(0)) await jsm.streams.delete(name).catch(() => false);
  });

  /** A new stream `name` on subjects `name.>`, deleted after the test. */
  async function newStream(limits: { max_msgs?: number } = {}): Promise<string> {
    const name = unique();
    await jsm.streams.add({ name, subjects: [`${name}.>`], ...limits });
    streams.push(name);
    return name;
  }

  async function publish(subject: string, payloads: readonly string[]): Promise<void> {
    // Published in call order on one connection, so the stream keeps this order.
    for (let i = 0; i < payloads.length; i += 500) await Promise.all(payloads.slice(i, i + 500).map((p) => js.publish(subject, p)));
  }

  function source(stream: string, more: Partial<NatsSourceOptions> = {}): StreamSource {
    const s = natsSource({ servers: SERVICES.nats.url, stream, durable: "job", ...more });
    sources.push(s);
    return s;
  }

  const ids = (rows: readonly unknown[]): number[] => rows.map((r) => (r as TestRow).id);

  streamSourceConformance("NATS JetStream", {
    systemName: /NATS/,
    async fixture() {
      const name = unique();
      await jsm.streams.add({ name, subjects: [`${name}.>`] });
      const options: NatsSourceOptions = { servers: SERVICES.nats.url, stream: name, durable: "job", batch: 500 };
      return {
        source: () => natsSource(options),
        produce: (rows) => publish(`${name}.events`, rows.map((r) => JSON.stringify(r))),
        produceRaw: (payload) => publish(`${name}.events`, [payload]),
        childSource: { factory: "natsSource", module: "../src/sources/nats/natsSource.ts", options },
        // Positions are stream sequences, and the stream holds only what the case produced.
        positionAfter: (n) => n,
        afterCrash: async (read) => {
          // The rows the dead reader took are still delivered and unacknowledged on the server.
          expect((await jsm.consumers.info(name, "job")).num_ack_pending).toBeGreaterThanOrEqual(read);
        },
        teardown: async () => {
          await jsm.streams.delete(name).catch(() => false);
        },
      };
    },
    unreachable: () => natsSource({ servers: "nats://127.0.0.1:4299", stream: "s", durable: "job", connectTimeoutMs: 2_000 }),
  });

  it("after a crash before commit, reopening from the checkpointed position loses and duplicates nothing", async () => {
    const name = await newStream();
    await publish(`${name}.e`, testRows(40).map((r) => JSON.stringify(r)));
    const first = source(name, { batch: 16 });
    await first.open(undefined);
    const checkpointed = await readN(first, 12, 6);
    expect(checkpointed.position).toBe(12);
    // Read on past the checkpoint and never commit: the process dies here.
    const lost = await readN(first, 9, 9);
    expect(ids(lost.rows)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20]);
    await first.close();
    const before = await jsm.consumers.info(name, "job");
    expect(before.num_ack_pending).toBeGreaterThanOrEqual(9);

    const again = source(name, { batch: 16 });
    await again.open(checkpointed.position);
    const { rows, position } = await readN(again, 28, 10);
    expect(ids(rows)).toEqual(Array.from({ length: 28 }, (_, i) => 12 + i));
    expect(position).toBe(40);
    expect((await again.next(10, 200)).rows).toEqual([]);
    // The recreated consumer starts just after the checkpoint: nothing before it is pending or redelivered.
    await again.commit(40);
    const after = await jsm.consumers.info(name, "job");
    expect(after.ack_floor.stream_seq).toBe(40);
    expect(after.num_ack_pending).toBe(0);
    expect(again.stats()).toEqual({ read: 28, committed: 28 });
  });

  it("commit acknowledges on the server up to the position, and a clean reopen keeps the durable", async () => {
    const name = await newStream();
    await publish(`${name}.e`, testRows(10).map((r) => JSON.stringify(r)));
    const s = source(name, { batch: 4 });
    await s.open(undefined);
    const a = await readN(s, 6, 3);
    expect(a.position).toBe(6);
    await s.commit(3);
    expect((await jsm.consumers.info(name, "job")).ack_floor.stream_seq).toBe(3);
    expect(s.stats().committed).toBe(3);
    await s.commit(a.position ?? 0);
    expect((await jsm.consumers.info(name, "job")).ack_floor.stream_seq).toBe(6);
    expect(s.stats().committed).toBe(6);
    const rest = await readN(s, 4, 4);
    await s.commit(rest.position ?? 0);
    const info = await jsm.consumers.info(name, "job");
    expect(info.ack_floor.stream_seq).toBe(10);
    await s.close();
    await publish(`${name}.e`, testRows(2, 10).map((r) => JSON.stringify(r)));
    const again = source(name, { batch: 4 });
    await again.open(10);
    expect((await jsm.consumers.info(name, "job")).created).toBe(info.created);
    expect(ids((await readN(again, 2)).rows)).toEqual([10, 11]);
  });

  it("never hands out a message twice within one open, even when the ack wait elapses before a commit", async () => {
    const name = await newStream();
    await publish(`${name}.e`, testRows(30).map((r) => JSON.stringify(r)));
    const s = source(name, { batch: 10, ackWaitMs: 1_000 });
    await s.open(undefined);
    const a = await readN(s, 10, 10);
    await new Promise((r) => setTimeout(r, 2_500)); // the server redelivers the unacked ones
    const b = await readN(s, 20, 7);
    expect(ids([...a.rows, ...b.rows])).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // The server did redeliver (so the test exercises the skip).
    expect((await jsm.consumers.info(name, "job")).num_redelivered).toBeGreaterThan(0);
    expect((await s.next(50, 1_500)).rows).toEqual([]);
    expect(s.stats().read).toBe(30);
  }, 20_000);

  it("notices a delivery that never reached it (a gap in the consumer's delivery numbers) and reads it again", async () => {
    const name = await newStream();
    await publish(`${name}.e`, testRows(20).map((r) => JSON.stringify(r)));
    const s = source(name, { batch: 5 });
    await s.open(undefined);
    const a = await s.next(5, 1_000);
    expect(ids(a.rows)).toEqual([0, 1, 2, 3, 4]);
    // Deliveries sent into a connection that then dropped look, to this reader, like deliveries to someone else.
    const thief = await js.consumers.get(name, "job");
    const stolen: number[] = [];
    for await (const m of await thief.fetch({ max_messages: 3, expires: 1_000 })) stolen.push(m.seq);
    expect(stolen).toHaveLength(3);
    const rest = await readN(s, 15, 4);
    expect(ids([...a.rows, ...rest.rows])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(rest.position).toBe(20);
    expect((await s.next(10, 300)).rows).toEqual([]);
    await s.commit(20);
    expect((await jsm.consumers.info(name, "job")).ack_floor.stream_seq).toBe(20);
    expect(s.stats()).toEqual({ read: 20, committed: 20 });
  });

  it("reads only the configured subject; positions are stream sequences", async () => {
    const name = await newStream();
    for (let i = 0; i < 6; i++) await publish(`${name}.${i % 2 === 0 ? "a" : "b"}`, [JSON.stringify({ id: i })]);
    const s = source(name, { subject: `${name}.b` });
    await s.open(undefined);
    const b = await s.next(10, 1_000);
    expect(ids(b.rows)).toEqual([1, 3, 5]);
    expect(b.position).toBe(6);
    expect(await s.lag()).toBe(0);
  });

  it("start: new reads only what is published after open", async () => {
    const name = await newStream();
    await publish(`${name}.e`, testRows(5).map((r) => JSON.stringify(r)));
    const s = source(name, { start: "new" });
    await s.open(undefined);
    expect((await s.next(10, 200)).rows).toEqual([]);
    await publish(`${name}.e`, testRows(2, 5).map((r) => JSON.stringify(r)));
    const b = await readN(s, 2);
    expect(ids(b.rows)).toEqual([5, 6]);
    expect(b.position).toBe(7);
  });

  it("names the sequence of an undecodable message, and uses a custom decoder", async () => {
    const name = await newStream();
    await publish(`${name}.e`, ['{"id":0}', "oops", "id=2"]);
    const s = source(name);
    await s.open(undefined);
    const { rows } = await readN(s, 3);
    expect(rows[1]).toBeInstanceOf(StreamDecodeFailure);
    expect(rows[1]).toMatchObject({ at: "2", raw: "oops" });
    const custom = source(name, {
      durable: "custom",
      decode: (p) => {
        const text = Buffer.from(p).toString("utf8");
        if (!text.startsWith("id=")) throw new Error("not id=N");
        return { id: Number(text.slice(3)) };
      },
    });
    await custom.open(2);
    const c = await readN(custom, 1);
    expect(c.rows).toEqual([{ id: 2 }]);
    await custom.close();
    await custom.open(0);
    const all = await readN(custom, 3);
    expect(all.rows[0]).toMatchObject({ reason: "decode failed: not id=N", at: "1", raw: '{"id":0}' });
  });

  it("refuses a position whose following messages the stream's limits removed", async () => {
    const name = await newStream({ max_msgs: 5 });
    await publish(`${name}.e`, testRows(10).map((r) => JSON.stringify(r)));
    const s = source(name);
    await expect(s.open(2)).rejects.toThrow(/no longer holds the messages after position 2: its first sequence is 6/);
    await s.open(5);
    expect(ids((await readN(s, 5)).rows)).toEqual([5, 6, 7, 8, 9]);
  });

  it("fails to open a missing stream with a SourceError naming it, and rejects bad positions", async () => {
    const s = source("freshet_no_such_stream");
    const err = await s.open(undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toBe(
      'NATS JetStream at nats://127.0.0.1:4222 has no stream "freshet_no_such_stream": create it (nats stream add) or fix the stream name.',
    );
    await expect(s.open("12")).rejects.toThrow(/stream sequence/);
    await expect(s.next(1, 0)).rejects.toThrow(/before open/);
  });

  it("rejects bad options with a DefinitionError naming the field", () => {
    const fieldOf = (o: Partial<NatsSourceOptions>): string | undefined => {
      try {
        natsSource({ servers: SERVICES.nats.url, stream: "s", durable: "d", ...o } as NatsSourceOptions);
        return undefined;
      } catch (e) {
        expect(e).toBeInstanceOf(DefinitionError);
        return (e as DefinitionError).details.field;
      }
    };
    expect(fieldOf({ servers: [] })).toBe("servers");
    expect(fieldOf({ stream: "a.b" })).toBe("stream");
    expect(fieldOf({ durable: "" })).toBe("durable");
    expect(fieldOf({ batch: 0 })).toBe("batch");
    expect(fieldOf({ ackWaitMs: 10 })).toBe("ackWaitMs");
    expect(fieldOf({ start: "last" as "new" })).toBe("start");
    expect(fieldOf({ subject: "a b" })).toBe("subject");
    expect(fieldOf({})).toBeUndefined();
    expect(natsSource({ servers: "nats://user:secret@127.0.0.1:4222", stream: "s", durable: "d" }).description).toBe(
      "NATS JetStream nats://127.0.0.1:4222 stream s (durable d)",
    );
  });
});
