import { describe, expect, it } from "vitest";
import { DefinitionError } from "../../errors.js";
import { mysqlTableSource } from "./mysqlTableSource.js";
import { postgresTableSource } from "./postgresTableSource.js";

const base = { url: "postgres://postgres@127.0.0.1:1/test", table: "orders", cursor: ["updated_at", "id"] };

/** The DefinitionError a factory throws for bad options, checked for its message and field. */
function rejected(make: () => unknown): DefinitionError {
  try {
    make();
  } catch (e) {
    expect(e).toBeInstanceOf(DefinitionError);
    return e as DefinitionError;
  }
  throw new Error("no error was thrown");
}

describe("table source options", () => {
  const cases: Array<[string, Record<string, unknown>, RegExp, string]> = [
    ["an empty table name", { table: "" }, /table must be a non-empty name, got ""/, "table"],
    ["a schema with a NUL", { schema: "a\0b" }, /schema must be a non-empty name/, "schema"],
    ["no cursor column", { cursor: [] }, /cursor must name at least one column/, "cursor"],
    ["a cursor column twice", { cursor: ["id", "id"] }, /cursor names a column twice: id, id/, "cursor"],
    ["a blank cursor column", { cursor: ["ts", ""] }, /each cursor column must be a non-empty name/, "cursor"],
    ["no columns", { columns: [] }, /columns, when given, must name at least one column/, "columns"],
    ["a fractional pollMs", { pollMs: 1.5 }, /pollMs must be a whole number >= 1, got 1.5/, "pollMs"],
    ["a zero batch", { batch: 0 }, /batch must be a whole number >= 1, got 0/, "batch"],
    ["a negative settleMs", { settleMs: -1 }, /settleMs must be a whole number >= 0, got -1/, "settleMs"],
    ["an unknown timestamps mode", { timestamps: "epoch" }, /timestamps must be "date", "iso" or "ms", got "epoch"/, "timestamps"],
  ];
  for (const [what, change, message, field] of cases) {
    it(`refuses ${what}, naming the source and the field`, () => {
      const pg = rejected(() => postgresTableSource({ ...base, ...change } as never));
      expect(pg.message).toMatch(/^postgresTableSource: /);
      expect(pg.message).toMatch(message);
      expect(pg.details.field).toBe(field);
      const my = rejected(() => mysqlTableSource({ ...base, url: "mysql://root@127.0.0.1:1/test", ...change } as never));
      expect(my.message).toMatch(/^mysqlTableSource: /);
      expect(my.details.field).toBe(field);
    });
  }
});
