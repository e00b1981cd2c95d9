import { describe, expect, it } from "vitest";
import { defineServe, materializeInputs } from "./serveConfig.js";

describe("serve config source tags", () => {
  const offline = { weather: [{ date: 0 }] };
  it("materialize names a tag of sources, or maps datasets itself", () => {
    expect(materializeInputs(defineServe({ sources: { offline, online: {} }, materialize: "offline" }))).toBe(offline);
    expect(materializeInputs(defineServe({ materialize: offline }))).toBe(offline);
    expect(materializeInputs(defineServe({}))).toEqual({});
  });
  it("an unknown tag is an error naming the tags there are", () => {
    expect(() => materializeInputs(defineServe({ sources: { offline }, materialize: "history" }))).toThrow(/names the source tag "history", but serve.sources has "offline"/);
  });
});
