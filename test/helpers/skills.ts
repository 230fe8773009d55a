import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { SimStepInput } from "../../src/llm/sim/script.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../../src/llm/types.ts";
import type { Event } from "../../src/protocol/index.ts";
import { ROOT } from "./cli.ts";

/** The shared Agent Skills fixtures (copied verbatim into test/fixtures/skills). */
export const FIXTURE_SKILLS = join(ROOT, "test", "fixtures", "skills");

/** A temporary directory removed by the returned cleanup. */
export async function tempDir(
  prefix = "taifeng-skills-",
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes `<root>/<folder>/SKILL.md` from front matter text and a body, plus extra files (`"scripts/x.sh": "..."`). */
export async function writeSkill(
  root: string,
  folder: string,
  frontMatter: string,
  body = `Instructions for ${folder}.`,
  files: Record<string, string> = {},
): Promise<string> {
  const dir = join(root, folder);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "SKILL.md"), `---\n${frontMatter.trim()}\n---\n\n${body}\n`);
  for (const [path, text] of Object.entries(files)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
    if (path.endsWith(".sh")) await chmod(file, 0o755);
  }
  return dir;
}

/** The skill whose child turn a request belongs to ("root" for the top-level agent). */
export function agentOf(request: ModelRequest): string {
  return /You are running the skill "([^"]+)"/.exec(request.system)?.[1] ?? "root";
}

/**
 * A SimClient whose steps depend on which agent is calling: `scripts[agent][i]` is the i-th
 * model call of that agent's thread (each child turn has its own thread, so it starts at 0).
 */
export function agentsModel(
  scripts: Record<string, (SimStepInput | ((request: ModelRequest) => SimStepInput))[]>,
  calls: string[] = [],
): SimClient {
  const step = (request: ModelRequest, { index }: { index: number }): SimStepInput => {
    const agent = agentOf(request);
    calls.push(agent);
    const list = scripts[agent];
    const s = list?.[index];
    if (s === undefined) throw new Error(`no step ${index} for agent ${agent}`);
    return typeof s === "function" ? s(request) : s;
  };
  return new SimClient({ script: Array.from({ length: 20 }, () => step), name: "agents" });
}

/** One short line per event, with the details skill tests care about. */
export function skillShape(events: readonly Event[]): string[] {
  // A child's model calls are forwarded too (for tracing, see test/telemetry/otel.test.ts);
  // the skill tests follow its messages and tool calls.
  const modelCall = (msg: Event["msg"]) =>
    msg.type === "tool_call_progress" &&
    /^model_call_/.test(String((msg.data as { event?: { type?: unknown } } | null)?.event?.type));
  return events
    .filter(({ msg }) => !modelCall(msg))
    .map(({ msg }) => {
      switch (msg.type) {
        case "skill_started":
          return `skill_started ${msg.name} depth=${msg.depth} chain=${(msg.chain ?? []).join(">") || "-"}`;
        case "skill_completed":
          return `skill_completed ${msg.name} ${msg.ok ? "ok" : `failed: ${msg.error}`}`;
        case "tool_call_started":
          return `tool_call_started ${msg.name} ${JSON.stringify(msg.input)}`;
        case "tool_call_completed":
          return `tool_call_completed ${msg.name} ${msg.status}`;
        case "tool_call_progress": {
          const d = msg.data as {
            skill: string;
            event?: { type: string; name?: string; text?: string };
            plan_step?: string;
            status?: string;
          };
          if (d.plan_step !== undefined) return `progress ${d.skill} step ${d.plan_step} ${d.status}`;
          return `progress ${d.skill} ${d.event?.type} ${d.event?.name ?? JSON.stringify(d.event?.text ?? "")}`;
        }
        case "turn_completed":
          return `turn_completed ${JSON.stringify(msg.text)}`;
        case "turn_failed":
          return `turn_failed ${msg.error.code}`;
        case "model_call_started":
        case "model_call_completed":
        case "assistant_text":
          return msg.type;
        case "assistant_message":
          return `assistant_message ${JSON.stringify(msg.text)}`;
        case "error":
          return `error ${msg.error.code}`;
        default:
          return msg.type;
      }
    });
}
