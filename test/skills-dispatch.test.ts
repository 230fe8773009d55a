import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { SkillRuntime, type SkillRuntimeOptions } from "../src/skill/index.ts";
import { echoTool, nextEvent, ofSubmission } from "./helpers/engine.ts";
import { agentsModel, skillShape, tempDir, writeSkill } from "./helpers/skills.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

/** The output of the last function call in a request (what the model just received). */
function lastOutput(request: ModelRequest): string {
  const item = request.items.findLast((i) => i.type === "function_call_output");
  return item?.type === "function_call_output" ? toolOutputText(item.output) : "";
}

async function setup(
  scripts: Parameters<typeof agentsModel>[0],
  options: Partial<SkillRuntimeOptions> = {},
  calls: string[] = [],
) {
  const runtime = await SkillRuntime.open({ dirs: [dir], defaults: false, ...options });
  const events: Event[] = [];
  const requests: ModelRequest[] = [];
  const model = agentsModel(scripts, calls);
  const spy = {
    id: model.id,
    stream: (req: ModelRequest, opts?: { signal?: AbortSignal }) => {
      requests.push(req);
      return model.stream(req, opts);
    },
  };
  const engine = await AgentEngine.open({
    model: spy,
    cwd: dir,
    tools: [echoTool()],
    system: "You are the root agent.",
    ...runtime.engineOptions(),
    listeners: [(ev) => events.push(ev)],
  });
  return { runtime, engine, events, requests };
}

const call = (name: string, input?: string) => ({
  text: [`Calling ${name}.`],
  toolCalls: [{ name: "call_skill", arguments: input === undefined ? { name } : { name, input } }],
});

