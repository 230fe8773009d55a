import type { ModelClient, ModelEvent } from "../../src/llm/types.ts";

/** A model that reports `usd` per call on its usage events (the simulator has no prices). */
export function priced(client: ModelClient, usd: number): ModelClient {
  return {
    id: client.id,
    async *stream(request, options) {
      for await (const ev of client.stream(request, options)) {
        yield (ev.type === "usage" ? { ...ev, costUsd: usd } : ev) satisfies ModelEvent;
      }
    },
  };
}

/** `n` steps that each call echo with a different input, then a final answer. */
export function toolSteps(n: number, usage = { inputTokens: 50, outputTokens: 10 }) {
  const steps: object[] = [];
  for (let i = 1; i <= n; i++)
    steps.push({ toolCalls: [{ name: "echo", arguments: { v: String(i) } }], usage });
  steps.push({ text: ["done"], usage });
  return steps;
}
