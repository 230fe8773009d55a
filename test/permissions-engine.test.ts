import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event, EventMsgOf } from "../src/protocol/index.ts";
import { normalize, shape } from "./helpers/events.ts";
import {
  callOutcome,
  driveTurn,
  openWithShell,
  recordingShell,
  recordingWriter,
  shellModel,
  withoutStreamEnd,
} from "./helpers/hitl.ts";

let cwd: string;
beforeAll(async () => {
  cwd = await realpath(await mkdtemp(join(tmpdir(), "taifeng-engine-perm-")));
});
afterAll(() => rm(cwd, { recursive: true, force: true }));

const TURN_WITH_APPROVAL = [
  "turn_started",
  'user_message input "go"',
  "model_call_started 1",
  "tool_call_started shell call_1_1",
  "permission_requested",
  "permission_resolved",
];

describe("permission decisions in the engine", () => {
  it("denies by rule without asking; the model reads why", async () => {
    const ran: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("rm -rf build"),
      permissions: { rules: { allow: ["Bash"], deny: ["Bash(rm *)"] } },
    });
    const events = await driveTurn(engine, "go", () => undefined);
    expect(withoutStreamEnd(shape(events))).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      "tool_call_started shell call_1_1",
      "tool_call_completed shell call_1_1 denied",
      "model_call_started 2",
      'assistant_text "done"',
      'assistant_message "done"',
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    expect(callOutcome(events)?.text).toMatch(
      /^Permission denied: `rm -rf build` matches deny rule Bash\(rm \*\) \(cli/,
    );
    expect(ran).toEqual([]);
    await engine.close();
  });

  it("asks, and runs the call once allowed", async () => {
    const ran: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("npm run test -- x"),
      permissions: {},
    });
    const events = await driveTurn(engine, "go", (req) =>
      req.type === "permission_requested"
        ? { type: "approval", requestId: req.requestId, decision: "allow_once" }
        : undefined,
    );
    expect(withoutStreamEnd(shape(events))).toEqual([
      ...TURN_WITH_APPROVAL,
      "tool_call_completed shell call_1_1 ok",
      "model_call_started 2",
      'assistant_text "done"',
      'assistant_message "done"',
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    const req = events.find((e) => e.msg.type === "permission_requested")?.msg;
    expect(req).toMatchObject({
      callId: "call_1_1",
      tool: "shell",
      input: { command: "npm run test -- x" },
      suggestions: ["Bash(npm run test:*)"],
      reason: "`npm run test -- x` is a command no rule allows",
    });
    expect(events.find((e) => e.msg.type === "permission_resolved")?.msg).toEqual({
      type: "permission_resolved",
      requestId: (req as EventMsgOf<"permission_requested">).requestId,
      decision: "allow_once",
      by: "user",
    });
    expect(ran).toEqual(["npm run test -- x"]);
    await engine.close();
  });

  it("allow_always adds session rules, so the next matching call runs without asking", async () => {
    const ran: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("npm run test -- a"),
      permissions: {},
    });
    const first = await driveTurn(engine, "go", (req) =>
      req.type === "permission_requested"
        ? { type: "approval", requestId: req.requestId, decision: "allow_always" }
        : undefined,
    );
    expect(first.find((e) => e.msg.type === "permission_resolved")?.msg).toMatchObject({
      decision: "allow_always",
      by: "user",
      rules: ["Bash(npm run test:*)"],
    });
    const second = await driveTurn(engine, "again", () => {
      throw new Error("must not ask");
    });
    expect(
      shape(second).filter((s) => s.startsWith("permission") || s.startsWith("tool_call_completed")),
    ).toEqual([]);
    await engine.close();
    expect(ran).toEqual(["npm run test -- a"]);
  });

  it("denies with the person's reason, which the model sees", async () => {
    const ran: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("git push --force"),
      permissions: {},
    });
    const events = await driveTurn(engine, "go", (req) =>
      req.type === "permission_requested"
        ? { type: "approval", requestId: req.requestId, decision: "deny", reason: "never force-push" }
        : undefined,
    );
    expect(callOutcome(events)).toEqual({
      status: "denied",
      isError: true,
      text: "The user denied this tool call: never force-push",
    });
    expect(events.find((e) => e.msg.type === "permission_resolved")?.msg).toMatchObject({
      decision: "deny",
      by: "user",
      reason: "never force-push",
    });
    expect(ran).toEqual([]);
    await engine.close();
  });

  it("runs edited input, but never input a deny rule forbids", async () => {
    const ran: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("npm publish", "npm publish --dry-run"),
      permissions: { rules: { deny: ["Bash(npm publish --tag *)"] } },
    });
    let n = 0;
    const events = await driveTurn(engine, "go", (req) => {
      if (req.type !== "permission_requested") return undefined;
      n++;
      const editedInput =
        n === 1 ? { command: "npm publish --dry-run" } : { command: "npm publish --tag next" };
      return { type: "approval", requestId: req.requestId, decision: "allow_once", editedInput };
    });
    expect(ran).toEqual(["npm publish --dry-run"]);
    expect(callOutcome(events, "call_1_2")?.status).toBe("denied");
    expect(callOutcome(events, "call_1_2")?.text).toContain("matches deny rule Bash(npm publish --tag *)");
    await engine.close();
  });

  it("denies on timeout", async () => {
    const ran: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("make"),
      permissions: { approvalTimeoutMs: 30 },
    });
    const events = await driveTurn(engine, "go", () => undefined);
    expect(events.find((e) => e.msg.type === "permission_resolved")?.msg).toMatchObject({
      decision: "deny",
      by: "timeout",
    });
    expect(callOutcome(events)?.text).toBe("No one approved this tool call within 30 ms, so it was not run.");
    expect(ran).toEqual([]);
    await engine.close();
  });

  it("resolves a waiting request as aborted when the turn is interrupted", async () => {
    const ran: string[] = [];
    const { engine, events } = await openWithShell(ran, cwd, { model: shellModel("make"), permissions: {} });
    const sub = engine.submit("go");
    const turn = await driveTurn(
      engine,
      undefined,
      (req) => {
        if (req.type === "permission_requested") queueMicrotask(() => engine.submit({ type: "interrupt" }));
        return undefined;
      },
      sub,
    );
    expect(withoutStreamEnd(shape(turn))).toEqual([
      ...TURN_WITH_APPROVAL,
      "tool_call_completed shell call_1_1 aborted",
      "turn_aborted interrupt",
    ]);
    expect(turn.find((e) => e.msg.type === "permission_resolved")?.msg).toMatchObject({
      decision: "deny",
      by: "abort",
    });
    expect(engine.idle).toBe(true);
    expect(events.some((e) => e.msg.type === "op_applied" && e.msg.op === "interrupt")).toBe(true);
    await engine.close();
  });

  it("rejects approvals for unknown requests", async () => {
    const { engine } = await openWithShell([], cwd, { model: shellModel("ls"), permissions: {} });
    const events = await engine.submitAndWait({
      type: "approval",
      requestId: "perm_nope",
      decision: "allow_once",
    });
    expect(shape(events)).toEqual(["op_rejected approval unknown_request"]);
    await engine.close();
  });

  it("denies at once when no one can approve", async () => {
    const ran: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("make"),
      permissions: { interactive: false },
    });
    const events = await driveTurn(engine, "go", () => {
      throw new Error("must not ask");
    });
    expect(callOutcome(events)?.text).toBe(
      "This tool call needs approval (`make` is a command no rule allows), and no one can approve it in this session, so it was not run.",
    );
    await engine.close();
  });

  it("lets canUseTool decide, edit input and add rules, or defer to a person", async () => {
    const ran: string[] = [];
    const seen: string[] = [];
    const { engine } = await openWithShell(ran, cwd, {
      model: shellModel("deploy staging", "deploy prod", "deploy dev"),
      permissions: {
        canUseTool: (tool, input, ctx) => {
          const command = (input as { command: string }).command;
          seen.push(`${tool} ${command} ${ctx.callId} ${ctx.decision.suggestions.join(",")}`);
          if (command.endsWith("staging"))
            return { behavior: "allow", updatedInput: { command: "deploy staging --safe" } };
          if (command.endsWith("prod")) return { behavior: "deny", message: "not from an agent" };
          return { behavior: "ask" };
        },
      },
    });
    const events = await driveTurn(engine, "go", (req) =>
      req.type === "permission_requested"
        ? { type: "approval", requestId: req.requestId, decision: "allow_once" }
        : undefined,
    );
    expect(seen).toEqual([
      "shell deploy staging call_1_1 Bash(deploy staging:*)",
      "shell deploy prod call_1_2 Bash(deploy prod:*)",
      "shell deploy dev call_1_3 Bash(deploy dev:*)",
    ]);
    expect(ran).toEqual(["deploy staging --safe", "deploy dev"]);
    expect(callOutcome(events, "call_1_2")).toEqual({
      status: "denied",
      isError: true,
      text: "not from an agent",
    });
    const resolved = events.filter((e) => e.msg.type === "permission_resolved").map((e) => e.msg);
    expect(resolved).toMatchObject([
      { decision: "allow_once", by: "callback" },
      { decision: "deny", by: "callback", reason: "not from an agent" },
      { decision: "allow_once", by: "user" },
    ]);
    await engine.close();
  });
});

