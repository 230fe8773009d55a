import { describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event } from "../protocol/index.ts";
import { defineTool } from "../tool/define.ts";
import { canonicalJson, withResultCache } from "./result-cache.ts";

describe("withResultCache", () => {
  it("answers a repeated read from the cache (visible as progress), until the TTL", async () => {
    let runs = 0;
    let clock = 0;
    const lookup = withResultCache(
      defineTool({
        name: "lookup",
        description: "Looks up.",
        schema: z.object({ q: z.string(), n: z.number().optional() }),
        readOnly: true,
        execute: ({ q }) => `result ${q} #${++runs}`,
      }),
      { ttlMs: 1_000, now: () => clock },
    );
    const sim = new SimClient({
      name: "c",
      script: [
        { toolCalls: [{ id: "a", name: "lookup", arguments: { q: "x", n: 1 } }] },
        { toolCalls: [{ id: "b", name: "lookup", arguments: { n: 1, q: "x" } }] },
        () => {
          clock = 5_000;
          return { toolCalls: [{ id: "c", name: "lookup", arguments: { q: "x", n: 1 } }] };
        },
        { text: "done" },
      ],
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: sim,
      tools: [lookup],
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("go");
    await engine.close();
    const outs = events.flatMap((e) =>
      e.msg.type === "tool_call_completed" ? [`${e.msg.callId} ${String(e.msg.output)}`] : [],
    );
    expect(outs).toEqual(["a result x #1", "b result x #1", "c result x #2"]);
    const progress = events.flatMap((e) =>
      e.msg.type === "tool_call_progress" ? [[e.msg.callId, e.msg.data]] : [],
    );
    expect(progress).toEqual([["b", { cache: "hit", ageMs: 0 }]]);
    expect(lookup.stats()).toEqual({ size: 1, hits: 1, misses: 2 });
  });

  it("never caches a tool with side effects, nor a failure", async () => {
    const write = defineTool({
      name: "write",
      description: "Writes.",
      schema: z.object({}),
      execute: () => "ok",
    });
    expect(() => withResultCache(write, { ttlMs: 1 })).toThrow(
      /tool "write" is not read-only: its results cannot be cached/,
    );
    let n = 0;
    const flaky = withResultCache(
      defineTool({
        name: "flaky",
        description: "Fails once.",
        schema: z.object({}),
        readOnly: true,
        execute: () => (++n === 1 ? { output: "down", isError: true } : "up"),
      }),
      { ttlMs: 60_000 },
    );
    const ctx = {
      signal: new AbortController().signal,
      threadId: "t",
      turnId: "u",
      callId: "c",
      cwd: "/",
      progress() {},
    };
    expect(await flaky.execute({}, ctx)).toEqual({ output: "down", isError: true });
    expect(await flaky.execute({}, ctx)).toBe("up");
    expect(await flaky.execute({}, ctx)).toBe("up");
    expect(n).toBe(2);
  });

  it("keys by canonical JSON", () => {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[1,{"c":2,"d":1}]}');
  });
});
