import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { FunctionCallOutputItem } from "../src/protocol/index.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { SkillRuntime } from "../src/skill/runtime.ts";
import { sandboxedScriptRunner } from "../src/skill/sandbox-runner.ts";
import { subprocessRunner } from "../src/skill/scripts.ts";
import { type BuiltinTools, builtinTools } from "../src/tool/builtin/index.ts";
import { tempDir, writeSkill } from "./helpers/skills.ts";

// Secrets in the parent's environment never reach a subprocess the engine starts: the bash
// tool (foreground and background), a skill script (both runners) and a shell hook, each
// driven through a real engine.

const SECRETS = {
  OPENAI_API_KEY: "sk-proj-planted-openai-7f3a",
  DATABASE_URL: "postgres://admin:planted-pw-91c2@db.internal:5432/prod",
  GH_PAT: "ghp_plantedGithubToken0000000000000000",
};
const PLAIN = { TAIFENG_TEST_DECLARED: "declared-value" };

let dir: string;
let cleanup: () => Promise<void>;
let tools: BuiltinTools | undefined;
const saved = new Map<string, string | undefined>();

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir("taifeng-subprocess-env-"));
  for (const [k, v] of Object.entries({ ...SECRETS, ...PLAIN })) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  await writeSkill(dir, "skills/envdump", "name: envdump\ndescription: Prints its environment.", "Run it.", {
    "scripts/dump.sh": "env\n",
  });
});

afterAll(async () => {
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await cleanup();
});

afterEach(async () => {
  await tools?.close();
  tools = undefined;
});

function outputs(requests: readonly ModelRequest[]): string[] {
  const last = requests.at(-1);
  return (last?.items ?? [])
    .filter((i): i is FunctionCallOutputItem => i.type === "function_call_output")
    .map((i) => toolOutputText(i.output));
}

function expectNoSecret(text: string): void {
  for (const [name, value] of Object.entries(SECRETS)) {
    expect(text, name).not.toContain(value);
    expect(text, name).not.toMatch(new RegExp(`^${name}=`, "m"));
  }
}

describe("subprocess environment allowlist, end to end", () => {
  it("keeps secrets out of bash commands, background tasks and shell hooks", async () => {
    tools = builtinTools({ envPassthrough: ["TAIFENG_TEST_DECLARED"] });
    const hookFile = join(dir, "hook-env.txt");
    const requests: ModelRequest[] = [];
    const model = new SimClient({
      script: [
        {
          toolCalls: [
            { id: "c1", name: "bash", arguments: { command: "env" } },
            { id: "c2", name: "bash", arguments: { command: "env; sleep 0.1", run_in_background: true } },
          ],
        },
        (req: ModelRequest) => {
          const id = /task (bg_[0-9a-f]+)/.exec(outputs([req]).join("\n"))?.[1] ?? "missing";
          return {
            toolCalls: [{ id: "c3", name: "bash_output", arguments: { task_id: id, wait_ms: 5000 } }],
          };
        },
        (req: ModelRequest) => {
          requests.push(req);
          return { text: "done" };
        },
      ],
    });
    const engine = await AgentEngine.open({
      model,
      cwd: dir,
      tools: tools.tools,
      hooks: { hooks: [{ point: "pre_tool", matcher: "bash", command: `env >> "${hookFile}"` }] },
    });
    const events = await engine.submitAndWait("dump the environment");
    await engine.close();
    expect(events.at(-1)?.msg.type).toBe("turn_completed");

    const foreground = events.find((e) => e.msg.type === "tool_call_completed" && e.msg.callId === "c1");
    const fg = foreground?.msg.type === "tool_call_completed" ? toolOutputText(foreground.msg.output) : "";
    expect(fg).toMatch(/^PATH=/m);
    expect(fg).toContain("TAIFENG_TEST_DECLARED=declared-value");
    expectNoSecret(fg);

    const background = outputs(requests).join("\n");
    expect(background).toMatch(/^PATH=/m);
    expectNoSecret(background);

    const hookEnv = await readFile(hookFile, "utf8");
    expect(hookEnv).toMatch(/^PATH=/m);
    // Hooks were not given the bash tool's passthrough: a declaration is per spawner.
    expect(hookEnv).not.toContain("TAIFENG_TEST_DECLARED");
    expectNoSecret(hookEnv);
    expectNoSecret(JSON.stringify(events));
  });

  for (const [label, runScript] of [
    ["the default script runner", subprocessRunner()],
    ["the sandbox script runner", sandboxedScriptRunner({ level: 0 })],
  ] as const) {
    it(`keeps secrets out of skill scripts run by ${label}`, async () => {
      const runtime = await SkillRuntime.open({ dirs: [join(dir, "skills")], defaults: false, runScript });
      const answers: string[] = [];
      const engine = await AgentEngine.open({
        model: new SimClient({
          script: [
            { toolCalls: [{ name: "run_skill_script", arguments: { name: "envdump", script: "dump.sh" } }] },
            (req: ModelRequest) => {
              answers.push(...outputs([req]));
              return { text: "done" };
            },
          ],
        }),
        cwd: dir,
        ...runtime.engineOptions(),
      });
      const events = await engine.submitAndWait("dump");
      await engine.close();
      runtime.close();
      expect(events.at(-1)?.msg.type).toBe("turn_completed");
      const text = answers.join("\n");
      expect(text).toContain("Script scripts/dump.sh exited with code 0.");
      expect(text).toMatch(/^PATH=/m);
      expect(text).toContain("TAIFENG_SKILL_NAME=envdump");
      expectNoSecret(text);
    });
  }
});
