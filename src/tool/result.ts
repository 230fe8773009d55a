import type { ToolOutput } from "../protocol/index.ts";

/**
 * Turns whatever `execute` returned into a tool output: strings pass through,
 * `{ output, isError }` is unwrapped, `undefined` becomes an empty output and anything
 * else is sent as JSON text.
 */
export function normalizeResult(value: unknown): { output: ToolOutput; isError: boolean } {
  if (typeof value === "string") return { output: value, isError: false };
  if (value === undefined || value === null) return { output: "", isError: false };
  if (typeof value === "object" && "output" in value) {
    const v = value as { output: unknown; isError?: unknown };
    if (typeof v.output === "string" || isParts(v.output))
      return { output: v.output, isError: v.isError === true };
  }
  try {
    return { output: JSON.stringify(value), isError: false };
  } catch {
    return { output: String(value), isError: false };
  }
}

function isParts(value: unknown): value is Exclude<ToolOutput, string> {
  return (
    Array.isArray(value) &&
    value.every((p) => typeof p === "object" && p !== null && (p.type === "text" || p.type === "image"))
  );
}
