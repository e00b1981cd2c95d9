import { decodeJson, decoderThrew, StreamDecodeFailure } from "../stream/streamSource.js";
import { kafkaErrorMessage } from "./kafkaErrorMessage.js";
import type { KafkaMessageMeta } from "./kafkaOptions.js";

/** The parts of a fetched message a row is made from (the driver's Message has them). */
export interface KafkaRecordLike {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  /** Undefined (or null) for a tombstone. */
  readonly value: Buffer | undefined | null;
  readonly key: Buffer | undefined | null;
  readonly headers: ReadonlyMap<Buffer | string, Buffer | string | undefined | null>;
}

export type KafkaDecode = (value: Buffer, meta: KafkaMessageMeta) => unknown;

/** The default: the value is JSON text. */
export const decodeKafkaJson: KafkaDecode = (value, meta) => decodeJson(value, `${meta.partition}/${meta.offset}`);

/**
 * One row from one message: what `decode` returns, or a StreamDecodeFailure
 * placed at "partition/offset" when the message has no value or `decode`
 * throws. Never throws itself, so one bad message cannot stop a batch.
 */
export function kafkaRow(m: KafkaRecordLike, decode: KafkaDecode): unknown {
  const at = `${m.partition}/${m.offset}`;
  const value = m.value;
  if (value === undefined || value === null) return new StreamDecodeFailure("message has no value (a tombstone)", "", at);
  // The default needs only the value: no meta (a headers map per message) is built for it.
  if (decode === decodeKafkaJson) return decodeJson(value, at);
  const headers = new Map<string, string>();
  for (const [k, v] of m.headers) headers.set(k.toString(), v === undefined || v === null ? "" : v.toString());
  const meta: KafkaMessageMeta = { topic: m.topic, partition: m.partition, offset: String(m.offset), key: m.key ?? undefined, timestamp: Number(m.timestamp), headers };
  try {
    return decode(value, meta);
  } catch (e) {
    return decoderThrew(kafkaErrorMessage(e), value, at);
  }
}
