import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditHook } from "./audit.ts";
import { HookRunner } from "./runner.ts";
import { hooksFromSettings } from "./settings.ts";
import type { HookDefinition, HookEvent, HookFailure } from "./types.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-hooks-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const preTool = (input: unknown = { command: "ls" }): HookEvent<"pre_tool"> => ({
  point: "pre_tool",
  threadId: "thr_1",
  turnId: "turn_1",
  cwd: dir,
  permissionMode: "default",
  tool: "bash",
  rule: "Bash",
  callId: "call_1",
  input,
});

async function run(hooks: HookDefinition[], event: HookEvent = preTool(), matchOn = ["bash", "Bash"]) {
  const failures: HookFailure[] = [];
  const runner = new HookRunner(hooks, { defaultTimeoutMs: 5000, projectDir: dir });
  const outcome = await runner.run(event, {
    signal: new AbortController().signal,
    report: (f) => failures.push(f),
    matchOn,
  });
  return { outcome, failures };
}

const sh = (command: string, extra: Partial<HookDefinition> = {}): HookDefinition => ({
  point: "pre_tool",
  command,
  ...extra,
});

describe("shell hooks", () => {
  it("receives the event as Claude Code-style JSON on stdin", async () => {
    const out = join(dir, "stdin.json");
    const { outcome, failures } = await run([sh(`cat > ${out}; echo "$CLAUDE_PROJECT_DIR" >> ${out}.env`)]);
    expect(failures).toEqual([]);
    expect(outcome.decision).toBeUndefined();
    expect(JSON.parse(await readFile(out, "utf8"))).toEqual({
      session_id: "thr_1",
      hook_event_name: "PreToolUse",
      cwd: dir,
      permission_mode: "default",
      taifeng_event: "pre_tool",
      taifeng_turn_id: "turn_1",
      tool_name: "bash",
      tool_input: { command: "ls" },
      tool_use_id: "call_1",
      taifeng_rule: "Bash",
    });
    expect((await readFile(`${out}.env`, "utf8")).trim()).toBe(dir);
  });

  it("exit 0 without output has no effect", async () => {
    expect(await run([sh("exit 0")])).toEqual({
      outcome: { decision: undefined, reason: undefined, updatedInput: undefined, context: [] },
      failures: [],
    });
  });

  it("exit 2 blocks with stderr as the reason", async () => {
    const { outcome, failures } = await run([sh("echo 'no rm here' >&2; exit 2")]);
    expect(outcome).toMatchObject({ decision: "deny", reason: "no rm here" });
    expect(failures).toEqual([]);
  });

  it("any other exit is a reported failure that blocks nothing", async () => {
    const { outcome, failures } = await run([sh("echo oops >&2; exit 1")]);
    expect(outcome.decision).toBeUndefined();
    expect(failures).toEqual([
      {
        point: "pre_tool",
        hook: "echo oops >&2; exit 1",
        code: "hook_failed",
        message: "hook echo oops >&2; exit 1 exited with code 1: oops",
      },
    ]);
  });

  it.each([
    [
      '{"hookSpecificOutput":{"permissionDecision":"deny","permissionDecisionReason":"nope"}}',
      "deny",
      "nope",
    ],
    [
      '{"hookSpecificOutput":{"permissionDecision":"ask","permissionDecisionReason":"check"}}',
      "ask",
      "check",
    ],
    ['{"hookSpecificOutput":{"permissionDecision":"allow"}}', "allow", undefined],
    ['{"decision":"block","reason":"legacy"}', "deny", "legacy"],
    ['{"decision":"approve"}', "allow", undefined],
    ['{"continue":false,"stopReason":"halt"}', "deny", "halt"],
  ])("reads JSON %s", async (json, decision, reason) => {
    const { outcome, failures } = await run([sh(`echo '${json}'`)]);
    expect(failures).toEqual([]);
    expect(outcome.decision).toBe(decision);
    expect(outcome.reason).toBe(reason);
  });

  it("reads updatedInput and additionalContext", async () => {
    const json = '{"hookSpecificOutput":{"updatedInput":{"command":"ls -la"},"additionalContext":"listed"}}';
    const { outcome } = await run([sh(`echo '${json}'`)]);
    expect(outcome).toEqual({
      decision: undefined,
      reason: undefined,
      updatedInput: { command: "ls -la" },
      context: ["listed"],
    });
  });

  it("reports invalid JSON and JSON that does not fit", async () => {
    const { failures } = await run([sh("echo '{ nope'"), sh('echo \'{"decision":"maybe"}\'')]);
    expect(failures.map((f) => f.message)).toEqual([
      expect.stringContaining("printed invalid JSON"),
      expect.stringContaining("does not fit the hook protocol: decision"),
    ]);
  });

  it("treats plain stdout as context at user_prompt_submit only", async () => {
    const prompt: HookEvent<"user_prompt_submit"> = {
      point: "user_prompt_submit",
      threadId: "t",
      cwd: dir,
      prompt: "hi",
    };
    const hook: HookDefinition = { point: "user_prompt_submit", command: "echo 'today is Monday'" };
    expect((await run([hook], prompt)).outcome.context).toEqual(["today is Monday"]);
    expect((await run([sh("echo 'ignored'")])).outcome.context).toEqual([]);
  });

  it("kills a hanging hook and its children at the timeout, and carries on", async () => {
    const marker = join(dir, "hang-survivor");
    const { outcome, failures } = await run([
      sh(`(sleep 1; touch ${marker}) & sleep 30`, { timeoutMs: 150, name: "hang" }),
      sh('echo \'{"decision":"approve"}\''),
    ]);
    expect(failures).toEqual([
      { point: "pre_tool", hook: "hang", code: "hook_timeout", message: "hook hang timed out after 150 ms" },
    ]);
    expect(outcome.decision).toBe("allow");
    await new Promise((r) => setTimeout(r, 1500));
    await expect(readFile(marker)).rejects.toThrow(/ENOENT/);
  });

  it("reports a command that cannot start", async () => {
    const { failures } = await run([sh("exit 0", { cwd: join(dir, "missing-dir") })]);
    expect(failures[0]?.message).toMatch(/cannot start/);
  });
});

