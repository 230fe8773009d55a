import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Event } from "../src/protocol/index.ts";
import { ROOT, runCli, startCli } from "./helpers/cli.ts";
import { shape } from "./helpers/events.ts";

const fixture = (name: string) => join(ROOT, "test", "fixtures", "sim", name);
const parseLines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((line) => Event.parse(JSON.parse(line)));

describe("taifeng run", { timeout: 60_000 }, () => {
  it("runs the no-key demo: streams text to stdout and tool calls to stderr, exit 0", async () => {
    const res = await runCli(["run", "What can you do?"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("built-in simulator");
    expect(res.stdout).toContain('You asked: "What can you do?"');
    expect(res.stdout).toMatch(/It is \d{4}-\d\d-\d\dT.*this directory holds \d+ entries/);
    expect(res.stderr).toContain("⏺ current_time");
    expect(res.stderr).toContain("⏺ list_files");
    expect(res.stderr).toMatch(/✓ done in 2 step\(s\)/);
  });

  it("--json prints every event as one valid JSON line, from thread_opened to shutdown_complete", async () => {
    const res = await runCli(["run", "--json", "hi"]);
    expect(res.code).toBe(0);
    const events = parseLines(res.stdout);
    const kinds = shape(events).filter((s) => !s.startsWith("assistant_text"));
    // Read-only tools start while the model still streams, so the middle interleaves with
    // wall-clock timing; the head, the tail and the per-call order are fixed.
    expect(kinds.slice(0, 4)).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "hi"',
      "model_call_started 1",
    ]);
    expect(kinds.slice(-5)).toEqual([
      "model_call_started 2",
      expect.stringMatching(/^assistant_message "It is /),
      "model_call_completed 2 stop",
      "turn_completed",
      "shutdown_complete",
    ]);
    const middle = kinds.slice(4, -5);
    expect([...middle].sort()).toEqual(
      [
        "tool_call_started current_time call_1_1",
        "tool_call_started list_files call_1_2",
        "tool_call_completed current_time call_1_1 ok",
        "tool_call_completed list_files call_1_2 ok",
        expect.stringMatching(/^assistant_message "I am Taifeng's built-in simulator/),
        "model_call_completed 1 tool_calls",
      ].sort(),
    );
    for (const id of ["call_1_1", "call_1_2"]) {
      const started = middle.findIndex((k) => k.startsWith("tool_call_started") && k.endsWith(id));
      const completed = middle.findIndex((k) => k.startsWith("tool_call_completed") && k.includes(id));
      expect(started).toBeLessThan(completed);
    }
    expect(new Set(events.map((e) => e.threadId)).size).toBe(1);
    expect(res.stderr).toBe("");
  });

  it("reads the prompt from stdin and honours --system and a script model", async () => {
    const res = await runCli(["run", "--json", "--model", `sim:${fixture("fails.json")}`], {
      input: "from stdin\n",
    });
    const events = parseLines(res.stdout);
    expect(events.find((e) => e.msg.type === "user_message")?.msg).toMatchObject({ text: "from stdin" });
    expect(res.code).toBe(1);
    expect(events.find((e) => e.msg.type === "turn_failed")?.msg).toMatchObject({
      error: { code: "overloaded" },
    });
  });

  it("exits 1 on a failed turn with a readable message", async () => {
    const res = await runCli(["run", "-m", `sim:${fixture("fails.json")}`, "x"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("✗ turn failed (overloaded): the simulated provider is overloaded");
  });

  it("exits 2 on bad usage, naming the problem", { timeout: 60_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [["run", "--bogus", "x"], /unknown option '--bogus'/],
      [["run", "--max-steps", "0", "x"], /--max-steps must be a positive integer/],
      [["run", "-m", "nope:model", "x"], /unknown model provider "nope"/],
      [["run", "-m", `sim:${fixture("missing.json")}`, "x"], /cannot read SimClient script .*missing\.json/],
      [["run"], /no prompt/],
      [["frobnicate"], /unknown command 'frobnicate'/],
    ];
    // Started together: six Node processes one after another outlast the test timeout on a busy machine.
    const results = await Promise.all(cases.map(([args]) => runCli(args, { input: "" })));
    cases.forEach(([args, message], i) => {
      const res = results[i] as Awaited<ReturnType<typeof runCli>>;
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
      expect(res.stderr).toMatch(message);
    });
  });

  it("names a malformed script file and the bad step, exit 2", async () => {
    const res = await runCli(["run", "-m", `sim:${join(ROOT, "package.json")}`, "x"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`invalid SimClient script ${join(ROOT, "package.json")}`);
  });

  it("Ctrl-C interrupts the turn cleanly and exits 130", async () => {
    const { child, done } = startCli(["run", "--json", "-m", `sim:${fixture("slow.json")}`, "wait"]);
    await new Promise<void>((resolve) => {
      let buffered = "";
      child.stdout?.on("data", (d) => {
        buffered += d;
        if (buffered.includes('"model_call_started"')) resolve();
      });
    });
    child.kill("SIGINT");
    const res = await done;
    expect(res.code).toBe(130);
    const events = parseLines(res.stdout);
    expect(shape(events).slice(-3)).toEqual([
      "model_call_completed 1 aborted",
      "turn_aborted interrupt",
      "shutdown_complete",
    ]);
  });

  it("prints help and version with exit 0", async () => {
    const help = await runCli(["run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--max-steps");
    const version = await runCli(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
