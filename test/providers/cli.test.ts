import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { CliIO } from "../../src/cli/io.ts";
import { main } from "../../src/cli/program.ts";
import type { Event } from "../../src/protocol/index.ts";
import { expectedAnthropic, expectedChat, useReplayServer } from "./expected.ts";
import type { ReplayServer } from "./replay-server.ts";

const storage = mkdtempSync(join(tmpdir(), "taifeng-provider-cli-"));
let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

function io(env: Record<string, string>): { io: CliIO; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => {
    out += String(c);
  });
  stderr.on("data", (c) => {
    err += String(c);
  });
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  return {
    io: {
      stdin,
      stdout,
      stderr,
      // Threads go to a temporary directory, never to the user's ~/.taifeng/threads.
      env: { TAIFENG_STORAGE: storage, ...env },
      cwd: process.cwd(),
      onInterrupt: () => () => {},
    },
    out: () => out,
    err: () => err,
  };
}

function events(text: string): Event[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Event);
}

describe("taifeng run with real providers", () => {
  it("--model and --base-url reach the provider SDK; the turn reports cost", async () => {
    server.queue({ kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" });
    const t = io({ OPENAI_API_KEY: "o-key" });
    const args = [
      "run",
      "--json",
      "--model",
      "openai-chat:gpt-4.1-nano",
      "--base-url",
      server.url,
      "Name a holiday",
    ];
    const code = await main(args, t.io);
    expect(t.err()).toBe("");
    expect(code).toBe(0);
    const end = events(t.out()).find((e) => e.msg.type === "turn_completed")?.msg;
    expect(end?.type === "turn_completed" && end.text).toBe(
      expectedChat("openai__openai-text.chunks.txt").text,
    );
    expect(end?.type === "turn_completed" && end.costUsd).toBeGreaterThan(0);
    expect(server.requests[0]?.body.model).toBe("gpt-4.1-nano");
  });

  it("without --model, a configured key selects its provider", async () => {
    server.queue({ kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" });
    const t = io({ ANTHROPIC_API_KEY: "a-key" });
    const code = await main(["run", "--json", "--base-url", server.url, "Hello"], t.io);
    expect(code).toBe(0);
    const started = events(t.out()).find((e) => e.msg.type === "turn_started")?.msg;
    expect(started).toEqual({ type: "turn_started", model: "anthropic:claude-haiku-4-5" });
    const end = events(t.out()).find((e) => e.msg.type === "turn_completed")?.msg;
    expect(end?.type === "turn_completed" && end.text).toBe(
      expectedAnthropic("anthropic__anthropic-text.chunks.txt").text,
    );
  });

  it("a missing key is a usage error naming the variable", async () => {
    const t = io({});
    const code = await main(["run", "--model", "deepseek:deepseek-chat", "hi"], t.io);
    expect(code).toBe(2);
    expect(t.err()).toBe(
      "taifeng: the deepseek provider needs an API key: set DEEPSEEK_API_KEY in the environment\n",
    );
    expect(server.requests.length).toBe(0);
  });
});
