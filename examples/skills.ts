// Skills: SKILL.md folders the model discovers in its prompt and activates on demand.
// No API key: a scripted SimClient plays the model of every agent (the root and each skill's
// child turn). Run: node examples/skills.ts
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AgentEngine,
  type ModelRequest,
  messageText,
  SimClient,
  type SimStepInput,
  SkillRuntime,
  toolOutputText,
} from "../src/index.ts";

// Work on a copy of examples/skills, so the hot-reload part can edit it.
const dir = await mkdtemp(join(tmpdir(), "taifeng-skills-example-"));
await cp(join(dirname(fileURLToPath(import.meta.url)), "skills"), dir, { recursive: true });

// 1. Load the skills. Problems never throw: they are reported with file and line.
const skills = await SkillRuntime.open({ dirs: [dir], defaults: false, checkIntervalMs: 0 });
for (const skill of skills.registry.current.usable)
  console.log(
    `skill ${skill.name}${skill.manifest.plan ? " (composite)" : ""}: ${skill.manifest.description.slice(0, 60)}…`,
  );

// 2. A simulated model. Each agent (the root, or the skill a child turn runs) has its own script.
const TEXT =
  "Taifeng is an embeddable agent runtime kernel for Node.js. The model decides what to do; the kernel owns " +
  "concurrency, cancellation, tool scheduling, persistence, prompt-cache safety and observability. Skills are " +
  "Markdown files an operator writes, which the model discovers cheaply and activates on demand.";
const lastOutput = (r: ModelRequest) => {
  const item = r.items.findLast((i) => i.type === "function_call_output");
  return item?.type === "function_call_output" ? toolOutputText(item.output) : "";
};
const input = (r: ModelRequest) => {
  const item = r.items.find((i) => i.type === "message" && i.role === "user");
  return item?.type === "message" ? messageText(item) : "";
};
const scripts: Record<string, ((r: ModelRequest) => SimStepInput)[]> = {
  root: [
    () => ({
      text: "Let me check the brief skill.",
      toolCalls: [{ name: "read_skill", arguments: { name: "brief" } }],
    }),
    () => ({
      text: "Running it.",
      toolCalls: [{ name: "call_skill", arguments: { name: "brief", input: TEXT } }],
    }),
    (r) => ({ text: `Here is your brief:\n${lastOutput(r)}` }),
    (r) => ({ text: `The catalog now says: ${/- summarize: (.*) \(/.exec(r.system)?.[1]}` }),
  ],
  summarize: [
    (r) => ({ text: `A one-sentence summary of ${input(r).split(" ").length} words about Taifeng.` }),
  ],
  headline: [() => ({ text: "Taifeng Runs Agents, Skills Included" })],
};
const model = new SimClient({
  name: "skills-demo",
  script: Array.from({ length: 10 }, () => (r: ModelRequest, { index }: { index: number }) => {
    const agent = /You are running the skill "([^"]+)"/.exec(r.system)?.[1] ?? "root";
    const step = scripts[agent]?.[index];
    if (!step) throw new Error(`no scripted step ${index} for ${agent}`);
    return step(r);
  }),
});

// 3. The engine: skills add the catalog to its stable prefix and read_skill / call_skill to its tools.
const engine = await AgentEngine.open({
  model,
  system: "You are a helpful assistant.",
  ...skills.engineOptions(),
});
engine.on(({ msg }) => {
  switch (msg.type) {
    case "tool_call_started":
      console.log(`[tool] ${msg.name} ${JSON.stringify(msg.input).slice(0, 60)}…`);
      break;
    case "skill_started":
      console.log(
        `${"  ".repeat(msg.depth)}[skill] ${msg.name} started${msg.depth ? ` (in ${msg.chain?.join(" > ")})` : ""}`,
      );
      break;
    case "skill_completed":
      console.log(`[skill] ${msg.name} ${msg.ok ? "ok" : `failed: ${msg.error}`}`);
      break;
    case "tool_call_progress": {
      const data = msg.data as { skill: string; plan_step?: string; status?: string };
      if (data.plan_step) console.log(`  [plan] ${data.skill} ${data.plan_step}: ${data.status}`);
      break;
    }
    case "assistant_message":
      console.log(`[assistant] ${msg.text}`);
      break;
    default:
      break;
  }
});
await engine.submitAndWait("Brief me on this text.");

// 4. Hot reload: edit a skill on disk; the next turn's prefix has the new catalog.
await writeFile(
  join(dir, "summarize", "SKILL.md"),
  "---\nname: summarize\ndescription: Summarizes a text in one sentence (edited).\n---\n\nOne sentence.\n",
);
await engine.submitAndWait("What does the summarize skill do now?");

await engine.close();
skills.close();
await rm(dir, { recursive: true, force: true });
