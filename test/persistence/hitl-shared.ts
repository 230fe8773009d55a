import { z } from "zod";
import { defineTool, type Tool } from "../../src/tool/define.ts";

/** The thread both processes of the HITL restart test work on. */
export const HITL_THREAD = "thr_hitl_restart";

/** A side-effecting tool; `onRun` observes that it ran (and where). */
export function deployTool(onRun: () => void): Tool {
  return defineTool({
    name: "deploy",
    description: "Deploys the release to an environment.",
    schema: z.object({ env: z.string() }),
    execute: ({ env }) => {
      onRun();
      return `deployed to ${env}`;
    },
  }) as Tool;
}
