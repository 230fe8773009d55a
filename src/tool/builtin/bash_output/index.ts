import { z } from "zod";
import { defineTool, type Tool } from "../../define.ts";
import type { TaskInfo } from "../bash/tasks.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure } from "../env.ts";

const Input = z.object({
  task_id: z.string().optional().describe("The background task id (bg_...). Omit to list tasks."),
  wait_ms: z
    .number()
    .int()
    .min(0)
    .max(30_000)
    .optional()
    .describe("Wait this long for new output. Default 0."),
});

/** One line describing a task. */
export function taskLine(t: TaskInfo): string {
  const state = t.status === "running" ? "running" : `${t.status} (${t.detail})`;
  return `${t.id}: ${state} - ${t.command.length > 100 ? `${t.command.slice(0, 97)}...` : t.command}`;
}

/** `bash_output`: incremental output of background tasks, or the list of tasks. */
export function bashOutputTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "bash_output",
    description: loadDescription(import.meta.url),
    schema: Input,
    readOnly: true,
    async execute(input, ctx) {
      if (input.task_id === undefined) {
        const tasks = env.tasks.list(ctx.threadId);
        return tasks.length === 0 ? "No background tasks." : tasks.map(taskLine).join("\n");
      }
      const read = await env.tasks.read(ctx.threadId, input.task_id, input.wait_ms ?? 0, ctx.signal);
      if (!read)
        return failure(`Unknown task ${input.task_id}. Call bash_output without task_id to list tasks.`);
      const parts = [taskLine(read.info)];
      if (read.dropped > 0) parts.push(`[${read.dropped} bytes of earlier output were dropped]`);
      parts.push(read.text === "" ? "(no new output)" : read.text.replace(/\n$/, ""));
      return parts.join("\n");
    },
  });
}
