import { z } from "zod";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import type { BuiltinEnv } from "../env.ts";
import { renderTodos, TODO_TOOL, TodoItem } from "./todos.ts";

const Input = z.object({
  todos: z.array(TodoItem).max(100).describe("The complete, updated todo list."),
});

/** `todo_write`: replaces the thread's todo list; its calls in the transcript are the persisted state. */
export function todoWriteTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: TODO_TOOL,
    description: loadDescription(import.meta.url),
    schema: Input,
    readOnly: true,
    concurrencySafe: false,
    execute(input, ctx) {
      env.todos.set(ctx.threadId, input.todos);
      const active = input.todos.filter((t) => t.status === "in_progress").length;
      const note =
        active > 1 ? `\nNote: ${active} items are in progress; keep one in progress at a time.` : "";
      return `${renderTodos(input.todos)}${note}`;
    },
  });
}