describe("call_skill", () => {
  it("runs a skill as a child turn with its own context and returns its result (whole sequence)", async () => {
    await writeSkill(
      dir,
      "summarize",
      "name: summarize\ndescription: Summarizes text.",
      "Summarize the user's text in one line.",
    );
    const seen: string[] = [];
    const { engine, events, requests } = await setup({
      root: [call("summarize", "a long text"), (req) => ({ text: [`Done: ${lastOutput(req)}`] })],
      summarize: [
        (req) => {
          seen.push(JSON.stringify(req.items));
          return { text: ["Summary: short"] };
        },
      ],
    });
    await engine.submitAndWait("Summarize this");
    expect(skillShape(events.slice(1))).toEqual([
      "turn_started",
      "user_message",
      "model_call_started",
      "assistant_text",
      'tool_call_started call_skill {"name":"summarize","input":"a long text"}',
      'assistant_message "Calling summarize."',
      "model_call_completed",
      "skill_started summarize depth=0 chain=-",
      'progress summarize assistant_message "Summary: short"',
      "skill_completed summarize ok",
      "tool_call_completed call_skill ok",
      "model_call_started",
      "assistant_text",
      'assistant_message "Done: Summary: short"',
      "model_call_completed",
      'turn_completed "Done: Summary: short"',
    ]);
    // The child saw only its input, not the parent's conversation.
    expect(seen).toEqual([
      JSON.stringify([{ type: "message", role: "user", content: [{ type: "text", text: "a long text" }] }]),
    ]);
    const child = requests.find((r) => r.system.includes('running the skill "summarize"'));
    expect(child?.system).toContain(
      '<skill_instructions name="summarize">\nSummarize the user\'s text in one line.\n</skill_instructions>',
    );
    expect(child?.tools.map((t) => t.name)).toEqual(["call_skill", "echo", "read_artifact", "read_skill"]);
    const completed = events.find((e) => e.msg.type === "skill_completed");
    expect(completed?.msg).toMatchObject({ callId: "call_1_1", usage: { inputTokens: expect.any(Number) } });
    await engine.close();
  });

  it("substitutes $ARGUMENTS in the body with the input, as Claude Code does", async () => {
    await writeSkill(
      dir,
      "fix",
      "name: fix\ndescription: Fixes an issue.",
      "Fix issue $ARGUMENTS, then report on $ARGUMENTS.",
    );
    const { engine, requests } = await setup({
      root: [call("fix", "#42"), { text: ["ok"] }],
      fix: [{ text: ["fixed"] }],
    });
    await engine.submitAndWait("go");
    const child = requests.find((r) => r.system.includes('running the skill "fix"'));
    expect(child?.system).toContain("Fix issue #42, then report on #42.");
    await engine.close();
  });

  it("refuses a cycle anywhere in the call chain and lets the caller carry on", async () => {
    await writeSkill(dir, "ping", "name: ping\ndescription: Ping.");
    await writeSkill(dir, "pong", "name: pong\ndescription: Pong.");
    const { engine, events } = await setup({
      root: [call("ping"), (req) => ({ text: [`root got: ${lastOutput(req)}`] })],
      ping: [call("pong"), (req) => ({ text: [`ping got: ${lastOutput(req)}`] })],
      pong: [call("ping"), (req) => ({ text: [`pong got: ${lastOutput(req)}`] })],
    });
    await engine.submitAndWait("go");
    const interesting = skillShape(events).filter(
      (s) => s.startsWith("skill_") || s.startsWith("progress") || s.startsWith("turn_completed"),
    );
    expect(interesting).toEqual([
      "skill_started ping depth=0 chain=-",
      "progress ping tool_call_started call_skill",
      'progress ping assistant_message "Calling pong."',
      "skill_started pong depth=1 chain=ping",
      "progress pong tool_call_started call_skill",
      'progress pong assistant_message "Calling ping."',
      "progress pong tool_call_completed call_skill",
      'progress pong assistant_message "pong got: Skill cycle refused: ping -> pong -> ping."',
      "skill_completed pong ok",
      "progress ping tool_call_completed call_skill",
      'progress ping assistant_message "ping got: pong got: Skill cycle refused: ping -> pong -> ping."',
      "skill_completed ping ok",
      'turn_completed "root got: ping got: pong got: Skill cycle refused: ping -> pong -> ping."',
    ]);
    const refused = events.find(
      (e) =>
        e.msg.type === "tool_call_progress" &&
        (e.msg.data as { event: { type: string; status?: string } }).event.status === "error",
    );
    expect(refused?.msg).toMatchObject({
      callId: "call_1_1",
      name: "call_skill",
      data: { skill: "pong", depth: 2 },
    });
    await engine.close();
  });

  it("stops at the depth limit", async () => {
    for (const [name, next] of [
      ["a", "b"],
      ["b", "c"],
      ["c", "d"],
    ] as const)
      await writeSkill(dir, name, `name: ${name}\ndescription: calls ${next}`);
    await writeSkill(dir, "d", "name: d\ndescription: leaf");
    const { engine, events } = await setup(
      {
        root: [call("a"), (req) => ({ text: [lastOutput(req)] })],
        a: [call("b"), (req) => ({ text: [lastOutput(req)] })],
        b: [call("c"), (req) => ({ text: [lastOutput(req)] })],
        c: [call("d"), (req) => ({ text: [lastOutput(req)] })],
      },
      { maxDepth: 3 },
    );
    await engine.submitAndWait("go");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: 'Skill "d" not run: the skill depth limit (3) is reached (a -> b -> c).',
    });
    expect(skillShape(events).filter((s) => s.startsWith("skill_started"))).toEqual([
      "skill_started a depth=0 chain=-",
      "skill_started b depth=1 chain=a",
      "skill_started c depth=2 chain=a>b",
    ]);
    await engine.close();
  });

  it("reports unknown and user-only skills to the model as errors", async () => {
    await writeSkill(dir, "deploy", "name: deploy\ndescription: Deploys.\ndisable-model-invocation: true");
    await writeSkill(dir, "notes", "name: notes\ndescription: Notes.");
    const { engine, events, requests } = await setup({
      root: [
        {
          toolCalls: [
            { name: "call_skill", arguments: { name: "nope" } },
            { name: "call_skill", arguments: { name: "deploy" } },
          ],
        },
        { text: ["ok"] },
      ],
    });
    await engine.submitAndWait("go");
    const outputs = events.filter((e) => e.msg.type === "tool_call_completed").map((e) => e.msg);
    expect(outputs).toMatchObject([
      { status: "error", output: 'Unknown skill "nope". Available skills: notes.' },
      {
        status: "error",
        output: 'Skill "deploy" can only be started by the user or a plan, not by the model.',
      },
    ]);
    expect(requests[0]?.system).not.toContain("deploy");
    await engine.close();
  });
});

