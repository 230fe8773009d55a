import { z } from "zod";
import type { ResponseItem } from "../../../protocol/index.ts";

/** One item of the agent's todo list. */
export const TodoItem = z.object({
  content: z.string().min(1).describe("What to do, as a short imperative sentence."),
  status: z.enum(["pending", "in_progress", "completed"]),
  id: z.string().optional().describe("Optional stable id."),
});
export type TodoItem = z.infer<typeof TodoItem>;

/** The name of the todo tool, whose calls are the persisted record of the list. */
export const TODO_TOOL = "todo_write";

/**
 * The latest todo list of a thread, read from its history: the arguments of the last
 * successful `todo_write` call. This is how the engine (and a context manager after
 * compaction) recovers the pinned todo state; the transcript is the persisted record.
 * Returns undefined when the thread never wrote one.
 */
export function latestTodos(items: readonly ResponseItem[]): TodoItem[] | undefined {
  const failed = new Set<string>();
  for (const item of items) if (item.type === "function_call_output" && item.isError) failed.add(item.callId);
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item?.type !== "function_call" || item.name !== TODO_TOOL || failed.has(item.callId)) continue;
    try {
      const parsed = z.object({ todos: z.array(TodoItem) }).safeParse(JSON.parse(item.arguments));
      if (parsed.success) return parsed.data.todos;
    } catch {
      // not JSON: the call failed validation and was never applied
    }
  }
  return undefined;
}

const MARK = { pending: "[ ]", in_progress: "[>]", completed: "[x]" } as const;

/** Renders a todo list as the model and people read it. */
export function renderTodos(todos: readonly TodoItem[]): string {
  if (todos.length === 0) return "The todo list is empty.";
  const done = todos.filter((t) => t.status === "completed").length;
  const lines = todos.map(
    (t, i) => `${MARK[t.status]} ${i + 1}. ${t.content}${t.status === "in_progress" ? " (in progress)" : ""}`,
  );
  return [`Todo list (${done}/${todos.length} done):`, ...lines].join("\n");
}

/** The current todo list of each thread, in memory (rebuild with `latestTodos` after a restart). */
export class TodoStore {
  private readonly lists = new Map<string, TodoItem[]>();

  set(threadId: string, todos: readonly TodoItem[]): void {
    this.lists.set(
      threadId,
      todos.map((t) => ({ ...t })),
    );
  }

  get(threadId: string): readonly TodoItem[] | undefined {
    return this.lists.get(threadId);
  }
}
