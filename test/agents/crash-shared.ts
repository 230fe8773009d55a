import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { AgentTreeOptions } from "../../src/agents/index.ts";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { defineTool, type Tool } from "../../src/tool/define.ts";

/** The root thread both processes of the crash test work on. */
export const CRASH_ROOT = "thr_tree_crash";

/** Side-effecting tools; every run appends a line to `work.log` in `dir`. */
export function crashTools(dir: string): Tool[] {
  const log = (line: string) => appendFileSync(join(dir, "work.log"), `${line}\n`);
  return [
    defineTool({
      name: "work",
      description: "Does a unit of work.",
      schema: z.object({ label: z.string() }),
      execute: ({ label }) => {
        log(label);
        return `done:${label}`;
      },
    }) as Tool,
    defineTool({
      name: "deploy",
      description: "Deploys (needs approval).",
      schema: z.object({ label: z.string() }),
      execute: ({ label }) => {
        log(`deploy:${label}`);
        return `deployed:${label}`;
      },
    }) as Tool,
  ];
}

/** Tree options shared by both processes (the model differs). */
export function crashTreeOptions(dir: string): Omit<AgentTreeOptions, "model"> {
  return {
    store: new JsonlThreadStore({ dir }),
    threadId: CRASH_ROOT,
    tools: crashTools(dir),
    engine: { cwd: dir, permissions: { rules: { allow: ["work"], ask: ["deploy"] }, interactive: true } },
  };
}