describe("in-process hooks", () => {
  it("chains edits, stops at the first deny, and lets ask beat allow", async () => {
    const seen: unknown[] = [];
    const { outcome } = await run([
      {
        point: "pre_tool",
        run: (e) => ({ updatedInput: { command: `${(e as HookEvent<"pre_tool">).input && "ls"} -a` } }),
      },
      {
        point: "pre_tool",
        run: (e) => {
          seen.push((e as HookEvent<"pre_tool">).input);
          return { decision: "allow" };
        },
      },
      { point: "pre_tool", run: () => ({ decision: "ask", reason: "double-check" }) },
      { point: "pre_tool", run: () => ({ decision: "allow", additionalContext: "ctx" }) },
    ]);
    expect(seen).toEqual([{ command: "ls -a" }]);
    expect(outcome).toEqual({
      decision: "ask",
      reason: "double-check",
      updatedInput: { command: "ls -a" },
      context: ["ctx"],
    });
    const denied = await run([
      { point: "pre_tool", run: () => ({ decision: "deny", reason: "no" }) },
      {
        point: "pre_tool",
        run: () => {
          throw new Error("must not run");
        },
      },
    ]);
    expect(denied).toEqual({
      outcome: { decision: "deny", reason: "no", updatedInput: undefined, context: [] },
      failures: [],
    });
  });

  it("filters by matcher: names, lists and regular expressions", async () => {
    const ran: string[] = [];
    const hook = (matcher: string): HookDefinition => ({
      point: "pre_tool",
      matcher,
      run: () => void ran.push(matcher),
    });
    await run([
      hook("Bash"),
      hook("Edit|Bash"),
      hook("bash"),
      hook("Edit|Write"),
      hook("mcp__.*"),
      hook("*"),
      hook(""),
    ]);
    expect(ran).toEqual(["Bash", "Edit|Bash", "bash", "*", ""]);
    ran.length = 0;
    await run([hook("mcp__.*"), hook("mcp__git")], preTool(), ["mcp__github__x"]);
    expect(ran).toEqual(["mcp__.*"]);
    expect(() => new HookRunner([hook("(")])).toThrow(/not a valid regular expression/);
  });

  it("ignores matchers at points without a subject", async () => {
    const ran: string[] = [];
    const event: HookEvent<"turn_start"> = { point: "turn_start", threadId: "t", cwd: dir, resumed: false };
    await run([{ point: "turn_start", matcher: "Bash", run: () => void ran.push("x") }], event, []);
    expect(ran).toEqual(["x"]);
  });

  it("reports throwing, hanging and malformed hooks without failing the run", async () => {
    const { outcome, failures } = await run([
      {
        point: "pre_tool",
        name: "thrower",
        run: () => {
          throw new Error("kaput");
        },
      },
      { point: "pre_tool", name: "sleeper", timeoutMs: 50, run: () => new Promise(() => {}) },
      { point: "pre_tool", name: "weird", run: () => ({ decision: "perhaps" }) as never },
      { point: "pre_tool", run: () => ({ decision: "allow" }) },
    ]);
    expect(outcome.decision).toBe("allow");
    expect(failures.map((f) => [f.hook, f.code])).toEqual([
      ["thrower", "hook_failed"],
      ["sleeper", "hook_timeout"],
      ["weird", "hook_failed"],
    ]);
  });

  it("rejects unknown points", () => {
    expect(() => new HookRunner([{ point: "before_everything" as never, run: () => {} }])).toThrow(
      /unknown point/,
    );
  });
});

