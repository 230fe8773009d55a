import type { ThreadInfo } from "../conversation/summary.ts";

/** One thread with the threads it spawned (child agents) or that were forked from it. */
export interface ThreadNode {
  readonly thread: ThreadInfo;
  /** `agent`: a child agent it spawned; `fork`: a copy of it; `root`: a top-level thread. */
  readonly link: "root" | "agent" | "fork";
  readonly children: ThreadNode[];
}

/**
 * Arranges directory rows as a forest: a child agent under the thread that spawned it, a fork
 * under the thread it was copied from (both read from the directory's links, no transcript is
 * opened). A row whose parent is not in the list is a root. Roots keep the list's order
 * (most recently updated first); children are in spawn order (oldest first).
 */
export function threadForest(list: readonly ThreadInfo[]): ThreadNode[] {
  const nodes = new Map<string, ThreadNode>();
  for (const thread of list)
    nodes.set(thread.threadId, {
      thread,
      link: thread.agent ? "agent" : thread.parentThreadId ? "fork" : "root",
      children: [],
    });
  const roots: ThreadNode[] = [];
  for (const node of nodes.values()) {
    const parentId = node.thread.agent?.parentThreadId ?? node.thread.parentThreadId;
    const parent = parentId === undefined ? undefined : nodes.get(parentId);
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const sort = (n: ThreadNode): void => {
    n.children.sort((a, b) => a.thread.createdAt - b.thread.createdAt);
    for (const c of n.children) sort(c);
  };
  for (const r of roots) sort(r);
  return roots;
}

/** `threads ls --tree`: one line per thread, indented under its parent. */
export function formatThreadForest(roots: readonly ThreadNode[]): string {
  if (roots.length === 0) return "no threads\n";
  const out: string[] = [];
  const walk = (n: ThreadNode, prefix: string, last: boolean, top: boolean) => {
    const t = n.thread;
    const label =
      n.link === "agent" ? `${t.agent?.path}  ` : n.link === "fork" ? `(fork@${t.parentTurns ?? "?"}) ` : "";
    const title = n.link === "agent" ? "" : oneLine(t.title ?? "", 60);
    const branch = top ? "" : last ? "└─ " : "├─ ";
    out.push(
      `${prefix}${branch}${label}${t.threadId}  ${t.status}  ${t.turns} turn(s)  ${t.usage.inputTokens}/${t.usage.outputTokens} tokens${title ? `  ${title}` : ""}`.trimEnd(),
    );
    const next = top ? prefix : `${prefix}${last ? "   " : "│  "}`;
    for (const [i, c] of n.children.entries()) walk(c, next, i === n.children.length - 1, false);
  };
  for (const r of roots) walk(r, "", true, true);
  return `${out.join("\n")}\n`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
