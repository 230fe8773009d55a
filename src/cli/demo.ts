import { z } from "zod";
import type { SimStepInput } from "../llm/sim/script.ts";
import { SimClient } from "../llm/sim/sim-client.ts";
import type { ModelRequest } from "../llm/types.ts";
import { messageText, toolOutputText } from "../protocol/index.ts";
import { defineTool, type Tool } from "../tool/define.ts";

/**
 * The built-in demo: a simulated model that calls two read-only tools in parallel (the demo
 * `current_time` and the built-in `list_files`) and answers from their outputs, so
 * `taifeng run` shows the whole loop without an API key.
 */
export function demoModel(): SimClient {
  return new SimClient({
    name: "demo",
    script: { steps: [firstStep, answerStep], onExhausted: "repeat_last" },
  });
}

/** The demo-only tool the demo model calls (it also calls the built-in `list_files`). */
export function demoTools(): Tool[] {
  return [
    defineTool({
      name: "current_time",
      description: "Returns the current date and time (ISO 8601, UTC).",
      schema: z.object({}),
      readOnly: true,
      execute: () => new Date().toISOString(),
    }),
  ];
}

function lastUserText(request: ModelRequest): string {
  for (let i = request.items.length - 1; i >= 0; i--) {
    const item = request.items[i];
    if (item?.type === "message" && item.role === "user") return messageText(item);
  }
  return "";
}

function firstStep(request: ModelRequest): SimStepInput {
  const prompt = lastUserText(request).trim();
  const echo =
    prompt === "" ? "" : ` You asked: "${prompt.length > 80 ? `${prompt.slice(0, 77)}...` : prompt}".`;
  return {
    text: `I am Taifeng's built-in simulator, so no API key is needed.${echo} Let me look around first.`,
    toolCalls: [
      { name: "current_time", arguments: {} },
      { name: "list_files", arguments: { path: ".", depth: 1 } },
    ],
    chunkDelayMs: 15,
  };
}

function answerStep(request: ModelRequest): SimStepInput {
  const outputs = new Map<string, string>();
  const names = new Map<string, string>();
  for (const item of request.items) {
    if (item.type === "function_call") names.set(item.callId, item.name);
    if (item.type === "function_call_output")
      outputs.set(names.get(item.callId) ?? "", toolOutputText(item.output));
  }
  // list_files prints one path per line, then notes in brackets.
  const listing = (outputs.get("list_files") ?? "").split("\n").filter((l) => l !== "" && !l.startsWith("["));
  const shown =
    listing.slice(0, 5).join(", ") + (listing.length > 5 ? `, and ${listing.length - 5} more` : "");
  return {
    text:
      `It is ${outputs.get("current_time") ?? "an unknown time"} and this directory holds ${listing.length} entries (${shown}). ` +
      "Both tools ran in parallel under the engine's control. To talk to a real model, set a provider key and pass " +
      "--model, or script this simulator with --model sim:script.json.",
    chunkDelayMs: 15,
  };
}
