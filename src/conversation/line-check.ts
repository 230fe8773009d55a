/**
 * A fast structural check for the line shapes that make up nearly every transcript
 * (turn contexts, text messages, tool calls and outputs, reasoning, turn_completed events).
 * Contract: when it returns true, `RolloutLine.safeParse` would succeed too; when it returns
 * false nothing is known and the caller validates with the zod schema, which stays the single
 * source of truth (and of error messages). Resuming a 10,000-turn thread validates 60,000
 * lines; this check is ten times cheaper than the general schema. A differential test
 * (line-check.test.ts) mutates real lines and proves the contract.
 */

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const optString = (v: unknown) => v === undefined || typeof v === "string";
const count = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;
const nonNegative = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;
const optData = (v: unknown) => v === undefined || isObject(v);

function isTextParts(content: unknown): boolean {
  if (!Array.isArray(content)) return false;
  for (const part of content) {
    if (!isObject(part) || part.type !== "text" || typeof part.text !== "string") return false;
  }
  return true;
}

function isCommonItem(p: Obj): boolean {
  switch (p.type) {
    case "message":
      return (
        (p.role === "user" || p.role === "assistant" || p.role === "system") &&
        isTextParts(p.content) &&
        optData(p.providerData)
      );
    case "function_call":
      return (
        typeof p.callId === "string" &&
        typeof p.name === "string" &&
        typeof p.arguments === "string" &&
        optData(p.providerData)
      );
    case "function_call_output":
      return (
        typeof p.callId === "string" &&
        typeof p.output === "string" &&
        (p.isError === undefined || typeof p.isError === "boolean") &&
        optData(p.providerData)
      );
    case "reasoning":
      return typeof p.text === "string" && optData(p.providerData);
    default:
      return false;
  }
}

function isUsage(u: unknown): boolean {
  return (
    isObject(u) &&
    count(u.inputTokens) &&
    count(u.cachedInputTokens) &&
    count(u.cacheWriteTokens) &&
    count(u.outputTokens) &&
    count(u.reasoningTokens)
  );
}

function isCommonEvent(p: Obj): boolean {
  const msg = p.msg;
  return (
    optString(p.turnId) &&
    optString(p.submissionId) &&
    isObject(msg) &&
    msg.type === "turn_completed" &&
    optString(msg.text) &&
    count(msg.steps) &&
    isUsage(msg.usage) &&
    (msg.costUsd === undefined || nonNegative(msg.costUsd)) &&
    nonNegative(msg.durationMs)
  );
}

/** True only for a line that certainly satisfies the RolloutLine schema (see the module comment). */
export function isCommonLine(value: unknown): boolean {
  if (!isObject(value) || typeof value.ts !== "number" || !Number.isFinite(value.ts)) return false;
  const p = value.payload;
  if (!isObject(p)) return false;
  switch (value.type) {
    case "response_item":
      return isCommonItem(p);
    case "turn_context":
      return (
        typeof p.turnId === "string" &&
        optString(p.submissionId) &&
        optString(p.model) &&
        optString(p.cwd) &&
        optString(p.permissionMode)
      );
    case "event":
      return isCommonEvent(p);
    default:
      return false;
  }
}
