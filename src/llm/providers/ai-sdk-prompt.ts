import type { JSONObject, LanguageModelV4Message, LanguageModelV4Prompt } from "@ai-sdk/provider";
import type { ContentPart, ProviderData, ResponseItem } from "../../protocol/index.ts";
import { messageText, toolOutputText } from "../../protocol/index.ts";
import { argsObject, callNames, compactionText, providerEntry } from "./shared.ts";

/**
 * Converts Taifeng history into an AI SDK language-model prompt (specification v4, and
 * v3 where file parts differ). Provider metadata the model returned with a part (for
 * example Anthropic signatures or Google thought signatures, as the AI SDK provider
 * packages expose them) travels back as that part's `providerOptions`.
 */

/** The providerData key the AI SDK bridge owns. */
export const AI_SDK_DATA = "ai-sdk";

type Spec = "v3" | "v4";
type AssistantPart = Extract<LanguageModelV4Message, { role: "assistant" }>["content"][number];
type UserPart = Extract<LanguageModelV4Message, { role: "user" }>["content"][number];
type ToolPart = Extract<LanguageModelV4Message, { role: "tool" }>["content"][number];

/** The provider metadata kept for an item, as providerOptions. */
function optionsOf(data: ProviderData | undefined): { providerOptions?: Record<string, JSONObject> } {
  const entry = providerEntry(data, AI_SDK_DATA);
  return entry ? { providerOptions: entry as Record<string, JSONObject> } : {};
}

function fileData(spec: Spec, data: string | undefined, url: string | undefined): unknown {
  if (spec === "v3") return url !== undefined ? new URL(url) : (data ?? "");
  return url !== undefined ? { type: "url", url: new URL(url) } : { type: "data", data: data ?? "" };
}

function userPart(p: ContentPart, spec: Spec): UserPart {
  if (p.type === "text") return { type: "text", text: p.text };
  const part = { type: "file", mediaType: p.mediaType, data: fileData(spec, p.data, p.url) } as UserPart;
  if (p.type === "file" && p.filename !== undefined) (part as { filename?: string }).filename = p.filename;
  return part;
}

/** Builds the prompt: system first, then user, assistant and tool messages in order. */
export function aiSdkPrompt(
  system: string,
  items: readonly ResponseItem[],
  spec: Spec,
): LanguageModelV4Prompt {
  const prompt: LanguageModelV4Message[] = [];
  if (system !== "") prompt.push({ role: "system", content: system });
  const names = callNames(items);
  const push = (role: "user" | "assistant" | "tool", part: UserPart | AssistantPart | ToolPart) => {
    const last = prompt.at(-1);
    if (last && last.role === role) (last.content as unknown[]).push(part);
    else prompt.push({ role, content: [part] } as LanguageModelV4Message);
  };
  for (const item of items) {
    switch (item.type) {
      case "message":
        if (item.role === "assistant") {
          push("assistant", { type: "text", text: messageText(item), ...optionsOf(item.providerData) });
        } else if (item.role === "system") {
          push("user", { type: "text", text: `<system-reminder>${messageText(item)}</system-reminder>` });
        } else {
          for (const p of item.content) push("user", userPart(p, spec));
        }
        break;
      case "reasoning":
        push("assistant", { type: "reasoning", text: item.text, ...optionsOf(item.providerData) });
        break;
      case "function_call":
        push("assistant", {
          type: "tool-call",
          toolCallId: item.callId,
          toolName: item.name,
          input: argsObject(item.arguments),
          ...optionsOf(item.providerData),
        });
        break;
      case "function_call_output": {
        const text = toolOutputText(item.output);
        push("tool", {
          type: "tool-result",
          toolCallId: item.callId,
          toolName: names.get(item.callId) ?? "unknown",
          output: item.isError ? { type: "error-text", value: text } : { type: "text", value: text },
        });
        break;
      }
      case "compaction":
        push("user", { type: "text", text: compactionText(item) });
        break;
    }
  }
  return prompt;
}
