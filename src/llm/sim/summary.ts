import { itemText } from "../../context/tokens.ts";
import type { ModelRequest } from "../types.ts";

/** Requests a summary lists one by one; older ones are only counted, as a person would. */
const KEEP_REQUESTS = 24;
const HEADER = /^Summary of the work so far \((\d+) tool calls\)\.$/m;
const EARLIER = /^\(and (\d+) earlier requests\)$/m;

/** The lines of section `title` in an earlier summary (`- ` items up to a blank line). */
function section(summary: string, title: string): string[] {
  const start = summary.indexOf(`${title}:\n`);
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of summary.slice(start + title.length + 2).split("\n")) {
    if (!line.startsWith("- ")) break;
    out.push(line.slice(2));
  }
  return out;
}

/**
 * The simulator's summarizer for compaction requests. It stands in for a competent summary
 * model: it keeps the user's requests (shortened; the latest 24 listed, older ones counted),
 * every line marked `NOTE:` anywhere in the history, and counts the tool calls. An earlier
 * summary in the history is merged, not quoted, so a thread summarized many times keeps a
 * summary of bounded size. Nothing else survives: facts stated in tool outputs or answers
 * without a `NOTE:` mark are lost, as a summary would lose most of them. Deterministic, so
 * benchmarks that measure what survives compaction can be rerun exactly.
 */
export function simSummary(request: ModelRequest): string {
  const requests: string[] = [];
  const notes = new Set<string>();
  let calls = 0;
  let dropped = 0;
  // The last item is the summary instruction itself.
  for (const item of request.items.slice(0, -1)) {
    if (item.type === "function_call") calls++;
    if (item.type === "compaction") {
      calls += Number(HEADER.exec(item.summary)?.[1] ?? 0);
      dropped += Number(EARLIER.exec(item.summary)?.[1] ?? 0);
      requests.push(...section(item.summary, "User requests"));
    }
    if (item.type === "message" && item.role === "user") {
      const text = itemText(item).trim().replaceAll("\n", " ");
      requests.push(text.length > 300 ? `${text.slice(0, 297)}...` : text);
    }
    for (const line of itemText(item).split("\n")) {
      const at = line.indexOf("NOTE:");
      if (at >= 0) notes.add(line.slice(at).trim());
    }
  }
  const unique = [...new Set(requests)];
  dropped += Math.max(0, unique.length - KEEP_REQUESTS);
  const listed = unique.slice(-KEEP_REQUESTS);
  const parts = [`Summary of the work so far (${calls} tool calls).`];
  if (listed.length > 0) {
    const lines = listed.map((r) => `- ${r}`);
    parts.push(
      `User requests:\n${lines.join("\n")}${dropped > 0 ? `\n(and ${dropped} earlier requests)` : ""}`,
    );
  }
  if (notes.size > 0) parts.push(`Notes to keep:\n${[...notes].map((n) => `- ${n}`).join("\n")}`);
  return parts.join("\n\n");
}
