/** The tool scheduler: one model response's calls, prepared in order, run under a read/write discipline. */
import { unwatchAbort, watchAbort } from "../abort-watch.ts";
import { describeError } from "../errors.ts";
import { isPromiseLike } from "../promise-like.ts";
import type {
  FunctionCallItem,
  FunctionCallOutputItem,
  ToolCallStatus,
  ToolOutput,
} from "../protocol/index.ts";
import type { GateDecision, ToolBatchEnv, ToolGate } from "./batch-env.ts";
import type { Tool, ToolContext } from "./define.ts";
import { normalizeResult } from "./result.ts";

export type { GateDecision, ToolBatchEnv, ToolGate } from "./batch-env.ts";

type Phase = "preparing" | "waiting" | "running" | "done";

interface Entry {
  readonly index: number;
  readonly call: FunctionCallItem;
  phase: Phase;
  tool: Tool | undefined;
  input: unknown;
  shared: boolean;
  /** Eligible to run before the stream closes. */
  early: boolean;
  /** When the call was received (tool_call_started). */
  receivedAt: number;
  /** When execution began (0 until then). */
  startedAt: number;
  raw: unknown;
  rawOk: boolean;
  output: FunctionCallOutputItem | undefined;
  controller: AbortController | undefined;
}

/**
 * Schedules the tool calls of one model response. Calls are prepared (parsed, validated,
 * gated) one at a time in the order the model emitted them; execution follows a FIFO
 * read/write discipline: concurrency-safe calls share the lock (up to `maxParallel`),
 * the others run alone, and no call overtakes an earlier exclusive one. Outputs are
 * returned in emission order. Every call ends with exactly one `tool_call_completed`.
 */
export class ToolBatch {
  private readonly entries: Entry[] = [];
  private streamClosed = false;
  private cancelled = false;
  private running = 0;
  private exclusiveRunning = false;
  /** Calls are prepared one at a time when there is a gate; created on first use. */
  private prepChain: Promise<void> | undefined;
  private onOutput: ((item: FunctionCallOutputItem) => void) | undefined;
  private flushed = 0;
  /** Calls not yet settled, and who waits for the last one. */
  private unsettled = 0;
  private whenSettled: (() => void) | undefined;
  // Registered through watchAbort (one real listener per turn signal, not one per batch).
  private readonly onAbort = (): void => this.abortAll();
  private readonly env: ToolBatchEnv;

  private listening = false;

  constructor(env: ToolBatchEnv) {
    this.env = env;
  }

  /** Number of calls added so far. */
  get size(): number {
    return this.entries.length;
  }

  /** Adds a completed call from the model stream (in emission order). */
  add(call: FunctionCallItem): void {
    if (!this.listening) {
      // Registered lazily: most model calls produce no tool calls.
      this.listening = true;
      watchAbort(this.env.signal, this.onAbort);
    }
    let raw: unknown;
    let rawOk = true;
    try {
      raw = call.arguments.trim() === "" ? {} : JSON.parse(call.arguments);
    } catch {
      rawOk = false;
      raw = call.arguments;
    }
    const entry: Entry = {
      index: this.entries.length,
      call,
      phase: "preparing",
      tool: this.env.tools.get(call.name),
      input: undefined,
      shared: false,
      early: false,
      receivedAt: performance.now(),
      startedAt: 0,
      raw,
      rawOk,
      output: undefined,
      controller: undefined,
    };
    this.entries.push(entry);
    this.env.emit({ type: "tool_call_started", callId: call.callId, name: call.name, input: raw });
    this.unsettled++;
    // Without a gate, preparation is synchronous; with one, calls are prepared one at a time.
    if (this.env.gate) this.prepChain = (this.prepChain ?? Promise.resolve()).then(() => this.prepare(entry));
    else this.prepare(entry);
  }

  /**
   * Declares the model stream finished successfully, lets deferred calls run, and answers
   * with one output per call in emission order once all have settled: at once, without a
   * promise, when they already have. `onOutput` receives each output as soon as it and every
   * earlier one are done (emission order), so the history can record finished calls while
   * later ones still wait.
   */
  close(
    onOutput?: (item: FunctionCallOutputItem) => void,
  ): FunctionCallOutputItem[] | Promise<FunctionCallOutputItem[]> {
    this.streamClosed = true;
    this.onOutput = onOutput;
    this.flushOutputs();
    this.pump();
    // Synchronous tools have all settled by now: answer without a promise.
    const settled = this.allSettled();
    return settled ? settled.then(() => this.outputs()) : this.outputs();
  }

