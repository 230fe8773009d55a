import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Event } from "../../src/protocol/index.ts";
import { runCli } from "../helpers/cli.ts";

// `taifeng run --events-jsonl DIR --events-console`: the event sinks from the command line,
// redacted like everything else the CLI keeps.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-cli-sinks-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("taifeng run event sinks", () => {
  it("--events-jsonl writes every event of the run as JSON lines, one file per thread, redacted", async () => {
    const secret = "s3cr3t-value-that-must-not-leak";
    const run = await runCli(["run", "--events-jsonl", "events", `Remember ${secret}`], {
      cwd: dir,
      env: { HOME: dir, TAIFENG_STORAGE: join(dir, "threads"), MY_API_TOKEN: secret },
    });
    expect(run.code).toBe(0);
    const files = await readdir(join(dir, "events"));
    expect(files).toHaveLength(1);
    const text = await readFile(join(dir, "events", files[0] as string), "utf8");
    const events = text
      .trim()
      .split("\n")
      .map((line) => Event.parse(JSON.parse(line)));
    expect(files[0]).toBe(`${events[0]?.threadId}.events.jsonl`);
    const types = events.map((e) => e.msg.type);
    expect(types[0]).toBe("thread_opened");
    expect(types).toContain("model_call_completed");
    expect(types).toContain("turn_completed");
    expect(types.at(-1)).toBe("shutdown_complete");
    expect(text).not.toContain(secret);
    expect(text).toContain("[REDACTED:MY_API_TOKEN]");
  });

  it("--events-console prints one line per event on stderr", async () => {
    const run = await runCli(["run", "--events-console", "hi"], {
      cwd: dir,
      env: { HOME: dir, TAIFENG_STORAGE: join(dir, "threads") },
    });
    expect(run.code).toBe(0);
    const lines = run.stderr.split("\n").filter((l) => /^\d\d:\d\d:\d\d\.\d{3} \S+ [a-z_]+ /.test(l));
    const types = lines.map((l) => l.split(" ")[2]);
    expect(types[0]).toBe("thread_opened");
    expect(types).toContain("turn_started");
    expect(types).toContain("model_call_completed");
    expect(types).toContain("turn_completed");
    expect(types).not.toContain("assistant_text");
    expect(types.at(-1)).toBe("shutdown_complete");
  });
});