describe("modes in the engine", () => {
  it("switches mode with override_context and rejects unknown or forbidden modes", async () => {
    const written: string[] = [];
    const model = shellModel();
    const { engine } = await openWithShell([], cwd, {
      model,
      tools: [recordingWriter(written)],
      permissions: { mode: "acceptEdits" },
    });
    const bad = await engine.submitAndWait({ type: "override_context", permissionMode: "yolo" });
    expect(shape(bad)).toEqual(["op_rejected override_context invalid_permission_mode"]);
    const ok = await engine.submitAndWait({ type: "override_context", permissionMode: "plan" });
    expect(ok.map((e) => e.msg)).toEqual([{ type: "context_overridden", permissionMode: "plan" }]);
    await engine.close();
  });

  it("judges edits under the session's mode", async () => {
    const written: string[] = [];
    const { SimClient } = await import("../src/llm/sim/sim-client.ts");
    const model = new SimClient({
      script: [
        { toolCalls: [{ name: "write_file", arguments: { path: "a.txt", content: "x" } }] },
        { text: "ok" },
        { toolCalls: [{ name: "write_file", arguments: { path: "b.txt", content: "x" } }] },
        { text: "ok" },
      ],
    });
    const { engine } = await openWithShell([], cwd, {
      model,
      tools: [recordingWriter(written)],
      permissions: { mode: "acceptEdits" },
    });
    await driveTurn(engine, "one", () => undefined);
    await engine.submitAndWait({ type: "override_context", permissionMode: "plan" });
    const planned = await driveTurn(engine, "two", () => undefined);
    expect(written).toEqual(["a.txt"]);
    expect(callOutcome(planned, "call_3_1")?.text).toContain("plan mode allows none");
    await engine.close();
  });
});

