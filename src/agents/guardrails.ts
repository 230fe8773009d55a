/**
 * Guardrails: checks on a turn's input, its final answer, and tool calls. Turn guardrails wrap
 * the model client, so they need no engine seam: a tripped input or output check ends the model
 * stream with a classified error, and the turn fails with `turn_failed` code
 * `guardrail_tripped`. Tool guardrails are a gate (input: the call is refused with the reason)
 * and a tool wrapper (output: the output is withheld).
 */
import { describeError } from "../errors.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../llm/types.ts";
import type { ErrorInfo } from "../protocol/index.ts";
import type { Tool } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";

/** What a check sees. */
export interface GuardrailInput {
  readonly text: string;
  readonly threadId: string | undefined;
  readonly signal: AbortSignal;
}

/**
 * A named check: returns a reason to trip, or undefined to pass. A check that throws trips
 * (it could not be analysed: fail closed). A model can be the judge: see `modelGuardrail`.
 */
export interface Guardrail {
  readonly name: string;
  check(input: GuardrailInput): string | undefined | Promise<string | undefined>;
}

/** Options of `withGuardrails`. */
export interface GuardrailOptions {
  /** Checks on the user's message (each model call that starts from a new user message). */
  readonly input?: readonly Guardrail[];
  /** Checks on the final answer (a model response without tool calls). */
  readonly output?: readonly Guardrail[];
  /**
   * `before` (default): input checks finish before the model is called. `parallel`: the model
   * call starts at once and its events flow, but the response's end (and so any tool call
   * that waits for it) is held until the checks pass; a trip cuts the stream there.
   */
  readonly mode?: "before" | "parallel";
}

/** Runs checks concurrently; the first trip wins (fail-fast: the others are not awaited). */
export function runChecks(checks: readonly Guardrail[], input: GuardrailInput): Promise<string | undefined> {
  if (checks.length === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let left = checks.length;
    for (const g of checks) {
      Promise.resolve()
        .then(() => g.check(input))
        .then(
          (reason) => {
            if (reason !== undefined) resolve(`guardrail "${g.name}" tripped: ${reason}`);
            else if (--left === 0) resolve(undefined);
          },
          (err: unknown) => resolve(`guardrail "${g.name}" could not decide (${describeError(err)})`),
        );
    }
  });
}

function tripped(message: string): ModelEvent {
  const error: ErrorInfo = { code: "guardrail_tripped", message, source: "model", retryable: false };
  return { type: "error", error };
}

/** The text of the request's last item when it is a user message, else undefined. */
function newUserText(request: ModelRequest): string | undefined {
  const last = request.items.at(-1);
  if (last?.type !== "message" || last.role !== "user") return undefined;
  return last.content.map((p) => (p.type === "text" ? p.text : "")).join("");
}

/** A model client whose turns pass the guardrails (see the module comment). */
export function withGuardrails(model: ModelClient, options: GuardrailOptions): ModelClient {
  const input = options.input ?? [];
  const output = options.output ?? [];
  const parallel = options.mode === "parallel";
  const client: ModelClient = {
    id: model.id,
    ...(model.cacheStyle ? { cacheStyle: model.cacheStyle } : {}),
    stream: (request, streamOptions) => guarded(model, request, streamOptions, input, output, parallel),
  };
  if (model.release) client.release = (threadId) => model.release?.(threadId);
  return client;
}

async function* guarded(
  model: ModelClient,
  request: ModelRequest,
  options: StreamOptions | undefined,
  input: readonly Guardrail[],
  output: readonly Guardrail[],
  parallel: boolean,
): AsyncIterable<ModelEvent> {
  const signal = options?.signal ?? new AbortController().signal;
  const userText = request.purpose === "compaction" ? undefined : newUserText(request);
  let pending: Promise<string | undefined> | undefined;
  if (userText !== undefined && input.length > 0) {
    pending = runChecks(input, { text: userText, threadId: request.threadId, signal });
    if (!parallel) {
      const reason = await pending;
      if (reason !== undefined) {
        yield tripped(reason);
        return;
      }
      pending = undefined;
    }
  }
  let text = "";
  let calledTools = false;
  for await (const ev of model.stream(request, options)) {
    if (ev.type === "text_delta") text += ev.delta;
    else if (ev.type === "tool_call_start") calledTools = true;
    if (ev.type === "finish" || ev.type === "error") {
      if (pending) {
        const reason = await pending;
        if (reason !== undefined) {
          yield tripped(reason);
          return;
        }
      }
      if (ev.type === "finish" && !calledTools && output.length > 0 && request.purpose !== "compaction") {
        const reason = await runChecks(output, { text, threadId: request.threadId, signal });
        if (reason !== undefined) {
          yield tripped(`${reason} (the answer was withheld)`);
          return;
        }
      }
    }
    yield ev;
  }
}

/** A guardrail judged by a model: it must answer `PASS` or `FAIL: <reason>`. */
export function modelGuardrail(name: string, judge: ModelClient, instructions: string): Guardrail {
  return {
    name,
    async check({ text, signal }) {
      let answer = "";
      for await (const ev of judge.stream(
        {
          system: `${instructions}\n\nReply with exactly PASS, or FAIL: followed by the reason.`,
          items: [{ type: "message", role: "user", content: [{ type: "text", text }] }],
          tools: [],
        },
        { signal },
      )) {
        if (ev.type === "text_delta") answer += ev.delta;
        if (ev.type === "error") throw new Error(ev.error.message);
      }
      const trimmed = answer.trim();
      if (trimmed.startsWith("PASS")) return undefined;
      return trimmed.replace(/^FAIL:?\s*/, "") || "the judge gave no reason";
    },
  };
}

/** Checks on tool calls: `input` sees the call's JSON input, `output` its text output. */
export interface ToolGuardrailOptions {
  readonly input?: readonly Guardrail[];
  readonly output?: readonly Guardrail[];
  /** Tool names the checks apply to. Default: every tool. */
  readonly tools?: readonly string[];
}

/** A gate that refuses a call whose input trips a check (the model reads the reason). */
export function toolInputGate(options: ToolGuardrailOptions): ToolGate {
  return async (call) => {
    if (options.tools && !options.tools.includes(call.tool.name)) return { allow: true };
    const reason = await runChecks(options.input ?? [], {
      text: JSON.stringify(call.input),
      threadId: undefined,
      signal: call.signal,
    });
    return reason === undefined ? { allow: true } : { allow: false, message: `Call refused: ${reason}.` };
  };
}

/** Wraps tools so that an output tripping a check is withheld from the model. */
export function guardToolOutputs(tools: readonly Tool[], options: ToolGuardrailOptions): Tool[] {
  const checks = options.output ?? [];
  if (checks.length === 0) return [...tools];
  return tools.map((tool) => {
    if (options.tools && !options.tools.includes(tool.name)) return tool;
    const wrapped: Tool = {
      ...tool,
      execute: async (input, ctx) => {
        const result = await tool.execute(input, ctx);
        const text = outputText(result);
        const reason = await runChecks(checks, { text, threadId: ctx.threadId, signal: ctx.signal });
        return reason === undefined ? result : { output: `Output withheld: ${reason}.`, isError: true };
      },
    };
    return wrapped;
  });
}

function outputText(result: unknown): string {
  if (typeof result === "string") return result;
  if (result !== null && typeof result === "object" && "output" in result) {
    const output = (result as { output: unknown }).output;
    return typeof output === "string" ? output : JSON.stringify(output);
  }
  return JSON.stringify(result) ?? "";
}