  /** Stops watching the turn's signal; every call's output in emission order. */
  private outputs(): FunctionCallOutputItem[] {
    this.detach();
    const out: FunctionCallOutputItem[] = [];
    for (const e of this.entries) out.push(e.output as FunctionCallOutputItem);
    return out;
  }

  private detach(): void {
    if (this.listening) unwatchAbort(this.env.signal, this.onAbort);
    this.listening = false;
  }

  /** Resolves once every call has settled (at once when they all have). */
  private allSettled(): Promise<void> | undefined {
    if (this.unsettled === 0) return undefined;
    return new Promise<void>((resolve) => {
      this.whenSettled = resolve;
    });
  }

  /**
   * Settles every call that has not finished with a synthetic output (the stream failed or
   * the turn was aborted) and resolves with all outputs in emission order.
   */
  async cancel(reason: string): Promise<FunctionCallOutputItem[]> {
    this.cancelled = true;
    for (const entry of this.entries) if (entry.phase !== "done") this.cancelEntry(entry, reason);
    await this.allSettled();
    return this.outputs();
  }

  private abortAll(): void {
    this.cancelled = true;
    for (const entry of this.entries)
      if (entry.phase !== "done") this.cancelEntry(entry, "the turn was interrupted");
  }

  private cancelEntry(entry: Entry, reason: string): void {
    if (entry.phase === "running") {
      entry.controller?.abort();
      this.finish(
        entry,
        `Tool call aborted after ${formatDuration(performance.now() - entry.startedAt)}: ${reason}.`,
        true,
        "aborted",
      );
    } else {
      this.finish(entry, `Tool call not run: ${reason}.`, true, "aborted");
    }
  }

  /** Parses and validates the input; continues in `gated` when there is a gate. */
  private prepare(entry: Entry): Promise<void> | undefined {
    if (entry.phase === "done") return undefined;
    const { call, raw, rawOk } = entry;
    const tool = entry.tool;
    if (!tool) {
      const names = [...this.env.tools].map((t) => t.name).join(", ");
      return void this.finish(
        entry,
        `Unknown tool "${call.name}". Available tools: ${names || "none"}.`,
        true,
        "unknown_tool",
      );
    }
    if (!rawOk) {
      return void this.finish(
        entry,
        `Invalid input for tool ${tool.name}: the arguments are not valid JSON. Send one JSON object matching the tool's schema.`,
        true,
        "invalid_input",
      );
    }
    const parsed = tool.parse(raw);
    if (!parsed.ok) return void this.finish(entry, parsed.message, true, "invalid_input");
    if (this.env.gate) return this.gated(entry, tool, this.env.gate, parsed.value);
    this.ready(entry, tool, parsed.value);
    return undefined;
  }

  private async gated(entry: Entry, tool: Tool, gate: ToolGate, input: unknown): Promise<void> {
    let decision: GateDecision;
    try {
      decision = await gate({ tool, callId: entry.call.callId, input, signal: this.env.signal });
    } catch (err) {
      decision = { allow: false, message: `Permission check failed: ${describeError(err)}` };
    }
    if ((entry.phase as Phase) === "done") return;
    if (!decision.allow) return this.finish(entry, decision.message, true, "denied");
    let final = input;
    if (decision.input !== undefined) {
      const edited = tool.parse(decision.input);
      if (!edited.ok) return this.finish(entry, edited.message, true, "invalid_input");
      final = edited.value;
    }
    this.ready(entry, tool, final);
  }

  private ready(entry: Entry, tool: Tool, input: unknown): void {
    entry.input = input;
    entry.shared = tool.concurrencySafe;
    entry.early = this.env.startDuringStream && tool.readOnly && tool.concurrencySafe;
    entry.phase = "waiting";
    this.pump();
  }

