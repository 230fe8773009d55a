import { itemText } from "../../context/tokens.ts";
import type { ModelRequest } from "../types.ts";

/**
 * The simulator's summarizer for compaction requests. It stands in for a competent summary
 * model: it keeps every user request (shortened), every line marked `NOTE:` anywhere in the
 * history, earlier summaries, and counts the tool calls. Deterministic, so benchmarks that
 * measure what survives compaction can be rerun exactly.
 */
export function simSummary(request: ModelRequest): string {
  const requests: string[] = [];
  const notes = new Set<string>();
  const earlier: string[] = [];
  let calls = 0;
  // The last item is the summary instruction itself.
  for (const item of request.items.slice(0, -1)) {
    if (item.type === "function_call") calls++;
    if (item.type === "compaction") earlier.push(item.summary);
    if (item.type === "message" && item.role === "user") {
      const text = itemText(item).trim();
      requests.push(text.length > 300 ? `${text.slice(0, 297)}...` : text);
    }
    for (const line of itemText(item).split("\n")) {
      const at = line.indexOf("NOTE:");
      if (at >= 0) notes.add(line.slice(at).trim());
    }
  }
  const parts = [`Summary of the work so far (${calls} tool calls).`];
  if (earlier.length > 0) parts.push(`Earlier summary:\n${earlier.join("\n")}`);
  if (requests.length > 0) parts.push(`User requests:\n${requests.map((r) => `- ${r}`).join("\n")}`);
  if (notes.size > 0) parts.push(`Notes to keep:\n${[...notes].map((n) => `- ${n}`).join("\n")}`);
  return parts.join("\n\n");
}