describe("call_skill: permission and hook gates", () => {
  it("asks authorizeSkill for every activation, nested ones included, and honours denials and input edits", async () => {
    await writeSkill(dir, "outer", "name: outer\ndescription: Outer.");
    await writeSkill(dir, "secret", "name: secret\ndescription: Secret.");
    const asked: string[] = [];
    const { engine, events } = await setup(
      {
        root: [call("outer", "hello"), (req) => ({ text: [lastOutput(req)] })],
        outer: [
          (req) => ({
            text: [`outer saw: ${JSON.stringify(req.items[0])}`],
            toolCalls: [{ name: "call_skill", arguments: { name: "secret" } }],
          }),
          (req) => ({ text: [lastOutput(req)] }),
        ],
      },
      {
        authorizeSkill: async (a) => {
          asked.push(
            `${a.name} via=${a.via} depth=${a.depth} chain=${a.chain.join(">")} input=${a.input} callId=${a.callId}`,
          );
          if (a.name === "secret") return { allow: false, message: "rule Skill(secret) denies it" };
          return { allow: true, input: `${a.input} (approved)` };
        },
      },
    );
    await engine.submitAndWait("go");
    expect(asked).toEqual([
      "outer via=model depth=0 chain= input=hello callId=call_1_1",
      "secret via=model depth=1 chain=outer input= callId=call_1_1",
    ]);
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: 'Skill "secret" denied: rule Skill(secret) denies it',
    });
    const progress = skillShape(events).filter((s) => s.startsWith("progress outer assistant_message"));
    expect(progress[0]).toContain("hello (approved)");
    await engine.close();
  });

  it("runs skill_start / skill_end hooks: block, rewrite, observe; a throwing hook fails closed", async () => {
    await writeSkill(dir, "good", "name: good\ndescription: Good.");
    await writeSkill(dir, "bad", "name: bad\ndescription: Bad.");
    await writeSkill(dir, "flaky", "name: flaky\ndescription: Flaky.");
    const ended: string[] = [];
    const { engine, events } = await setup(
      {
        root: [
          {
            toolCalls: [
              { name: "call_skill", arguments: { name: "good", input: "x" } },
              { name: "call_skill", arguments: { name: "bad" } },
              { name: "call_skill", arguments: { name: "flaky" } },
            ],
          },
          { text: ["done"] },
        ],
        good: [(req) => ({ text: [`good got ${JSON.stringify(req.items[0])}`] })],
      },
      {
        hooks: {
          onSkillStart: (a) => {
            if (a.name === "bad") return { allow: false, message: "not today" };
            if (a.name === "flaky") throw new Error("hook crashed");
            return { allow: true, input: `${a.input}!` };
          },
          onSkillEnd: (o) => {
            ended.push(`${o.name} ok=${o.ok} output=${o.output.slice(0, 40)}`);
          },
        },
      },
    );
    await engine.submitAndWait("go");
    const outputs = events.filter((e) => e.msg.type === "tool_call_completed").map((e) => e.msg);
    expect(outputs).toMatchObject([
      { status: "ok", output: expect.stringContaining('"text":"x!"') },
      { status: "error", output: 'Skill "bad" blocked by a skill_start hook: not today' },
      {
        status: "error",
        output: 'Skill "flaky" blocked by a skill_start hook: the skill_start hook failed: hook crashed',
      },
    ]);
    expect(ended).toEqual(['good ok=true output=good got {"type":"message","role":"user"']);
    expect(events.filter((e) => e.msg.type === "error").map((e) => e.msg)).toMatchObject([
      { error: { code: "skill_hook_failed", source: "hook" } },
    ]);
    expect(skillShape(events).filter((s) => s.startsWith("skill_"))).toEqual([
      "skill_started good depth=0 chain=-",
      "skill_completed good ok",
    ]);
    await engine.close();
  });
});

