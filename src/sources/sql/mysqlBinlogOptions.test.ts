import { describe, expect, it } from "vitest";
import { DefinitionError } from "../../errors.js";
import { checkOptions, type MysqlBinlogSourceOptions } from "./mysqlBinlogOptions.js";
import { mysqlBinlogSource } from "./mysqlBinlogSource.js";

const url = "mysql://user:secret@db.example:3307/shop";

describe("mysqlBinlogSource options", () => {
  it("fills in the defaults and names the address without the password", () => {
    const o = checkOptions({ url, table: "orders" });
    expect(o).toMatchObject({ address: "db.example:3307/shop", table: "orders", snapshot: true, updates: "emit", deletes: "skip", batch: 10_000, timestamps: "date", decimalsAsText: false });
    expect(o.serverId).toBeGreaterThanOrEqual(2 ** 20);
    expect(o.serverId).toBeLessThan(2 ** 31);
    expect(mysqlBinlogSource({ url, table: "orders" }).description).toBe("MariaDB/MySQL db.example:3307/shop binlog of table `orders`");
  });

  it("rejects each bad option with a DefinitionError naming its field", () => {
    const cases: Array<[Partial<MysqlBinlogSourceOptions>, string]> = [
      [{ table: "" }, "table"],
      [{ schema: "" }, "schema"],
      [{ columns: [] }, "columns"],
      [{ columns: ["a", ""] }, "columns"],
      [{ updates: "after" as never }, "updates"],
      [{ deletes: "tombstone" as never }, "deletes"],
      [{ batch: 0 }, "batch"],
      [{ batch: 1.5 }, "batch"],
      [{ serverId: 0 }, "serverId"],
      [{ serverId: 2 ** 32 }, "serverId"],
      [{ timestamps: "unix" as never }, "timestamps"],
      [{ snapshot: "yes" as never }, "snapshot"],
      [{ operationField: "" }, "operationField"],
    ];
    for (const [bad, field] of cases) {
      let err: unknown;
      try {
        checkOptions({ url, table: "orders", ...bad });
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(DefinitionError);
      expect((err as DefinitionError).details.field).toBe(field);
      expect((err as Error).message).toMatch(new RegExp(`^mysqlBinlogSource: ${field} `));
    }
  });
});
