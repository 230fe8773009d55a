import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "../src/cli/io.ts";
import { main } from "../src/cli/program.ts";
import { frameType, openSse } from "./helpers/sse.ts";

/** The CLI in this process (no startup cost), with captured output. */
async function inProcess(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const sink = (append: (s: string) => void) => {
    const s = new PassThrough();
    s.on("data", (c: Buffer) => append(c.toString()));
    return s;
  };
  const io: CliIO = {
    stdin: new PassThrough(),
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env: { HOME: dir },
    cwd: dir,
    onInterrupt: () => () => {},
  };
  const code = await main(argv, io);
  await new Promise((r) => setImmediate(r));
  return { code, out, err };
}

const BIN = resolve(import.meta.dirname, "../bin/taifeng.mjs");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tf-serve-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function taifeng(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe("taifeng config and taifeng serve", () => {
  it("config show names the source of each value; a bad file is a usage error naming file, line and key", async () => {
    const file = join(dir, "taifeng.config.yaml");
    await writeFile(file, "model: sim:demo\nserver:\n  port: 0\n  tokns: [X]\n");
    const bad = await inProcess(["config", "show"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe(`taifeng: ${file}:4:3: unknown key "server.tokns"; did you mean "tokens"?\n`);
    await writeFile(file, `model: sim:demo\nstorage:\n  dir: threads\nserver:\n  port: 0\n`);
    const untrusted = await inProcess(["config", "show"]);
    expect(untrusted.out).toContain(
      `# not applied: ${file} is in a folder you have not trusted: storage.dir, server.port`,
    );
    const good = await inProcess(["config", "show", "--trust"]);
    expect(good.code).toBe(0);
    expect(good.out).toMatch(new RegExp(`^model\\s+= "sim:demo"   # ${file}$`, "m"));
    expect(good.out).toMatch(new RegExp(`^storage\\.dir\\s+= "${join(dir, "threads")}"   # ${file}$`, "m"));
  });

  it("taifeng run takes its model, storage and limits from the file; a flag wins over it", async () => {
    const script = join(dir, "script.json");
    await writeFile(
      script,
      JSON.stringify({ steps: [{ text: "configured answer" }], onExhausted: "repeat_last" }),
    );
    await writeFile(
      join(dir, "taifeng.config.yaml"),
      `model: sim:${script}\nstorage:\n  dir: run-threads\nlimits:\n  maxSteps: 3\n`,
    );
    const ran = await inProcess(["run", "--trust", "--non-interactive", "deny", "hi"]);
    expect([ran.code, ran.out]).toEqual([0, "configured answer\n"]);
    expect(ran.err).toMatch(/continue with --thread thr_/);
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(join(dir, "run-threads")).some((f) => f.endsWith(".jsonl"))).toBe(true);
    const flagged = await inProcess([
      "run",
      "--trust",
      "--non-interactive",
      "deny",
      "--model",
      "sim:demo",
      "--json",
      "hi",
    ]);
    expect(flagged.code).toBe(0);
    expect(flagged.out).toContain('"model":"sim:demo"');
    await writeFile(join(dir, "taifeng.config.yaml"), "limits:\n  maxStep: 3\n");
    const bad = await inProcess(["run", "--non-interactive", "deny", "hi"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /taifeng\.config\.yaml:2:3: unknown key "limits\.maxStep"; did you mean "maxSteps"\?/,
    );
    await writeFile(join(dir, "taifeng.config.yaml"), "");
  });

  it("the file's mcpServers start for serve and chat: their tools join the engine's", async () => {
    const { loadConfig } = await import("../src/config/load.ts");
    const { engineSetup } = await import("../src/cli/engine-setup.ts");
    const fault = resolve(import.meta.dirname, "fixtures", "mcp", "fault-server.ts");
    await writeFile(
      join(dir, "taifeng.config.yaml"),
      JSON.stringify({
        model: "sim:demo",
        mcpServers: { fault: { command: process.execPath, args: [fault] } },
      }),
    );
    try {
      const io = {
        stdin: new PassThrough(),
        stdout: new PassThrough(),
        stderr: new PassThrough(),
        env: { HOME: dir, PATH: process.env.PATH ?? "" },
        cwd: dir,
        onInterrupt: () => () => {},
      };
      // An untrusted folder's file starts nothing (ADR 2051)...
      const withheld = loadConfig({ cwd: dir, env: io.env, userDir: false });
      expect(withheld.withheld).toEqual(["mcpServers"]);
      const untrusted = await engineSetup(withheld, io, { trusted: false, interactive: true });
      try {
        expect([...(untrusted.options.tools ?? [])].map((t) => t.name)).not.toContain("mcp__fault__ok");
      } finally {
        await untrusted.close();
      }
      // ...a trusted one's servers start.
      const loaded = loadConfig({ cwd: dir, env: io.env, userDir: false, projectTrust: true });
      const setup = await engineSetup(loaded, io, { trusted: true, interactive: true });
      try {
        expect([...(setup.options.tools ?? [])].map((t) => t.name)).toContain("mcp__fault__ok");
      } finally {
        await setup.close();
      }
    } finally {
      await writeFile(join(dir, "taifeng.config.yaml"), "");
    }
  }, 60_000);

  it("serve refuses an address reachable without a token, and without --insecure-local", async () => {
    const open = await inProcess(["serve", "--host", "0.0.0.0"]);
    expect(open.code).toBe(2);
    expect(open.err).toMatch(/binding 0\.0\.0\.0 needs bearer tokens/);
    const anon = await inProcess(["serve"]);
    expect(anon.code).toBe(2);
    expect(anon.err).toMatch(/--insecure-local/);
  });

  it("serves the configured model and storage, runs a turn over HTTP, and stops cleanly on SIGTERM", async () => {
    await writeFile(join(dir, "taifeng.config.yaml"), "model: sim:demo\nstorage:\n  dir: threads\n");
    const serve = taifeng(["serve", "--port", "0", "--insecure-local", "--trust"]);
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL: ${serve.err()}`)), 60_000);
        serve.child.stderr.on("data", () => {
          const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.err());
          if (m) {
            clearTimeout(timer);
            resolveUrl(m[1] as string);
          }
        });
      });
      expect(serve.err()).toContain(`threads in ${join(dir, "threads")}`);
      const health = (await (await fetch(`${url}/healthz`)).json()) as { ok: boolean };
      expect(health.ok).toBe(true);
      const created = (await (
        await fetch(`${url}/v1/threads`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input: "What can you do?" }),
        })
      ).json()) as { threadId: string };
      const stream = openSse(`${url}/v1/threads/${created.threadId}/events`);
      await stream.until((f) => frameType(f) === "turn_completed", 60_000);
      expect(stream.frames.map(frameType)).toContain("tool_call_completed");
      stream.close();
      serve.child.kill("SIGTERM");
      expect(await serve.exited).toBe(0);
      expect(serve.err()).toMatch(/shutting down[\s\S]*stopped/);
    } finally {
      serve.child.kill("SIGKILL");
    }
  }, 120_000);
});
