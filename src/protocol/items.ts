import { z } from "zod";

/**
 * ResponseItem: what the model sees. The history of a thread is an ordered list of these.
 * Every item may carry `providerData`: opaque values one provider needs back verbatim on later
 * requests (encrypted reasoning, thinking signatures, thought signatures, server item ids).
 */

/** Opaque per-provider data, round-tripped untouched. Keys are provider names. */
export const ProviderData = z.record(z.string(), z.unknown());
export type ProviderData = z.infer<typeof ProviderData>;

/** Plain text content. */
export const TextPart = z.object({ type: z.literal("text"), text: z.string() });
export type TextPart = z.infer<typeof TextPart>;

/** An image, inline (base64 `data`) or by `url`. Exactly one of the two is set. */
export const ImagePart = z
  .object({
    type: z.literal("image"),
    mediaType: z.string(),
    data: z.string().optional(),
    url: z.string().optional(),
  })
  .refine((p) => (p.data === undefined) !== (p.url === undefined), {
    message: "an image part needs exactly one of data or url",
  });
export type ImagePart = z.infer<typeof ImagePart>;

/** A file attached to a user message (e.g. a PDF), inline base64 or by url. */
export const FilePart = z.object({
  type: z.literal("file"),
  mediaType: z.string(),
  filename: z.string().optional(),
  data: z.string().optional(),
  url: z.string().optional(),
});
export type FilePart = z.infer<typeof FilePart>;

/** One piece of message content. */
export const ContentPart = z.discriminatedUnion("type", [TextPart, ImagePart, FilePart]);
export type ContentPart = z.infer<typeof ContentPart>;

/** The role of a message. `system` is only used for injected context (reminders, pinned state). */
export const Role = z.enum(["user", "assistant", "system"]);
export type Role = z.infer<typeof Role>;

/** A message from the user or the assistant, or injected system context. */
export const MessageItem = z.object({
  type: z.literal("message"),
  role: Role,
  content: z.array(ContentPart),
  providerData: ProviderData.optional(),
});
export type MessageItem = z.infer<typeof MessageItem>;

/**
 * Model reasoning. `text` is the visible reasoning or its summary (may be empty when the
 * provider only returns encrypted content); `providerData` holds what must be sent back.
 */
export const ReasoningItem = z.object({
  type: z.literal("reasoning"),
  text: z.string(),
  providerData: ProviderData.optional(),
});
export type ReasoningItem = z.infer<typeof ReasoningItem>;

/** A tool call requested by the model. `arguments` is the raw JSON text the model produced. */
export const FunctionCallItem = z.object({
  type: z.literal("function_call"),
  callId: z.string(),
  name: z.string(),
  arguments: z.string(),
  providerData: ProviderData.optional(),
});
export type FunctionCallItem = z.infer<typeof FunctionCallItem>;

/** Tool output content: text, or parts when the tool returns images. */
export const ToolOutput = z.union([z.string(), z.array(z.discriminatedUnion("type", [TextPart, ImagePart]))]);
export type ToolOutput = z.infer<typeof ToolOutput>;

/**
 * The output of a tool call. Every `function_call` in a well-formed history is followed
 * (not necessarily immediately) by exactly one output with the same `callId`; aborted and
 * timed-out calls get a synthetic output with `isError: true`.
 */
export const FunctionCallOutputItem = z.object({
  type: z.literal("function_call_output"),
  callId: z.string(),
  output: ToolOutput,
  isError: z.boolean().optional(),
  providerData: ProviderData.optional(),
});
export type FunctionCallOutputItem = z.infer<typeof FunctionCallOutputItem>;

/** A compaction summary standing in for the history it replaced. */
export const CompactionItem = z.object({
  type: z.literal("compaction"),
  summary: z.string(),
  /** How many items the summary replaced. */
  replacedItems: z.number().int().nonnegative(),
  providerData: ProviderData.optional(),
});
export type CompactionItem = z.infer<typeof CompactionItem>;

/** Everything the model can see in its history. */
export const ResponseItem = z.discriminatedUnion("type", [
  MessageItem,
  ReasoningItem,
  FunctionCallItem,
  FunctionCallOutputItem,
  CompactionItem,
]);
export type ResponseItem = z.infer<typeof ResponseItem>;

/** Builds a text message item. */
export function textMessage(role: Role, text: string): MessageItem {
  return { type: "message", role, content: [{ type: "text", text }] };
}

/** Concatenates the text parts of a message (images and files are skipped). */
export function messageText(item: MessageItem): string {
  let out = "";
  for (const part of item.content) if (part.type === "text") out += part.text;
  return out;
}

/** The text of a tool output (image parts are skipped). */
export function toolOutputText(output: ToolOutput): string {
  if (typeof output === "string") return output;
  let out = "";
  for (const part of output) if (part.type === "text") out += part.text;
  return out;
}
