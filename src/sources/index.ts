/** Row sources (files, generators, in-memory rows) and the parser that types their rows. */
export * from "./rowSource.js";
export * from "./rowParser.js";
export * from "./files/csvSource.js";
export * from "./files/jsonlSource.js";
export * from "./files/parquetSource.js";
export * from "./generator/generatorSource.js";
