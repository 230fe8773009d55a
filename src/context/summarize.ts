import { ResponseAssembler } from "../llm/assemble.ts";
import type { ModelRequest } from "../llm/types.ts";
import type { ResponseItem, Usage } from "../protocol/index.ts";
import { textMessage } from "../protocol/index.ts";
import type { ContextEnv } from "./manager.ts";

/**
 * Asks the thread's model for a summary. The request keeps the thread's system prompt and
 * tools and the history being summarized as its prefix, so a provider cache serves it, and
 * forbids tool calls. Throws with the model's classified error when the call fails.
 */
export async function summarizeWithModel(
  env: Pick<ContextEnv, "threadId" | "system" | "tools" | "model" | "signal">,
  items: readonly ResponseItem[],
  instructions: string,
): Promise<{ text: string; usage: Usage | undefined }> {
  const request: ModelRequest = {
    system: env.system,
    tools: env.tools,
    items: [...items, textMessage("user", instructions)],
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
