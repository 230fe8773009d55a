import { describe, expect, it } from "vitest";
import type { ResponseItem } from "../../protocol/index.ts";
import { textMessage } from "../../protocol/index.ts";
import { simSummary } from "./summary.ts";

const ask = (items: ResponseItem[]) =>
  simSummary({ system: "", tools: [], items: [...items, textMessage("user", "Summarize.")] });

describe("simSummary", () => {
  it("keeps requests and NOTE lines, drops everything else", () => {
    const text = ask([
      textMessage("user", "Fix the parser.\nNOTE: the port is 6543."),
      { type: "function_call", callId: "c1", name: "read", arguments: "{}" },
      { type: "function_call_output", callId: "c1", output: "code\n  // the shard count is 37\ncode" },
      textMessage("assistant", "Done. The lock timeout is 412 seconds."),
    ]);
    expect(text).toBe(
      [
        "Summary of the work so far (1 tool calls).",
        "User requests:\n- Fix the parser. NOTE: the port is 6543.",
        "Notes to keep:\n- NOTE: the port is 6543.",
      ].join("\n\n"),
    );
  });

  it("merges an earlier summary instead of quoting it, so repeated summaries stay bounded", () => {
    let history: ResponseItem[] = [];
    const sizes: number[] = [];
    for (let round = 0; round < 40; round++) {
      history.push(textMessage("user", `Task ${round}: continue.${round === 0 ? "\nNOTE: keep me." : ""}`));
      history.push({ type: "function_call", callId: `c${round}`, name: "t", arguments: "{}" });
      const summary = ask(history);
      sizes.push(summary.length);
      history = [{ type: "compaction", summary, replacedItems: history.length }];
    }
    const last = (history[0] as { summary: string }).summary;
    expect(last.startsWith("Summary of the work so far (40 tool calls).")).toBe(true);
    expect(last).toContain("- Task 39: continue.");
    expect(last).not.toContain("- Task 15: continue.");
    expect(last).toContain("(and 16 earlier requests)");
    expect(last.match(/NOTE: keep me\./g)).toHaveLength(1);
    // Past 24 requests the summary no longer grows (a request line is 24 characters).
    expect((sizes.at(-1) as number) - (sizes[30] as number)).toBeLessThan(5);
  });
});