describe("call_skill: allowed tools, model, cancellation", () => {
  it("narrows a child's tools to allowed-tools, and Skill(name) limits what it may call", async () => {
    await writeSkill(dir, "narrow", "name: narrow\ndescription: N.\nallowed-tools: echo");
    await writeSkill(dir, "picky", "name: picky\ndescription: P.\nallowed-tools: Skill(narrow)");
    await writeSkill(dir, "other", "name: other\ndescription: O.");
    const { engine, events, requests } = await setup({
      root: [call("narrow"), call("picky"), { text: ["end"] }],
      narrow: [{ text: ["narrow done"] }],
      picky: [call("other"), (req) => ({ text: [lastOutput(req)] })],
    });
    await engine.submitAndWait("go");
    const tools = (skill: string) =>
      requests.find((r) => r.system.includes(`running the skill "${skill}"`))?.tools.map((t) => t.name);
    // read_artifact comes with any tool set: a truncated output must stay readable.
    expect(tools("narrow")).toEqual(["echo", "read_artifact"]);
    expect(tools("picky")).toEqual(["call_skill", "read_artifact", "read_skill"]);
    const narrowSystem = requests.find((r) => r.system.includes('running the skill "narrow"'))?.system;
    expect(narrowSystem).not.toContain("# Skills");
    const pickyOut = events.filter((e) => e.msg.type === "tool_call_completed").map((e) => e.msg)[1];
    expect(pickyOut).toMatchObject({ output: 'Skill "other" is not in the allowed-tools of skill "picky".' });
    await engine.close();
  });

  it("never lets a nested skill escape its caller's allowed-tools", async () => {
    await writeSkill(dir, "wrapper", "name: wrapper\ndescription: W.\nallowed-tools: Skill");
    await writeSkill(dir, "open-ended", "name: open-ended\ndescription: O.");
    const { engine, requests } = await setup({
      root: [call("wrapper"), { text: ["end"] }],
      wrapper: [call("open-ended"), { text: ["wrapped"] }],
      "open-ended": [{ text: ["inner"] }],
    });
    await engine.submitAndWait("go");
    const tools = (skill: string) =>
      requests.find((r) => r.system.includes(`running the skill "${skill}"`))?.tools.map((t) => t.name);
    expect(tools("wrapper")).toEqual(["call_skill", "read_artifact", "read_skill"]);
    expect(tools("open-ended")).toEqual(["call_skill", "read_artifact", "read_skill"]);
    await engine.close();
  });

  it("runs a skill on the model it names, through the engine's resolver", async () => {
    await writeSkill(dir, "fast", "name: fast\ndescription: F.\nmodel: sim:fast");
    const runtime = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const resolved: string[] = [];
    const fast = agentsModel({ fast: [{ text: ["from the fast model"] }] });
    const engine = await AgentEngine.open({
      model: agentsModel({ root: [call("fast"), (req) => ({ text: [lastOutput(req)] })] }),
      resolveModel: async (spec) => {
        resolved.push(spec);
        return fast;
      },
      ...runtime.engineOptions(),
    });
    const events = await engine.submitAndWait("go");
    expect(resolved).toEqual(["sim:fast"]);
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "from the fast model" });
    await engine.close();
  });

  it("an interrupt cancels nested child turns: inner skills complete first, then the call's own output", async () => {
    await writeSkill(dir, "outer", "name: outer\ndescription: O.");
    await writeSkill(dir, "slow", "name: slow\ndescription: S.");
    const { engine, events } = await setup({
      root: [call("outer")],
      outer: [call("slow")],
      slow: [{ text: ["never"], delayMs: 60_000 }],
    });
    const started = nextEvent(engine, (e) => e.msg.type === "skill_started" && e.msg.name === "slow");
    const id = engine.submit("go");
    await started;
    engine.submit({ type: "interrupt" });
    for await (const _ of engine.subscribe(id));
    expect(skillShape(ofSubmission(events, id)).slice(-6)).toEqual([
      "skill_started slow depth=1 chain=outer",
      "skill_completed slow failed: aborted",
      "progress outer tool_call_completed call_skill",
      "skill_completed outer failed: aborted",
      "tool_call_completed call_skill aborted",
      "turn_aborted",
    ]);
    await engine.close();
  });
});
