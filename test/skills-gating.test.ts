import { access, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HookDefinition } from "../src/hooks/types.ts";
import { AgentEngine, type EngineOptions } from "../src/loop/engine.ts";
import type { CommandCheck } from "../src/permission/evaluate.ts";
import type { Event, EventMsgOf } from "../src/protocol/index.ts";
import { SkillRuntime, type SkillRuntimeOptions } from "../src/skill/index.ts";
import { builtinTools } from "../src/tool/builtin/index.ts";
import { agentsModel, tempDir, writeSkill } from "./helpers/skills.ts";

// Every way a skill script runs passes one gate: plan `script:` steps and run_skill_script are
// judged as the shell command they stand for (Bash rules, the command check, the mode,
// approvals, pre/post_tool hooks); a project's own skill scripts need a trusted folder;
// Skill(name args) rules match what call_skill really sends.

let dir: string;
let cleanup: () => Promise<void>;
let skillsDir: string;
let work: string;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("taifeng-skill-gate-"));
  skillsDir = join(dir, "skills");
  work = join(dir, "work");
  await mkdir(work, { recursive: true });
  await writeSkill(
    skillsDir,
    "release",
    `name: release
description: Releases a version.
taifeng:
  plan:
    steps:
      - id: mark
        script: mark.sh
        args: ["{{input}}"]
    output: "released {{mark}}"`,
    "Runs the release plan.",
    { "scripts/mark.sh": '#!/bin/sh\ntouch "marked-$1"\necho "marked $1"\n' },
  );
  await writeSkill(skillsDir, "deploy", "name: deploy\ndescription: Deploys.", "Deploy as asked: $ARGUMENTS");
});
afterEach(() => cleanup());

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function runTurn(
  root: Parameters<typeof agentsModel>[0]["root"],
  options: Partial<EngineOptions> & { skills?: Partial<SkillRuntimeOptions> },
  onEvent?: (ev: Event, engine: AgentEngine) => void,
): Promise<Event[]> {
  const skills = await SkillRuntime.open({ dirs: [skillsDir], defaults: false, ...options.skills });
  const model = agentsModel({ root, deploy: [{ text: "deployed" }, { text: "deployed" }] });
  const { skills: _, ...engineOptions } = options;
  const engine = await AgentEngine.open({ model, cwd: work, ...skills.engineOptions(), ...engineOptions });
  const events: Event[] = [];
  engine.on((ev) => {
    events.push(ev);
    onEvent?.(ev, engine);
  });
  const id = engine.submit("go");
  for await (const _ of engine.subscribe(id));
  await engine.close();
  skills.close();
  return events;
}

const completions = (events: readonly Event[]) =>
  events
    .map((e) => e.msg)
    .filter((m): m is EventMsgOf<"tool_call_completed"> => m.type === "tool_call_completed")
    .map(
      (m) => `${m.name} ${m.status}: ${typeof m.output === "string" ? m.output : JSON.stringify(m.output)}`,
    );

const callRelease = {
  toolCalls: [{ id: "c1", name: "call_skill", arguments: { name: "release", input: "v1" } }],
};
const runScript = {
  toolCalls: [
    { id: "c2", name: "run_skill_script", arguments: { name: "release", script: "mark.sh", args: ["v2"] } },
  ],
};

