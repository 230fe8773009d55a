import { describe, expect, it } from "vitest";
import { anthropicBody } from "../llm/providers/anthropic-request.ts";
import { chatBody, OPENAI_DIALECT } from "../llm/providers/openai-chat-request.ts";
import type { ModelRequest } from "../llm/types.ts";

/** A thread that ran on OpenAI Responses (encrypted reasoning), then on Anthropic (signed thinking). */
const request: ModelRequest = {
  system: "s",
  tools: [],
  items: [
    { type: "message", role: "user", content: [{ type: "text", text: "q1" }] },
    {
      type: "reasoning",
      text: "openai thoughts",
      providerData: { openai: { id: "rs_1", encrypted_content: "enc" } },
    },
    { type: "message", role: "assistant", content: [{ type: "text", text: "a1" }] },
    { type: "message", role: "user", content: [{ type: "text", text: "q2" }] },
    { type: "reasoning", text: "claude thoughts", providerData: { anthropic: { signature: "sig" } } },
    { type: "message", role: "assistant", content: [{ type: "text", text: "a2" }] },
    { type: "message", role: "user", content: [{ type: "text", text: "q3" }] },
  ],
};

describe("switching providers mid-thread", () => {
  it("Anthropic gets its own signed thinking back and none of OpenAI's reasoning", () => {
    const body = JSON.stringify(
      anthropicBody(request, { model: "m", maxTokens: 100, cache: false, structuredOutput: "native" }),
    );
    expect(body).toContain('"signature":"sig"');
    expect(body).not.toContain("openai thoughts");
    expect(body).not.toContain("enc");
  });

  it("Chat Completions gets neither provider's reasoning, only the conversation", () => {
    const body = chatBody(request, { model: "m", dialect: OPENAI_DIALECT }) as {
      messages: { role: string; content: unknown }[];
    };
    const text = JSON.stringify(body);
    expect(text).not.toContain("thoughts");
    expect(text).not.toContain("sig");
    expect(body.messages.map((m) => `${m.role}:${String(m.content)}`)).toEqual([
      "system:s",
      "user:q1",
      "assistant:a1",
      "user:q2",
      "assistant:a2",
      "user:q3",
    ]);
  });
});
