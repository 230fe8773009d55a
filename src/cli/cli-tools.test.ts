import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "./io.ts";
import { main } from "./program.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-cli-"));
  await writeFile(join(dir, "package.json"), "{}");
  await mkdir(join(dir, "src"));
  await mkdir(join(dir, "node_modules", "dep"), { recursive: true });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function io(stdinText?: string): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += c));
  stderr.on("data", (c) => (err += c));
  const stdin = new PassThrough();
  if (stdinText !== undefined) stdin.end(stdinText);
  return {
    stdin,
    stdout,
    stderr,
    // Threads go to the test's directory, never to the user's ~/.taifeng/threads.
    env: { TAIFENG_STORAGE: `${dir}-threads` },
    cwd: dir,
    onInterrupt: () => () => {},
    out: () => out,
    err: () => err,
  };
}

describe("taifeng run with the built-in tools", () => {
  it("runs the demo with no key, listing the directory through list_files", async () => {
    const term = io();
    const code = await main(["run", "--json", "hello"], term);
    expect(code).toBe(0);
    const events = term
      .out()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const listed = events.find((e) => e.msg.type === "tool_call_completed" && e.msg.name === "list_files");
    expect(listed.msg.output).toBe("node_modules/ (1 entries, not expanded)\npackage.json\nsrc/");
    const answer = events.find((e) => e.msg.type === "turn_completed").msg.text;
    expect(answer).toContain(
      "this directory holds 3 entries (node_modules/ (1 entries, not expanded), package.json, src/)",
    );
  });

  it("rejects an unknown sandbox level", async () => {
    const term = io();
    expect(await main(["run", "--sandbox", "7", "hi"], term)).toBe(2);
    expect(term.err()).toContain("--sandbox must be 0 or 1");
  });
});

describe("taifeng defense check", () => {
  it("prints the verdict and exits 1 for a dangerous command", async () => {
    const term = io();
    expect(await main(["defense", "check", "rm -rf ~"], term)).toBe(1);
    expect(term.out()).toBe(
      "deny:\ncritical destructive_delete: deletes a home directory recursively [rm -rf ~]\n",
    );
  });

  it("reads stdin, prints JSON and exits 0 when allowed", async () => {
    const term = io("ls -la\n");
    expect(await main(["defense", "check", "--json"], term)).toBe(0);
    expect(JSON.parse(term.out())).toEqual({
      verdict: "allow",
      findings: [],
      warnings: [],
      normalized: "ls -la",
    });
  });
});