describe("plan script steps and run_skill_script pass the engine's gate", () => {
  it("a script step asks like a shell command: with nobody to answer, it does not run", async () => {
    const events = await runTurn([callRelease, { text: "done" }], {
      permissions: { rules: { allow: ["Skill(release)"] }, interactive: false },
    });
    expect(await exists(join(work, "marked-v1"))).toBe(false);
    const [line] = completions(events);
    expect(line).toMatch(/^call_skill error: Skill "release" failed: plan step .*mark\.sh was not run: /);
    expect(line).toContain("no one can approve it");
  });

  it("one deny rule on the command stops the plan step and the model's run_skill_script alike, even under bypassPermissions", async () => {
    const events = await runTurn([callRelease, runScript, { text: "done" }], {
      permissions: { mode: "bypassPermissions", rules: { deny: ["Bash(sh:*)"] } },
    });
    expect(await exists(join(work, "marked-v1"))).toBe(false);
    expect(await exists(join(work, "marked-v2"))).toBe(false);
    const lines = completions(events);
    expect(lines[0]).toMatch(/^call_skill error: .*mark\.sh was not run: .*Bash\(sh:\*\)/);
    expect(lines[1]).toMatch(/^run_skill_script denied: .*Bash\(sh:\*\)/);
  });

  it("the command check (command defense) sees the line a script stands for, and can refuse it", async () => {
    const seen: string[] = [];
    const check: CommandCheck = (command) => {
      seen.push(command);
      return command.includes("v1")
        ? { verdict: "deny", category: "test", reason: "v1 is refused" }
        : { verdict: "allow" };
    };
    const events = await runTurn([callRelease, runScript, { text: "done" }], {
      permissions: { mode: "bypassPermissions", commandCheck: check },
    });
    const script = join(skillsDir, "release", "scripts", "mark.sh");
    expect(seen).toEqual([`sh ${script} v1`, `sh ${script} v2`]);
    expect(await exists(join(work, "marked-v1"))).toBe(false);
    expect(await exists(join(work, "marked-v2"))).toBe(true);
    expect(completions(events)[0]).toContain("v1 is refused");
  });

  it("approved by a person, the step runs; pre_tool and post_tool hooks and the audit log see it as run_skill_script", async () => {
    const seen: string[] = [];
    const hooks: HookDefinition[] = [
      {
        point: "pre_tool",
        matcher: "Bash",
        run: (e) => void (e.point === "pre_tool" && seen.push(`pre ${e.tool} ${JSON.stringify(e.input)}`)),
      },
      {
        point: "post_tool",
        matcher: "run_skill_script",
        run: (e) =>
          void (
            e.point === "post_tool" && seen.push(`post ${e.tool} ${e.status} ${JSON.stringify(e.output)}`)
          ),
      },
    ];
    const auditPath = join(dir, "audit.jsonl");
    const events = await runTurn(
      [callRelease, { text: "done" }],
      { permissions: { rules: { allow: ["Skill(release)"] } }, hooks: { hooks, auditPath } },
      (ev, engine) => {
        if (ev.msg.type === "permission_requested")
          setTimeout(
            () =>
              engine.submit({
                type: "approval",
                requestId: (ev.msg as { requestId: string }).requestId,
                decision: "allow_once",
              }),
            0,
          );
      },
    );
    const asked = events.map((e) => e.msg).filter((m) => m.type === "permission_requested");
    expect(asked).toMatchObject([
      { tool: "run_skill_script", input: { name: "release", script: "mark.sh", args: ["v1"] } },
    ]);
    expect(await exists(join(work, "marked-v1"))).toBe(true);
    expect(completions(events)).toEqual(["call_skill ok: released marked v1"]);
    expect(seen).toEqual([
      'pre run_skill_script {"name":"release","script":"mark.sh","args":["v1"]}',
      'post run_skill_script ok "marked v1"',
    ]);
    const audit = (await readFile(auditPath, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(audit.filter((r) => r.tool === "run_skill_script").map((r) => r.phase)).toEqual(["pre", "post"]);
  });
});

describe("project trust for skill scripts", () => {
  it("scripts of the project's own skills run only in a trusted folder", async () => {
    const project = join(dir, "repo");
    await writeSkill(
      join(project, ".taifeng", "skills"),
      "tool",
      "name: tool\ndescription: A tool.",
      "Use it.",
      {
        "scripts/x.sh": "#!/bin/sh\ntouch ran-x\necho ok\n",
      },
    );
    const call = {
      toolCalls: [{ id: "c1", name: "run_skill_script", arguments: { name: "tool", script: "x.sh" } }],
    };
    const run = async (projectTrust: SkillRuntimeOptions["projectTrust"]) => {
      const skills = await SkillRuntime.open({ cwd: project, home: join(dir, "home"), projectTrust });
      const engine = await AgentEngine.open({
        model: agentsModel({ root: [call, { text: "done" }] }),
        cwd: project,
        ...skills.engineOptions(),
      });
      const events: Event[] = [];
      engine.on((ev) => events.push(ev));
      for await (const _ of engine.subscribe(engine.submit("go")));
      await engine.close();
      skills.close();
      return completions(events);
    };
    const untrusted = await run(undefined); // remembered: the user never trusted this folder
    expect(untrusted[0]).toMatch(
      /^run_skill_script error: Skill "tool" comes from this project's folder .* which is not trusted/,
    );
    expect(await exists(join(project, "ran-x"))).toBe(false);
    expect(await run(true)).toEqual([
      expect.stringMatching(/^run_skill_script ok: Script scripts\/x\.sh exited with code 0/),
    ]);
    expect(await exists(join(project, "ran-x"))).toBe(true);
  });
});

describe("Skill(name args) rules match what call_skill sends", () => {
  const call = (input: string, id: string) => ({
    toolCalls: [{ id, name: "call_skill", arguments: { name: "deploy", input } }],
  });

  it("narrows by arguments, through the real call_skill tool", async () => {
    const events = await runTurn([call("prod now", "c1"), call("staging", "c2"), { text: "done" }], {
      permissions: {
        rules: { deny: ["Skill(deploy prod*)"], allow: ["Skill(deploy *)"] },
        interactive: false,
      },
    });
    expect(completions(events)).toEqual([
      expect.stringMatching(/^call_skill denied: .*Skill\(deploy prod\*\)/),
      "call_skill ok: deployed",
    ]);
    expect(events.filter((e) => e.msg.type === "skill_started")).toHaveLength(1);
  });

  it("Skill(name) covers every argument: a deny cannot be walked around by adding some", async () => {
    const events = await runTurn([call("anything at all", "c1"), { text: "done" }], {
      permissions: { mode: "bypassPermissions", rules: { deny: ["Skill(deploy)"] } },
    });
    expect(completions(events)).toEqual([expect.stringMatching(/^call_skill denied: .*Skill\(deploy\)/)]);
  });
});

describe("background tasks", () => {
  it("a command started in the background passes the same gate and command defense as any other", async () => {
    const tools = builtinTools({ only: ["bash", "bash_output", "bash_kill"] });
    try {
      const start = (id: string, command: string) => ({
        toolCalls: [{ id, name: "bash", arguments: { command, run_in_background: true } }],
      });
      const engine = await AgentEngine.open({
        model: agentsModel({
          root: [
            start("c1", "touch bg-denied"),
            start("c2", "rm -rf ~"),
            start("c3", "touch bg-ok"),
            { text: "done" },
          ],
        }),
        cwd: work,
        tools: tools.tools,
        permissions: { mode: "bypassPermissions", rules: { deny: ["Bash(touch bg-denied)"] } },
      });
      const events: Event[] = [];
      engine.on((ev) => events.push(ev));
      for await (const _ of engine.subscribe(engine.submit("go")));
      await engine.close();
      const lines = completions(events);
      expect(lines[0]).toMatch(/^bash denied: .*Bash\(touch bg-denied\)/);
      expect(lines[1]).toMatch(/^bash error: .*(refused|blocked|denied)/i);
      expect(lines[2]).toMatch(/^bash ok: Started background task/);
      for (let i = 0; i < 100 && !(await exists(join(work, "bg-ok"))); i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await exists(join(work, "bg-ok"))).toBe(true);
      expect(await exists(join(work, "bg-denied"))).toBe(false);
    } finally {
      await tools.close();
    }
  });
});
