import { describe, expect, it } from "vitest";
import { ResponseAssembler } from "./assemble.ts";
import type { ModelEvent } from "./types.ts";

function assemble(events: ModelEvent[]) {
  const asm = new ResponseAssembler();
  const completed = events.map((e) => asm.push(e)).filter((c) => c !== undefined);
  return { completed, result: asm.result(), asm };
}

describe("ResponseAssembler", () => {
  it("keeps the model's order of reasoning, text and calls, with provider data", () => {
    const { completed, result } = assemble([
      { type: "reasoning_delta", delta: "plan " },
      { type: "reasoning_delta", delta: "it" },
      { type: "reasoning_end", providerData: { anthropic: { signature: "sig" } } },
      { type: "text_delta", delta: "Doing " },
      { type: "text_delta", delta: "it." },
      { type: "tool_call_start", callId: "c1", name: "a" },
      { type: "tool_call_start", callId: "c2", name: "b" },
      { type: "tool_call_delta", callId: "c2", delta: '{"x"' },
      { type: "tool_call_delta", callId: "c1", delta: "{}" },
      { type: "tool_call_delta", callId: "c2", delta: ":1}" },
      { type: "tool_call_end", callId: "c2" },
      {
        type: "tool_call_end",
        callId: "c1",
        arguments: '{"full":true}',
        providerData: { google: { sig: "t" } },
      },
      { type: "finish", reason: "tool_calls" },
    ]);
    expect(result.items).toEqual([
      { type: "reasoning", text: "plan it", providerData: { anthropic: { signature: "sig" } } },
      { type: "message", role: "assistant", content: [{ type: "text", text: "Doing it." }] },
      { type: "function_call", callId: "c2", name: "b", arguments: '{"x":1}' },
      {
        type: "function_call",
        callId: "c1",
        name: "a",
        arguments: '{"full":true}',
        providerData: { google: { sig: "t" } },
      },
    ]);
    expect(completed.map((c) => c.callId)).toEqual(["c2", "c1"]);
    expect(result.text).toBe("Doing it.");
    expect(result.finish).toBe("tool_calls");
  });

  it("splits text runs separated by reasoning into separate items", () => {
    const { result } = assemble([
      { type: "text_delta", delta: "a" },
      { type: "reasoning_delta", delta: "r" },
      { type: "text_delta", delta: "b" },
      { type: "finish", reason: "stop" },
    ]);
    expect(result.items.map((i) => i.type)).toEqual(["message", "reasoning", "message"]);
    expect(result.text).toBe("ab");
  });

  it("drops calls cut off mid-stream and records the error", () => {
    const { result, asm } = assemble([
      { type: "tool_call_start", callId: "c1", name: "a" },
      { type: "tool_call_delta", callId: "c1", delta: "{" },
      { type: "error", error: { code: "network", message: "reset", source: "model", retryable: true } },
    ]);
    expect(asm.pendingCalls).toBe(1);
    expect(result.items).toEqual([]);
    expect(result.error?.code).toBe("network");
    expect(result.finish).toBeUndefined();
  });

  it("keeps an empty text part when it carries provider data", () => {
    const { result } = assemble([
      { type: "text_end", providerData: { google: { thoughtSignature: "s" } } },
      { type: "finish", reason: "stop" },
    ]);
    expect(result.items).toEqual([
      {
        type: "message",
        role: "assistant",
        content: [{ type: "text", text: "" }],
        providerData: { google: { thoughtSignature: "s" } },
      },
    ]);
  });
});
