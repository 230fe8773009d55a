import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isTaifengError } from "../errors.ts";
import { defineTool, ToolSet } from "./define.ts";
import { normalizeResult } from "./result.ts";

const noop = () => "";

describe("defineTool", () => {
  it("derives JSON Schema from zod and validates input with model-readable messages", () => {
    const tool = defineTool({
      name: "search",
      description: "d",
      schema: z.object({ query: z.string().describe("what"), limit: z.number().int().default(10) }),
      execute: noop,
    });
    expect(tool.parameters).toMatchObject({
      type: "object",
      properties: { query: { type: "string", description: "what" }, limit: { type: "integer", default: 10 } },
      required: ["query"],
    });
    expect(tool.parameters.$schema).toBeUndefined();
    expect(tool.parse({ query: "x" })).toEqual({ ok: true, value: { query: "x", limit: 10 } });
    const bad = tool.parse({ query: 1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.message).toContain("Invalid input for tool search");
      expect(bad.message).toContain("- query:");
      expect(bad.message).toContain("call the tool again");
    }
  });

  it("accepts a JSON Schema, sends it verbatim and validates against it", () => {
    const schema = {
      type: "object",
      properties: { n: { type: "number" } },
      required: ["n"],
      additionalProperties: false,
    };
    const tool = defineTool({ name: "j", description: "d", schema, execute: noop });
    expect(tool.parameters).toBe(schema);
    expect(tool.parse({ n: 2 }).ok).toBe(true);
    expect(tool.parse({}).ok).toBe(false);
    expect(tool.parse({ n: 1, extra: true }).ok).toBe(false);
  });

  it("defaults concurrencySafe to readOnly", () => {
    const ro = defineTool({
      name: "a",
      description: "d",
      schema: z.object({}),
      readOnly: true,
      execute: noop,
    });
    const rw = defineTool({ name: "b", description: "d", schema: z.object({}), execute: noop });
    const rwSafe = defineTool({
      name: "c",
      description: "d",
      schema: z.object({}),
      concurrencySafe: true,
      execute: noop,
    });
    expect([
      ro.readOnly,
      ro.concurrencySafe,
      rw.readOnly,
      rw.concurrencySafe,
      rwSafe.concurrencySafe,
    ]).toEqual([true, true, false, false, true]);
  });

  it("rejects bad names and non-object schemas with invalid_tool", () => {
    const bad = (f: () => unknown) => expect(f).toThrow(expect.objectContaining({ code: "invalid_tool" }));
    bad(() => defineTool({ name: "has space", description: "d", schema: z.object({}), execute: noop }));
    bad(() => defineTool({ name: "s", description: "d", schema: z.string(), execute: noop }));
    bad(() => defineTool({ name: "t", description: "d", schema: { type: "string" }, execute: noop }));
  });
});

describe("ToolSet", () => {
  it("orders specs by name regardless of registration order and refuses duplicates", () => {
    const mk = (name: string) => defineTool({ name, description: name, schema: z.object({}), execute: noop });
    const set = new ToolSet([mk("zeta"), mk("alpha"), mk("mid")]);
    expect(set.specs.map((s) => s.name)).toEqual(["alpha", "mid", "zeta"]);
    expect(new ToolSet([mk("mid"), mk("alpha"), mk("zeta")]).specs).toEqual(set.specs);
    try {
      set.with([mk("alpha")]);
      expect.unreachable();
    } catch (err) {
      expect(isTaifengError(err, "invalid_tool")).toBe(true);
    }
  });
});

describe("normalizeResult", () => {
  it("maps every return shape to an output", () => {
    expect(normalizeResult("x")).toEqual({ output: "x", isError: false });
    expect(normalizeResult(undefined)).toEqual({ output: "", isError: false });
    expect(normalizeResult({ output: "bad", isError: true })).toEqual({ output: "bad", isError: true });
    expect(normalizeResult({ a: 1 })).toEqual({ output: '{"a":1}', isError: false });
    const parts = [{ type: "image", mediaType: "image/png", data: "AA==" }];
    expect(normalizeResult({ output: parts })).toEqual({ output: parts, isError: false });
    expect(normalizeResult({ output: 3 })).toEqual({ output: '{"output":3}', isError: false });
  });
});