describe("audit hook", () => {
  it("writes one pre and one post line per call as JSONL", async () => {
    const path = join(dir, "audit", "calls.jsonl");
    const runner = new HookRunner(auditHook({ path, maxOutputChars: 5 }));
    const ctx = { signal: new AbortController().signal, report: () => {}, matchOn: ["bash"] };
    await runner.run(preTool(), ctx);
    await runner.run(
      {
        ...preTool(),
        point: "post_tool",
        output: "0123456789",
        isError: false,
        status: "ok",
        permission: { decision: "allow", by: "rule", rule: "Bash(ls)" },
      },
      ctx,
    );
    const lines = (await readFile(path, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        ts: expect.any(String),
        phase: "pre",
        threadId: "thr_1",
        turnId: "turn_1",
        callId: "call_1",
        tool: "bash",
        rule: "Bash",
        input: { command: "ls" },
      },
      {
        ts: expect.any(String),
        phase: "post",
        threadId: "thr_1",
        turnId: "turn_1",
        callId: "call_1",
        tool: "bash",
        rule: "Bash",
        input: { command: "ls" },
        status: "ok",
        isError: false,
        output: "01234…",
        outputChars: 10,
        permission: { decision: "allow", by: "rule", rule: "Bash(ls)" },
      },
    ]);
  });
});

describe("hooks in settings files", () => {
  it("reads Claude Code's format with either event naming", async () => {
    const hooks = hooksFromSettings(
      {
        PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "a.sh", timeout: 5 }] }],
        turn_end: [{ hooks: [{ type: "command", command: "b.sh" }] }],
      },
      "settings.json",
    );
    expect(hooks).toEqual([
      { point: "pre_tool", command: "a.sh", matcher: "Bash", timeoutMs: 5000 },
      { point: "turn_end", command: "b.sh" },
    ]);
    await writeFile(join(dir, "unused"), "");
  });

  it("names the file and entry of a bad hooks object", () => {
    expect(() => hooksFromSettings({ Notification: [] }, "s.json")).toThrow(
      /s.json: hooks.Notification is not a hook point/,
    );
    expect(() => hooksFromSettings({ PreToolUse: [{ hooks: [{ type: "http" }] }] }, "s.json")).toThrow(
      /s.json: hooks.PreToolUse.0.hooks.0/,
    );
  });
});
