import { describe, expect, it } from "vitest";
import { isTaifengError } from "../../src/errors.ts";
import { parseModelOptions, splitModelSpec } from "../../src/llm/model-options.ts";
import { createModel } from "../../src/llm/resolve.ts";
import type { ModelClient, ModelRequest } from "../../src/llm/types.ts";
import { textMessage } from "../../src/protocol/index.ts";
import { useReplayServer } from "./expected.ts";
import type { Framing, ReplayServer } from "./replay-server.ts";

/**
 * Every documented provider option is reachable through the model spec the CLI and the
 * library share: validated with the provider's schema, and sent by the official SDK in the
 * request body the provider documents.
 */

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const FIXTURE: Record<string, { file: string; framing: Framing }> = {
  anthropic: { file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
  openai: { file: "azure__azure-text.1.chunks.txt", framing: "responses" },
  "openai-chat": { file: "openai__openai-text.chunks.txt", framing: "chat" },
  deepseek: { file: "deepseek__deepseek-text.chunks.txt", framing: "chat" },
  google: { file: "google__google-text.chunks.txt", framing: "gemini" },
};

const request = (extra: Partial<ModelRequest> = {}): ModelRequest => ({
  system: "Be brief.",
  items: [textMessage("user", "hi")],
  tools: [],
  ...extra,
});

async function sent(
  spec: string,
  modelOptions: Record<string, unknown> | undefined,
  extra: Partial<ModelRequest> = {},
): Promise<Record<string, unknown>> {
  const provider = spec.slice(0, spec.indexOf(":"));
  const fixture = FIXTURE[provider];
  if (!fixture) throw new Error(`no fixture for ${provider}`);
  server.queue({ kind: "fixture", ...fixture });
  const model: ModelClient = await createModel(spec, {
    baseUrl: server.url,
    env: { ANTHROPIC_API_KEY: "k", OPENAI_API_KEY: "k", DEEPSEEK_API_KEY: "k", GEMINI_API_KEY: "k" },
    ...(modelOptions ? { modelOptions } : {}),
  });
  for await (const ev of model.stream(request(extra)))
    if (ev.type === "error") throw new Error(ev.error.message);
  const body = server.requests.at(-1)?.body;
  if (!body) throw new Error("nothing was sent");
  return body;
}

describe("provider options through createModel", () => {
  it("Anthropic: thinking, max_tokens, sampling, service tier and metadata", async () => {
    const body = await sent("anthropic:claude-sonnet-4-5", {
      thinking: { budget_tokens: 4000 },
      max_tokens: 16000,
      top_p: 0.9,
      stop_sequences: ["END"],
      service_tier: "standard_only",
      metadata: { user_id: "u-1" },
    });
    expect(body).toMatchObject({
      thinking: { type: "enabled", budget_tokens: 4000 },
      max_tokens: 16000,
      top_p: 0.9,
      stop_sequences: ["END"],
      service_tier: "standard_only",
      metadata: { user_id: "u-1" },
    });
  });

  it("OpenAI Responses: reasoning, verbosity beside the structured-output format, tier, limits", async () => {
    const body = await sent(
      "openai:gpt-5-mini",
      {
        reasoning: { effort: "low", summary: "auto" },
        text: { verbosity: "low" },
        service_tier: "flex",
        max_output_tokens: 2000,
        prompt_cache_retention: "24h",
      },
      { responseFormat: { type: "json_schema", name: "out", schema: { type: "object" } } },
    );
    expect(body).toMatchObject({
      reasoning: { effort: "low", summary: "auto" },
      text: { verbosity: "low", format: { type: "json_schema", name: "out" } },
      service_tier: "flex",
      max_output_tokens: 2000,
      prompt_cache_retention: "24h",
      store: false,
    });
  });

  it("Chat Completions: reasoning_effort, temperature, seed and stop", async () => {
    const body = await sent("openai-chat:gpt-4.1-mini", {
      reasoning_effort: "minimal",
      temperature: 0.2,
      seed: 7,
      stop: ["\n\n"],
      extra_body: { top_k: 20 },
    });
    expect(body).toMatchObject({
      reasoning_effort: "minimal",
      temperature: 0.2,
      seed: 7,
      stop: ["\n\n"],
      top_k: 20,
    });
    expect(body).not.toHaveProperty("extra_body");
  });

  it("DeepSeek: thinking mode and max_tokens", async () => {
    const body = await sent("deepseek:deepseek-chat", { thinking: { type: "enabled" }, max_tokens: 4096 });
    expect(body).toMatchObject({ thinking: { type: "enabled" }, max_tokens: 4096 });
  });

  it("Gemini: thinkingConfig and generation settings under their SDK names", async () => {
    const body = await sent("google:gemini-2.5-flash", {
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
      temperature: 0.3,
      maxOutputTokens: 512,
      topK: 40,
    });
    expect(body.generationConfig).toMatchObject({
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
      temperature: 0.3,
      maxOutputTokens: 512,
      topK: 40,
    });
  });

  it("reads options written inside the spec, per link of a chain", async () => {
    const body = await sent(
      "anthropic:claude-sonnet-4-5?thinking.budget_tokens=2048&max_tokens=8000",
      undefined,
    );
    expect(body).toMatchObject({ thinking: { type: "enabled", budget_tokens: 2048 }, max_tokens: 8000 });
    expect(
      splitModelSpec('openai:gpt-5?reasoning.effort=low,anthropic:claude?stop_sequences=["a","b"]'),
    ).toEqual([
      { spec: "openai:gpt-5", options: { reasoning: { effort: "low" } } },
      { spec: "anthropic:claude", options: { stop_sequences: ["a", "b"] } },
    ]);
  });
});

describe("bad provider options", () => {
  const env = { ANTHROPIC_API_KEY: "k", OPENAI_API_KEY: "k" };
  const failure = (spec: string, modelOptions?: Record<string, unknown>) =>
    createModel(spec, { env, ...(modelOptions ? { modelOptions } : {}) }).then(
      () => undefined,
      (err: unknown) => err,
    );

  it("an unknown option is an error naming it, with the closest known name", async () => {
    const err = await failure("anthropic:claude-sonnet-4-5", { thinkng: { budget_tokens: 4000 } });
    expect(isTaifengError(err, "invalid_config")).toBe(true);
    expect((err as Error).message).toContain('unknown option "thinkng" (did you mean "thinking"?)');
    expect((err as Error).message).toContain("Known options: cache, extra_body, max_tokens");
  });

  it("a bad value names the option and says what is wrong", async () => {
    const small = await failure("anthropic:claude-sonnet-4-5", { thinking: { budget_tokens: 100 } });
    expect((small as Error).message).toMatch(/option "thinking.budget_tokens": .*1024/);
    const mixed = await failure("anthropic:claude-sonnet-4-5", {
      thinking: { budget_tokens: 4000 },
      temperature: 0.5,
    });
    expect((mixed as Error).message).toContain("does not accept temperature or top_k with extended thinking");
    const nested = await failure("openai:gpt-5-mini", { reasoning: { effrt: "low" } });
    expect((nested as Error).message).toContain('unknown option "reasoning.effrt"');
  });

  it("another provider's option is unknown here; in a chain it goes only where it is known", async () => {
    const wrong = await failure("anthropic:claude-sonnet-4-5", { reasoning: { effort: "low" } });
    expect((wrong as Error).message).toContain('unknown option "reasoning"');
    expect(
      await failure("openai:gpt-5-mini,anthropic:claude-sonnet-4-5", { reasoning: { effort: "low" } }),
    ).toBe(undefined);
    const none = await failure("openai:gpt-5-mini,anthropic:claude-sonnet-4-5", { thinkng: 1 });
    expect((none as Error).message).toContain(
      'no model of the chain "openai:gpt-5-mini,anthropic:claude-sonnet-4-5" takes the option(s) "thinkng"',
    );
    const sim = await failure("sim?temperature=1");
    expect((sim as Error).message).toContain('unknown option "temperature"');
  });

  it("parses key=value assignments (JSON values) and whole JSON objects", () => {
    expect(
      parseModelOptions([
        "thinking.budget_tokens=4000",
        "thinking.type=enabled",
        'stop_sequences=["END"]',
        '{"metadata":{"user_id":"u"}}',
        "service_tier=auto",
      ]),
    ).toEqual({
      thinking: { budget_tokens: 4000, type: "enabled" },
      stop_sequences: ["END"],
      metadata: { user_id: "u" },
      service_tier: "auto",
    });
    expect(() => parseModelOptions(["thinking"])).toThrow(/expected key=value/);
  });
});
