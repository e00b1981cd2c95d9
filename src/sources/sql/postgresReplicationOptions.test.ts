import { describe, expect, it } from "vitest";
import { DefinitionError } from "../../errors.js";
import { checkReplicationOptions } from "./postgresReplicationOptions.js";

const base = { url: "postgres://app:secret@db:5432/shop", table: "orders", slot: "orders_job" };

describe("postgresReplicationSource options", () => {
  it("fills the defaults: publication from the slot, batch 10,000, the address without the password", () => {
    expect(checkReplicationOptions(base)).toMatchObject({ publication: "freshet_orders_job", batch: 10_000, address: "db:5432/shop" });
  });

  it.each([
    [{ slot: "Orders" }, "slot", /slot must be 1 to 63 lower-case letters/],
    [{ slot: "9jobs" }, "slot", /not starting with a digit/],
    [{ publication: "my-pub" }, "publication", /publication must be/],
    [{ table: "" }, "table", /table must be a non-empty name/],
    [{ columns: [] }, "columns", /at least one column/],
    [{ updates: "after" }, "updates", /updates must be "emit" or "skip", got "after"/],
    [{ deletes: "emit" }, "deletes", /needs operationField/],
    [{ timestamps: "unix" }, "timestamps", /timestamps must be "date" or "iso" or "ms"/],
    [{ batch: 0 }, "batch", /batch must be a whole number >= 1, got 0/],
  ])("rejects %j, naming the field", (bad, field, message) => {
    let caught: unknown;
    try {
      checkReplicationOptions({ ...base, ...(bad as object) });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DefinitionError);
    expect((caught as DefinitionError).details.field).toBe(field);
    expect((caught as Error).message).toMatch(message);
  });
});
