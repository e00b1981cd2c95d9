import { describe, expect, it } from "vitest";
import { MemoryStream } from "../sources/memory/memoryStream.js";
import { defineServe, materializeInputs, streamSources } from "./serveConfig.js";

describe("serve config source tags", () => {
  const offline = { weather: [{ date: 0 }] };
  it("materialize names a tag of sources, or maps datasets itself", () => {
    expect(materializeInputs(defineServe({ sources: { offline, online: {} }, materialize: "offline" }))).toEqual(offline);
    expect(materializeInputs(defineServe({ materialize: offline }))).toBe(offline);
    expect(materializeInputs(defineServe({}))).toEqual({});
  });
  it("an unknown tag is an error naming the tags there are", () => {
    expect(() => materializeInputs(defineServe({ sources: { offline }, materialize: "history" }))).toThrow(/the source tag "history" is not in serve.sources, which has "offline"/);
  });
  it("freshet run takes the stream sources of a tag; streams cannot be materialized and files cannot be run", () => {
    const stream = new MemoryStream().source();
    const config = defineServe({ sources: { offline, online: { weather: stream } }, materialize: "online" });
    expect(streamSources(config, "online")).toEqual({ weather: stream });
    expect(() => materializeInputs(config)).toThrow(/gives dataset "weather" a memory stream, which cannot be replayed as history/);
    expect(() => streamSources(config, "offline")).toThrow(/gives dataset "weather" an array, not a stream source/);
  });
});
