import { access, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { messageText, toolOutputText } from "../src/protocol/index.ts";
import { SkillRuntime, type SkillRuntimeOptions } from "../src/skill/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { agentsModel, skillShape, tempDir, writeSkill } from "./helpers/skills.ts";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

const firstUserText = (req: ModelRequest) => {
  const item = req.items.find((i) => i.type === "message" && i.role === "user");
  return item?.type === "message" ? messageText(item) : "";
};
const lastOutput = (req: ModelRequest) => {
  const item = req.items.findLast((i) => i.type === "function_call_output");
  return item?.type === "function_call_output" ? toolOutputText(item.output) : "";
};

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Waits for the other side of a two-way rendezvous: it can only meet if both run at the same time. */
const rendezvous = defineTool({
  name: "rendezvous",
  description: "Marks arrival and waits for the partner.",
  schema: z.object({ me: z.string(), partner: z.string() }),
  execute: async ({ me, partner }, ctx) => {
    await writeFile(join(ctx.cwd, `${me}.here`), "");
    for (let i = 0; i < 1000; i++) {
      if (await exists(join(ctx.cwd, `${partner}.here`))) return "met";
      await new Promise((r) => setTimeout(r, 10));
    }
    return "alone";
  },
});

// The script side of the rendezvous, then a verdict from its argument.
const RISK_SCRIPT = `#!/bin/sh
touch script.here
i=0
while [ ! -f tool.here ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
[ -f tool.here ] || { echo "never met the summarizer" >&2; exit 9; }
case "$1" in *RISK=HIGH*) echo HIGH ;; *) echo LOW ;; esac
`;

const REPORT = `name: report
description: Builds a risk report.
taifeng:
  plan:
    steps:
      - id: facts
        skill: gather
      - parallel:
          - id: summary
            skill: summarize
            input: "{{facts}}"
          - id: risk
            script: risk.sh
            args: ["{{facts}}"]
      - id: escalation
        when: { step: risk, equals: HIGH }
        skill: escalate
        input: "{{summary}}"
      - id: archived
        when: { step: risk, equals: LOW }
        skill: archive
    output: "{{summary}} | risk={{risk}} | {{escalation}}{{archived}}"`;

async function setup(
  scripts: Parameters<typeof agentsModel>[0],
  calls: string[],
  options: Partial<SkillRuntimeOptions> = {},
) {
  await writeSkill(dir, "gather", "name: gather\ndescription: Gathers facts.");
  await writeSkill(dir, "summarize", "name: summarize\ndescription: Summarizes.");
  await writeSkill(dir, "escalate", "name: escalate\ndescription: Escalates.");
  await writeSkill(dir, "archive", "name: archive\ndescription: Archives.");
  await writeSkill(dir, "report", REPORT, "Runs gather, then summarize and a risk check in parallel.", {
    "scripts/risk.sh": RISK_SCRIPT,
  });
  const runtime = await SkillRuntime.open({ dirs: [dir], defaults: false, ...options });
  const events: Event[] = [];
  const engine = await AgentEngine.open({
    model: agentsModel(scripts, calls),
    cwd: dir,
    tools: [rendezvous],
    ...runtime.engineOptions(),
    listeners: [(ev) => events.push(ev)],
  });
  return { engine, events };
}

const callReport = { toolCalls: [{ name: "call_skill", arguments: { name: "report", input: "Q3" } }] };
const summarizer = [
  { toolCalls: [{ name: "rendezvous", arguments: { me: "tool", partner: "script" } }] },
  (req: ModelRequest) => ({ text: [`summary of (${firstUserText(req)}) after ${lastOutput(req)}`] }),
];

describe("composite skills: declarative plans", () => {
  it("runs serial, parallel and conditional steps with no model call of its own", async () => {
    const calls: string[] = [];
    const { engine, events } = await setup(
      {
        root: [callReport, (req) => ({ text: [lastOutput(req)] })],
        gather: [(req) => ({ text: [`facts on ${firstUserText(req)}: RISK=HIGH`] })],
        summarize: summarizer,
        escalate: [(req) => ({ text: [`escalated [${firstUserText(req)}]`] })],
      },
      calls,
    );
    await engine.submitAndWait("report please");
    const summary = "summary of (facts on Q3: RISK=HIGH) after met";
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: `${summary} | risk=HIGH | escalated [${summary}]`,
    });
    // The plan sampled nothing: only the root and the atomic skills it ran called the model.
    expect(calls).toEqual(["root", "gather", "summarize", "summarize", "escalate", "root"]);
    const shape = skillShape(events);
    expect(shape.filter((s) => s.startsWith("skill_"))).toEqual([
      "skill_started report depth=0 chain=-",
      "skill_started gather depth=1 chain=report",
      "skill_completed gather ok",
      "skill_started summarize depth=1 chain=report",
      "skill_completed summarize ok",
      "skill_started escalate depth=1 chain=report",
      "skill_completed escalate ok",
      "skill_completed report ok",
    ]);
    // Parallel branches finish in either order; everything else is in plan order.
    const steps = shape.filter((s) => s.startsWith("progress report step"));
    expect(steps.slice(0, 1)).toEqual(["progress report step steps[0] ok"]);
    expect(steps.slice(1, 3).sort()).toEqual([
      "progress report step steps[1].parallel[0] ok",
      "progress report step steps[1].parallel[1] ok",
    ]);
    expect(steps.slice(3)).toEqual([
      "progress report step steps[1] ok",
      "progress report step steps[2] ok",
      "progress report step steps[3] skipped",
    ]);
    await engine.close();
  });

  it("takes the other branch when the condition says so", async () => {
    const calls: string[] = [];
    const { engine, events } = await setup(
      {
        root: [callReport, (req) => ({ text: [lastOutput(req)] })],
        gather: [{ text: ["all quiet"] }],
        summarize: summarizer,
        archive: [(req) => ({ text: [`archived (input was ${firstUserText(req)})`] })],
      },
      calls,
    );
    await engine.submitAndWait("go");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: "summary of (all quiet) after met | risk=LOW | archived (input was Q3)",
    });
    expect(calls).toEqual(["root", "gather", "summarize", "summarize", "archive", "root"]);
    await engine.close();
  });

  it("fails the plan on the first failing step and cancels its parallel siblings", async () => {
    await writeSkill(
      dir,
      "fragile",
      `name: fragile
description: Fails fast.
taifeng:
  plan:
    steps:
      - parallel:
          - skill: slow
          - script: boom.sh
      - skill: never`,
      "x",
      { "scripts/boom.sh": "echo 'disk on fire' >&2\nexit 3\n" },
    );
    await writeSkill(dir, "slow", "name: slow\ndescription: Slow.");
    await writeSkill(dir, "never", "name: never\ndescription: Never runs.");
    const calls: string[] = [];
    const runtime = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: agentsModel(
        {
          root: [
            { toolCalls: [{ name: "call_skill", arguments: { name: "fragile" } }] },
            (req) => ({ text: [lastOutput(req)] }),
          ],
          slow: [{ text: ["too late"], delayMs: 60_000 }],
        },
        calls,
      ),
      cwd: dir,
      ...runtime.engineOptions(),
      listeners: [(ev) => events.push(ev)],
    });
    await engine.submitAndWait("go");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: 'Skill "fragile" failed: plan step steps[0].parallel[1], script boom.sh: scripts/boom.sh failed (exit code 3): disk on fire',
    });
    expect(skillShape(events).filter((s) => s.startsWith("skill_"))).toEqual([
      "skill_started fragile depth=0 chain=-",
      "skill_started slow depth=1 chain=fragile",
      "skill_completed slow failed: aborted",
      expect.stringMatching(
        /^skill_completed fragile failed: Skill "fragile" failed: plan step steps\[0\]\.parallel\[1\]/,
      ),
    ]);
    expect(calls).toEqual(["root", "slow", "root"]);
    await engine.close();
  });

  it("lets continueOnError steps fail and branches on ok: false", async () => {
    await writeSkill(
      dir,
      "careful",
      `name: careful
description: Has a fallback.
taifeng:
  plan:
    steps:
      - { id: first, script: flaky.sh, continueOnError: true }
      - { id: fallback, when: { step: first, ok: false }, script: backup.sh, args: ["{{first}}"] }
    output: "first={{first}} fallback={{fallback}}"`,
      "x",
      { "scripts/flaky.sh": "echo nope >&2\nexit 1\n", "scripts/backup.sh": 'echo "backup after: $1"\n' },
    );
    const runtime = await SkillRuntime.open({ dirs: [dir], defaults: false });
    const calls: string[] = [];
    const engine = await AgentEngine.open({
      model: agentsModel(
        {
          root: [
            { toolCalls: [{ name: "call_skill", arguments: { name: "careful" } }] },
            (req) => ({ text: [lastOutput(req)] }),
          ],
        },
        calls,
      ),
      cwd: dir,
      ...runtime.engineOptions(),
    });
    const events = await engine.submitAndWait("go");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: "first=scripts/flaky.sh failed (exit code 1): nope fallback=backup after: scripts/flaky.sh failed (exit code 1): nope",
    });
    expect(calls).toEqual(["root", "root"]);
    await engine.close();
  });

  it("sends plan steps through the permission seam and refuses a plan that calls its own composite", async () => {
    await writeSkill(
      dir,
      "loop",
      "name: loop\ndescription: Calls itself.\ntaifeng:\n  plan:\n    steps:\n      - skill: loop",
    );
    await writeSkill(dir, "inner", "name: inner\ndescription: I.");
    await writeSkill(
      dir,
      "outer",
      "name: outer\ndescription: O.\ntaifeng:\n  plan:\n    steps:\n      - skill: inner",
    );
    const asked: string[] = [];
    const runtime = await SkillRuntime.open({
      dirs: [dir],
      defaults: false,
      authorizeSkill: (a) => {
        asked.push(`${a.name}:${a.via}:${a.chain.join(">")}`);
        return a.name === "inner" ? { allow: false, message: "no" } : { allow: true };
      },
    });
    const engine = await AgentEngine.open({
      model: agentsModel({
        root: [
          {
            toolCalls: [
              { name: "call_skill", arguments: { name: "loop" } },
              { name: "call_skill", arguments: { name: "outer" } },
            ],
          },
          { text: ["end"] },
        ],
      }),
      cwd: dir,
      ...runtime.engineOptions(),
    });
    const events = await engine.submitAndWait("go");
    expect(asked).toEqual(["loop:model:", "outer:model:", "inner:plan:outer"]);
    expect(events.filter((e) => e.msg.type === "tool_call_completed").map((e) => e.msg)).toMatchObject([
      {
        status: "error",
        output: 'Skill "loop" failed: plan step steps[0], skill loop: Skill cycle refused: loop -> loop.',
      },
      {
        status: "error",
        output: 'Skill "outer" failed: plan step steps[0], skill inner: Skill "inner" denied: no',
      },
    ]);
    await engine.close();
  });
});