describe("run() with permissions", () => {
  it("denies what would ask instead of waiting for an answer nobody can give", async () => {
    const { run } = await import("../src/loop/run.ts");
    const ran: string[] = [];
    const result = await run("go", {
      model: shellModel("make", "npm test"),
      tools: [recordingShell(ran)],
      cwd,
      permissions: { rules: { allow: ["Bash(npm test)"] } },
    });
    expect(ran).toEqual(["npm test"]);
    expect(callOutcome(result.events)?.status).toBe("denied");
    expect(result.text).toBe("done");
  });
});

describe("approving from inside an event listener", () => {
  it("keeps every observer's events in publication order", async () => {
    const ran: string[] = [];
    const listenerSaw: string[] = [];
    let engine: AgentEngine | undefined;
    const approveAtOnce = (ev: Event) => {
      listenerSaw.push(ev.msg.type);
      if (ev.msg.type === "permission_requested") {
        engine?.submit({ type: "approval", requestId: ev.msg.requestId, decision: "allow_once" });
      }
    };
    engine = await AgentEngine.open({
      model: shellModel("make"),
      tools: [recordingShell(ran)],
      cwd,
      permissions: {},
      listeners: [approveAtOnce],
    });
    const stream = engine.events();
    const events = await engine.submitAndWait("go");
    expect(() => normalize(events)).not.toThrow();
    expect(withoutStreamEnd(shape(events)).slice(4, 7)).toEqual([
      "permission_requested",
      "permission_resolved",
      "tool_call_completed shell call_1_1 ok",
    ]);
    const seen: Event[] = [];
    await engine.close();
    for await (const ev of stream) seen.push(ev);
    expect(() => normalize(seen)).not.toThrow();
    const types = seen.map((e) => e.msg.type);
    expect(types.indexOf("permission_requested")).toBeLessThan(types.indexOf("permission_resolved"));
    // The approval is acknowledged first; the turn then records its resolution.
    expect(types.indexOf("permission_requested")).toBeLessThan(types.indexOf("op_applied"));
    expect(types.indexOf("op_applied")).toBeLessThan(types.indexOf("permission_resolved"));
    expect(listenerSaw.indexOf("permission_requested")).toBeLessThan(
      listenerSaw.indexOf("permission_resolved"),
    );
    expect(ran).toEqual(["make"]);
  });
});
