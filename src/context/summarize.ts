import { ResponseAssembler } from "../llm/assemble.ts";
import type { ModelRequest } from "../llm/types.ts";
import type { FunctionCallOutputItem, ResponseItem, Usage } from "../protocol/index.ts";
import { textMessage } from "../protocol/index.ts";
import type { ContextEnv } from "./manager.ts";
import { itemText, type TokenEstimator } from "./tokens.ts";

/**
 * Shortens tool outputs, largest first, until `items` fit in `budget` raw tokens. Used for
 * summary requests only: a summary of a history that no longer fits the window must still
 * be possible, even if it cannot reuse the cached prefix.
 */
export function fitForSummary(
  items: readonly ResponseItem[],
  estimator: TokenEstimator,
  budget: number,
): readonly ResponseItem[] {
  let total = estimator.items(items);
  if (total <= budget) return items;
  const order = items
    .map((item, i) => ({ item, i }))
    .filter((x) => x.item.type === "function_call_output")
    .sort((a, b) => estimator.item(b.item) - estimator.item(a.item));
  const out = items.slice();
  for (const { item, i } of order) {
    if (total <= budget) break;
    const text = itemText(item);
    const short: FunctionCallOutputItem = {
      type: "function_call_output",
      callId: (item as FunctionCallOutputItem).callId,
      output: `${text.slice(0, 600)}\n[... ${text.length - 600} characters omitted for the summary ...]`,
    };
    if (text.length <= 700) continue;
    total += estimator.item(short) - estimator.item(item);
    out[i] = short;
  }
  return out;
}

/**
 * Asks the thread's model for a summary. The request keeps the thread's system prompt and
 * tools and the history being summarized as its prefix, so a provider cache serves it, and
 * forbids tool calls. With `fit`, a history over the budget is shortened first (see
 * fitForSummary). Throws with the model's classified error when the call fails.
 */
export async function summarizeWithModel(
  env: Pick<ContextEnv, "threadId" | "system" | "tools" | "model" | "signal">,
  items: readonly ResponseItem[],
  instructions: string,
  fit?: { readonly estimator: TokenEstimator; readonly budget: number },
): Promise<{ text: string; usage: Usage | undefined }> {
  const history = fit ? fitForSummary(items, fit.estimator, fit.budget) : items;
  const request: ModelRequest = {
    system: env.system,
    tools: env.tools,
    items: [...history, textMessage("user", instructions)],
    toolChoice: "none",
    threadId: env.threadId,
    purpose: "compaction",
  };
  const assembler = new ResponseAssembler();
  for await (const ev of env.model.stream(request, { signal: env.signal })) {
    assembler.push(ev);
    if (ev.type === "finish" || ev.type === "error") break;
  }
  const result = assembler.result();
  if (result.error)
    throw new Error(`the summary call failed (${result.error.code}): ${result.error.message}`);
  if (result.text.trim() === "") throw new Error("the summary call returned no text");
  return { text: result.text.trim(), usage: result.usage };
}
