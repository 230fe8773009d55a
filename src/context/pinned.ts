import type { ResponseItem } from "../protocol/index.ts";
import { textMessage } from "../protocol/index.ts";
import { latestTodos, renderTodos } from "../tool/builtin/todo_write/todos.ts";
import type { PinnedSource } from "./manager.ts";
import { itemText } from "./tokens.ts";

/** The header of the message that carries pinned state (see ContextManager). */
export const PINNED_HEADER = "[Pinned state, re-added after compaction]";

/** The todo list of the thread (the latest todo_write), re-added after compaction. */
export function todoPinned(): PinnedSource {
  return {
    name: "Todo list",
    read: (_threadId, items) => {
      const todos = latestTodos(items);
      return todos && todos.length > 0 ? renderTodos(todos) : undefined;
    },
  };
}

/** The skills the thread has read or called, so the model knows to keep following them. */
export function skillsPinned(): PinnedSource {
  return {
    name: "Active skills",
    read: (_threadId, items) => {
      const names = new Set<string>();
      for (const item of items) {
        if (item.type !== "function_call" || (item.name !== "read_skill" && item.name !== "call_skill"))
          continue;
        try {
          const name = (JSON.parse(item.arguments) as { name?: unknown }).name;
          if (typeof name === "string") names.add(name);
        } catch {
          // malformed arguments: the call failed and activated nothing
        }
      }
      if (names.size === 0) return undefined;
      return `Skills used in this thread: ${[...names].sort().join(", ")}. Use read_skill to see a skill's instructions again.`;
    },
  };
}

/** The pinned sources an engine uses unless the host gives its own. */
export function defaultPinned(): PinnedSource[] {
  return [todoPinned(), skillsPinned()];
}

/**
 * The section `name` of the most recent pinned-state message in `items`: what an earlier
 * compaction pinned, carried over when the history no longer holds its source.
 */
export function previousSection(items: readonly ResponseItem[], name: string): string | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as ResponseItem;
    if (item.type !== "message" || item.role !== "system") continue;
    const text = itemText(item);
    if (!text.startsWith(PINNED_HEADER)) continue;
    const start = text.indexOf(`## ${name}\n`);
    if (start < 0) return undefined;
    const body = text.slice(start + name.length + 4);
    const end = body.indexOf("\n## ");
    return (end < 0 ? body : body.slice(0, end)).trim() || undefined;
  }
  return undefined;
}

/**
 * `after` with the pinned state re-added (as a system message right after a leading summary)
 * when a strategy removed items from `before`; `after` itself when nothing was removed or
 * nothing is pinned. A source whose state was folded into an earlier summary keeps what was
 * pinned then.
 */
export function withPinned(
  threadId: string,
  sources: readonly PinnedSource[],
  before: readonly ResponseItem[],
  after: ResponseItem[],
): ResponseItem[] {
  if (sources.length === 0 || after.length >= before.length) return after;
  const sections: string[] = [];
  for (const source of sources) {
    const text = (source.read(threadId, before) ?? previousSection(before, source.name))?.trim();
    if (text) sections.push(`## ${source.name}\n${text}`);
  }
  if (sections.length === 0) return after;
  const note = textMessage("system", `${PINNED_HEADER}\n\n${sections.join("\n\n")}`);
  const at = after[0]?.type === "compaction" ? 1 : 0;
  return [...after.slice(0, at), note, ...after.slice(at)];
}
