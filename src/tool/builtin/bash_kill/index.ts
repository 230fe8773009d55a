import { z } from "zod";
import { defineTool, type Tool } from "../../define.ts";
import { taskLine } from "../bash_output/index.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure } from "../env.ts";

const Input = z.object({ task_id: z.string().describe("The background task id (bg_...).") });

/** `bash_kill`: kills a background task's process group. */
export function bashKillTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "bash_kill",
    description: loadDescription(import.meta.url),
    schema: Input,
    async execute(input, ctx) {
      const info = await env.tasks.kill(ctx.threadId, input.task_id);
      if (!info)
        return failure(`Unknown task ${input.task_id}. Call bash_output without task_id to list tasks.`);
      return taskLine(info);
    },
  });
}
