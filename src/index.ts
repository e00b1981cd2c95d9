/** Freshet's public API: the DSL, the FeatureStore, sources and errors. Nothing internal. */
export { t } from "./core/schema.js";
export type { FieldType, FieldKind, Schema, RowOf, Row } from "./core/schema.js";
export { parseDuration, type Duration } from "./core/duration.js";
export { ManualClock, wallClock, type Clock } from "./core/clock.js";
export { MAX_KEY_GROUPS, keyGroupOf } from "./core/keys.js";
export { dataset, Dataset, SourceDataset, type InferRow, type DatasetOptions } from "./dsl/dataset.js";
export { GroupedDataset, AggregatedDataset } from "./dsl/grouped.js";
export { Table, OperatorTable, type TableRow, type TableKeys, type AnyTable, type TableMeta } from "./dsl/table.js";
export { Operator, type OperatorFn, type OperatorLike, type OperatorOutput, type ApplyOptions } from "./dsl/operator.js";
export { onDemand, OnDemandFeature, type OnDemandSpec, type OnDemandInput, type OnDemandRow, type AnyOnDemand } from "./dsl/onDemand.js";
export {
  count,
  sum,
  avg,
  min,
  max,
  stddev,
  variance,
  first,
  last,
  firstK,
  lastK,
  distinctCount,
  approxDistinct,
  approxQuantile,
  topK,
  decayedSum,
  tumbling,
  hopping,
  sliding,
  forever,
  session,
  type WindowSpec,
  type Aggregation,
  type WindowOptions,
  type ValueCount,
} from "./dsl/aggregations.js";
export type { AggKind } from "./plan/nodes.js";
export {
  FeatureStore,
  type OpenOptions,
  type MaterializeOptions,
  type IngestReport,
  type PushOptions,
  type OnlineReadOptions,
  type HistoricalOptions,
  type StoreStats,
  type DatasetStats,
  type Progress,
} from "./featureStore/featureStore.js";
export type { RowInput, OnError } from "./featureStore/inputs.js";
export type { EmittedRows } from "./engine/aggregateOperator.js";
export type { DeadLetter, DeadLetterReason } from "./engine/deadLetters.js";
export { rowsSource, type RowSource } from "./sources/rowSource.js";
export { csvSource, type CsvSourceOptions } from "./sources/files/csvSource.js";
export { jsonlSource, type JsonlSourceOptions } from "./sources/files/jsonlSource.js";
export { parquetSource, type ParquetSourceOptions } from "./sources/files/parquetSource.js";
export { generatorSource, mulberry32, type GeneratorSourceOptions } from "./sources/generator/generatorSource.js";
export * from "./errors.js";
export { defineServe, type ServeConfig } from "./serving/serveConfig.js";
export { createServer, type ServerOptions, type FreshetServer } from "./serving/server.js";
export type { TokenConfig, TokenScope } from "./serving/auth.js";
export { startServer, type ServeOptions, type RunningServer } from "./cli/serve.js";
export { FreshetClient, ServerError, type ClientOptions, type FeatureColumn } from "./client/freshetClient.js";
export type { OnlineStore, OnlineWrite, FeatureRead, FeatureValue, FeatureStatus, ReadOptions, WriteOptions, WriteOrder } from "./stores/online/onlineStore.js";
export { MemoryOnlineStore } from "./stores/online/memoryOnlineStore.js";
export { LmdbOnlineStore } from "./stores/online/lmdbOnlineStore.js";
export { RedisOnlineStore } from "./stores/online/redisOnlineStore.js";
export type { Registry, FeatureSpec, FeatureRecord, EntitySpec, EntityRecord, TableSpec, TableRecord, FeatureStats, HistogramBin, FeatureDataType } from "./registry/registry.js";
export { FileRegistry } from "./registry/fileRegistry.js";
export { PostgresRegistry } from "./registry/postgresRegistry.js";
export type { TableInfo, DatasetInfo, ColumnInfo } from "./featureStore/catalog.js";
export type { TrainingSetSpec, FeatureSelection, LabelSpec, HistoricalColumns, HistoricalColumnsOptions } from "./featureStore/trainingSet.js";
export { writeRows } from "./stores/offline/rowFiles.js";
export type { ReplayOptions, ReplayReport, ReplayBatch, ReplayTarget } from "./featureStore/recordedStream.js";
export type { ServedRead, SkewReport, FeatureSkew } from "./featureStore/skewCheck.js";
export { ReadLog, loadReadLog, type LoggedRead } from "./serving/readLog.js";
export { rowsToArrow } from "./stores/offline/arrowTable.js";
export { postgresQuerySource, type PostgresQueryOptions } from "./sources/sql/postgresQuerySource.js";
export type { OfflineQuery } from "./featureStore/offlineRows.js";
export type { TableHistoryStore, TableColumns, TableHistoryBatch, TableHistoryQuery } from "./stores/offline/tableHistoryStore.js";
export { MemoryTableHistory } from "./stores/offline/memoryTableHistory.js";
export { ParquetTableHistory } from "./stores/offline/parquetTableHistory.js";
export { PostgresTableHistory } from "./stores/offline/postgresTableHistory.js";
export { isStreamSource, StreamDecodeFailure, type StreamSource, type StreamBatch, type SourcePosition, type StreamSourceStats } from "./sources/stream/streamSource.js";
export { MemoryStream } from "./sources/memory/memoryStream.js";
export { natsSource, type NatsSourceOptions } from "./sources/nats/natsSource.js";
export { OnlineJob, type JobInput, type OnlineJobOptions, type JobStats, type JobSourceStats, type CheckpointReport, type JobExport } from "./job/onlineJob.js";
export { CheckpointStateStore } from "./stores/online/checkpointStateStore.js";
export { FileCheckpointMedium, type CheckpointMedium } from "./stores/online/checkpointMedium.js";
export { RedisCheckpointMedium, type RedisCheckpointOptions, type RedisDurability } from "./stores/online/redisCheckpointMedium.js";
export { startJob, type RunOptions, type RunningJob } from "./cli/run.js";
export type { JobConfig } from "./serving/serveConfig.js";
export { kafkaSource } from "./sources/kafka/kafkaSource.js";
export type { KafkaSourceOptions, KafkaMessageMeta, KafkaSasl } from "./sources/kafka/kafkaOptions.js";
export { redisStreamSource, type RedisStreamSourceOptions } from "./sources/redisStreams/redisStreamSource.js";
export { postgresTableSource, type PostgresTableSourceOptions } from "./sources/sql/postgresTableSource.js";
export { postgresReplicationSource, type PostgresReplicationSourceOptions } from "./sources/sql/postgresReplicationSource.js";
export { mysqlTableSource, type MysqlTableSourceOptions } from "./sources/sql/mysqlTableSource.js";
export { mysqlBinlogSource, type MysqlBinlogSource, type MysqlBinlogSourceOptions, type BinlogChangeCounts } from "./sources/sql/mysqlBinlogSource.js";
export type { TableSourceOptions } from "./sources/sql/keysetPoller.js";
export type { PolicyOptions, PolicyErrorFn, ShedOption, BudgetOption, ScheduleKind } from "./dsl/policy.js";
export type { PolicyStats, KeyPolicyStats } from "./engine/policies/policyStats.js";
