/**
 * An online job over a stream: `freshet run examples/stream-job.ts --tag <tag> --dir .freshet-job`
 * consumes `orders` from the source the tag names, keeps per-user spend
 * features up to date, checkpoints every second and serves them:
 *
 *   curl localhost:8080/v1/online/user_spend/u1
 *
 * Each tag reads the same orders from another system (the tests run the
 * nats, redis, postgres and mysql tags against the local servers):
 *   nats      a NATS JetStream stream "orders" (subjects orders.>)
 *   redis     a Redis stream "orders" (each entry's field "data" holds the JSON order), consumer group "freshet"
 *   postgres  a PostgreSQL table orders(id, user, amount, ts), read by (ts, id) then polled
 *   mysql     the same table in MySQL/MariaDB
 *   mysql-binlog  the same table's changes from the MariaDB/MySQL binary log (a snapshot, then inserts);
 *             the server needs log_bin and binlog_format=ROW, so FRESHET_MYSQL_BINLOG names it (the tests start a private one)
 *   kafka     a Kafka topic "orders" (not tested here: no broker on this project's machines)
 * EXAMPLE_ORDERS renames the stream, table or topic; the FRESHET_* variables move the servers.
 * EXAMPLE_EXPORT=redis://127.0.0.1:6379 also writes user_spend to that Redis online store after
 * each checkpoint (EXAMPLE_REDIS_PREFIX: its key prefix), for other servers to read.
 */
import { avg, count, dataset, defineServe, kafkaSource, mysqlBinlogSource, mysqlTableSource, natsSource, postgresTableSource, redisStreamSource, sum, t } from "../src/index.js";

const name = process.env.EXAMPLE_ORDERS ?? "orders";
const env = (key: string, fallback: string): string => process.env[key] ?? fallback;

export const orders = dataset("orders", { user: t.string(), amount: t.float(), ts: t.timestamp() }, { timestamp: "ts", lateness: "10s" });

export const userSpend = orders
  .groupBy("user")
  .aggregate({
    orders_1h: count({ window: "1h" }),
    spend_1h: sum("amount", { window: "1h" }),
    avg_order_1d: avg("amount", { window: "1d" }),
  })
  .as("user_spend");

export const serve = defineServe({
  clock: "event", // windows as of the stream's watermark: the values do not depend on when you look
  sources: {
    nats: { orders: natsSource({ servers: env("FRESHET_NATS", "nats://127.0.0.1:4222"), stream: name, durable: `${name}_job` }) },
    redis: { orders: redisStreamSource({ url: env("FRESHET_REDIS", "redis://127.0.0.1:6379"), stream: name, group: "freshet", consumer: "job-1" }) },
    postgres: { orders: postgresTableSource({ url: env("FRESHET_POSTGRES", "postgres://postgres@127.0.0.1:5432/test"), table: name, cursor: ["ts", "id"], columns: ["id", "user", "amount", "ts"] }) },
    mysql: { orders: mysqlTableSource({ url: env("FRESHET_MYSQL", "mysql://root@127.0.0.1:3306/test"), table: name, cursor: ["ts", "id"], columns: ["id", "user", "amount", "ts"] }) },
    "mysql-binlog": { orders: mysqlBinlogSource({ url: env("FRESHET_MYSQL_BINLOG", "mysql://root@127.0.0.1:3306/test"), table: name, columns: ["user", "amount", "ts"] }) },
    kafka: { orders: kafkaSource({ brokers: env("FRESHET_KAFKA_BROKERS", "127.0.0.1:9092").split(","), topic: name, groupId: "freshet" }) },
  },
  job: { tag: "nats", checkpointEveryMs: 1_000, ...(process.env.EXAMPLE_EXPORT === undefined ? {} : { exportTo: process.env.EXAMPLE_EXPORT }) },
  ...(process.env.EXAMPLE_REDIS_PREFIX === undefined ? {} : { redisPrefix: process.env.EXAMPLE_REDIS_PREFIX }),
});
