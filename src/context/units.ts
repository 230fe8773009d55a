import type { ResponseItem } from "../protocol/index.ts";

/**
 * Indexes where history may be cut: before index `i` when every function call before `i`
 * already has its output, and `i - 1` is not a reasoning item (reasoning travels with the
 * output that follows it). 0 and `items.length` are always boundaries. Compaction cuts only
 * here, so a call is never split from its output.
 */
export function cutPoints(items: readonly ResponseItem[]): number[] {
  const open = new Set<string>();
  const points = [0];
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as ResponseItem;
    if (item.type === "function_call") open.add(item.callId);
    else if (item.type === "function_call_output") open.delete(item.callId);
    const next = i + 1;
    if (next < items.length && open.size === 0 && item.type !== "reasoning") points.push(next);
  }
  if (items.length > 0) points.push(items.length);
  return points;
}

/** The last index <= `at` that is a cut point. */
export function cutAtOrBefore(points: readonly number[], at: number): number {
  let best = 0;
  for (const p of points) if (p <= at) best = p;
  return best;
}

/** Index of the last user message, or -1. */
export function lastUserMessage(items: readonly ResponseItem[]): number {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as ResponseItem;
    if (item.type === "message" && item.role === "user") return i;
  }
  return -1;
}

/** Index of the first item that differs (by identity) between two histories. */
export function firstDifference(a: readonly ResponseItem[], b: readonly ResponseItem[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
