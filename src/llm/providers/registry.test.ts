import { describe, expect, it } from "vitest";
import { collect, request, terminalOf, useReplayServer } from "../../../test/providers/expected.ts";
import type { ReplayServer } from "../../../test/providers/replay-server.ts";
import { isTaifengError } from "../../errors.ts";
import { createModel, ModelRegistry } from "../resolve.ts";
import { defaultModelFromEnv } from "./index.ts";
import { loadSdk } from "./runtime.ts";

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (isTaifengError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a TaifengError");
}

describe("createModel / ModelRegistry", () => {
  it("names the missing key variable", async () => {
    expect(await failure(createModel("anthropic:claude-haiku-4-5", { env: {} }))).toEqual({
      code: "missing_api_key",
      message: "the anthropic provider needs an API key: set ANTHROPIC_API_KEY in the environment",
    });
    expect((await failure(createModel("gemini:gemini-2.5-flash", { env: {} }))).message).toContain(
      "set GEMINI_API_KEY or GOOGLE_API_KEY",
    );
    expect(
      (await failure(createModel("openai", { env: {}, apiKeyEnv: "MOONSHOT_API_KEY" }))).message,
    ).toContain("set MOONSHOT_API_KEY");
    expect((await failure(createModel("nope:x", { env: {} }))).message).toContain(
      "known providers: anthropic, deepseek",
    );
  });

  it("reads the key from the named variable and sends requests to --base-url", async () => {
    server.queue({ kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" });
    const client = await createModel("openai-chat:kimi-k2", {
      baseUrl: server.url,
      apiKeyEnv: "MOONSHOT_API_KEY",
      env: { MOONSHOT_API_KEY: "m-key", OPENAI_API_KEY: "o-key" },
    });
    expect(client.id).toBe("openai-chat:kimi-k2");
    const { events } = await collect(client, request("hi"));
    expect(terminalOf(events).type).toBe("finish");
    expect(server.requests[0]?.headers.authorization).toBe("Bearer m-key");
    expect(server.requests[0]?.body.model).toBe("kimi-k2");
  });

  it("needs no key for an OpenAI-compatible local server, and wraps clients in the retry policy", async () => {
    server.queue(
      { kind: "status", status: 503, body: { error: { message: "loading model" } } },
      { kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" },
    );
    const client = await createModel("openai-chat:llama3.2", {
      baseUrl: server.url,
      env: {},
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    });
    const { events } = await collect(client, request("hi"));
    expect(events.filter((e) => e.type === "retry").length).toBe(1);
    expect(terminalOf(events).type).toBe("finish");
    // The compatible dialect: max_tokens, no prompt_cache_key.
    expect(server.requests[1]?.body.prompt_cache_key).toBeUndefined();
  });

  it("turns a comma-separated spec into a fallback chain", async () => {
    server.queue(
      { kind: "status", status: 401, body: { error: { message: "bad key" } } },
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
    );
    const client = await new ModelRegistry().resolve("openai-chat:gpt-4.1-mini, anthropic:claude-haiku-4-5", {
      baseUrl: server.url,
      env: { OPENAI_API_KEY: "o", ANTHROPIC_API_KEY: "a" },
    });
    const { events, result } = await collect(client, request("hi"));
    expect(
      events.filter((e) => e.type === "retry").map((e) => (e.type === "retry" ? e.error.code : "")),
    ).toEqual(["auth"]);
    expect(result.finish).toBe("stop");
    expect(server.requests.map((r) => r.path)).toEqual(["/chat/completions", "/v1/messages"]);
  });
});

describe("loadSdk", () => {
  it("turns a missing optional SDK into an install hint", async () => {
    const pkg = "@taifeng-test/not-installed-sdk";
    const missing = () => import(/* @vite-ignore */ pkg) as Promise<unknown>;
    expect(await failure(loadSdk("@acme/sdk", "acme", missing))).toEqual({
      code: "invalid_config",
      message: 'the acme provider needs the "@acme/sdk" package: npm install @acme/sdk',
    });
  });
});

describe("defaultModelFromEnv", () => {
  it("picks the first provider whose key is set", () => {
    expect(defaultModelFromEnv({})).toBeUndefined();
    expect(defaultModelFromEnv({ GOOGLE_API_KEY: "g", DEEPSEEK_API_KEY: "d" })).toBe(
      "google:gemini-2.5-flash",
    );
    expect(defaultModelFromEnv({ ANTHROPIC_API_KEY: "a", OPENAI_API_KEY: " " })).toBe(
      "anthropic:claude-haiku-4-5",
    );
    expect(defaultModelFromEnv({ OPENAI_API_KEY: "o", ANTHROPIC_API_KEY: "a" })).toBe("openai:gpt-5-mini");
  });
});