  /** Starts every waiting call the FIFO read/write discipline allows. */
  private pump(): void {
    if (this.cancelled) return;
    for (const entry of this.entries) {
      if (entry.phase === "done" || entry.phase === "running") continue;
      if (entry.phase === "preparing") return;
      if (!this.streamClosed && !entry.early) return;
      if (entry.shared) {
        if (this.exclusiveRunning || this.running >= this.env.maxParallel) return;
        this.start(entry);
      } else {
        if (this.running > 0) return;
        this.exclusiveRunning = true;
        this.start(entry);
        return;
      }
    }
  }

  private flushOutputs(): void {
    const onOutput = this.onOutput;
    if (!onOutput) return;
    for (
      let entry = this.entries[this.flushed];
      entry?.phase === "done";
      entry = this.entries[this.flushed]
    ) {
      this.flushed++;
      onOutput(entry.output as FunctionCallOutputItem);
    }
  }

  private start(entry: Entry): void {
    const tool = entry.tool as Tool;
    entry.phase = "running";
    entry.startedAt = performance.now();
    this.running++;
    const controller = new AbortController();
    entry.controller = controller;
    const callId = entry.call.callId;
    const ctx: ToolContext = {
      signal: controller.signal,
      threadId: this.env.threadId,
      turnId: this.env.turnId,
      callId,
      cwd: this.env.cwd,
      progress: (data) => {
        if (entry.phase === "running")
          this.env.emit({ type: "tool_call_progress", callId, name: tool.name, data });
      },
      askUser: bindAskUser(this.env, callId, controller.signal),
      artifacts: this.env.artifacts,
    };
    let result: unknown;
    try {
      result = tool.execute(entry.input as never, ctx);
    } catch (err) {
      this.failed(entry, tool, err);
      return;
    }
    // A tool that answered synchronously is done: no timer, no promise.
    if (!isPromiseLike(result)) {
      this.succeeded(entry, result);
      return;
    }
    const timeoutMs = tool.timeoutMs ?? this.env.defaultTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        controller.abort(new Error("timeout"));
        this.finish(
          entry,
          `Tool ${tool.name} timed out after ${formatDuration(timeoutMs)}.`,
          true,
          "timeout",
        );
      }, timeoutMs);
    }
    result.then(
      (value) => {
        if (timer) clearTimeout(timer);
        this.succeeded(entry, value);
      },
      (err: unknown) => {
        if (timer) clearTimeout(timer);
        this.failed(entry, tool, err);
      },
    );
  }

  private succeeded(entry: Entry, value: unknown): void {
    let result: ReturnType<typeof normalizeResult>;
    try {
      result = normalizeResult(value);
    } catch (err) {
      this.failed(entry, entry.tool as Tool, err);
      return;
    }
    this.finish(entry, result.output, result.isError, result.isError ? "error" : "ok");
  }

  private failed(entry: Entry, tool: Tool, err: unknown): void {
    this.finish(entry, `Tool ${tool.name} failed: ${describeError(err)}`, true, "error");
  }

  private finish(entry: Entry, output: ToolOutput, isError: boolean, status: ToolCallStatus): void {
    if (entry.phase === "done") return;
    const wasRunning = entry.phase === "running";
    entry.phase = "done";
    const item: FunctionCallOutputItem = { type: "function_call_output", callId: entry.call.callId, output };
    if (isError) item.isError = true;
    entry.output = item;
    const durationMs = Math.round((performance.now() - entry.receivedAt) * 1000) / 1000;
    this.env.emit({
      type: "tool_call_completed",
      callId: entry.call.callId,
      name: entry.call.name,
      output,
      isError,
      status,
      durationMs,
    });
    this.unsettled--;
    if (this.unsettled === 0 && this.whenSettled) {
      const wake = this.whenSettled;
      this.whenSettled = undefined;
      wake();
    }
    this.flushOutputs();
    if (wasRunning) {
      this.running--;
      if (!entry.shared) this.exclusiveRunning = false;
      this.pump();
    }
  }
}

/** `850 ms`, `2.3 s`, `95 s`: how long something took, for messages the model reads. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** The shape `ToolContext.askUser` exposes, bound to one call. */
function bindAskUser(env: ToolBatchEnv, callId: string, signal: AbortSignal): ToolContext["askUser"] {
  const ask = env.askUser;
  if (!ask) return undefined;
  return (question, options) => ask({ callId, question, options, signal });
}
