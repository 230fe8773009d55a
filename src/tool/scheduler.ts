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
import { callContext, formatDuration } from "./call-context.ts";
import type { Tool } from "./define.ts";
import { capOutput, isOutputManaged, outputTextChars } from "./output-limit.ts";
import { normalizeResult } from "./result.ts";
import { Stragglers } from "./stragglers.ts";

export type { GateDecision, ToolBatchEnv, ToolGate } from "./batch-env.ts";
export { formatDuration } from "./call-context.ts";

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
  /** Holds its side of the read/write lock (from start until execute settles, or is abandoned). */
  holding: boolean;
  /** Settles when `execute` does (set for asynchronous tools). */
  settled: Promise<unknown> | undefined;
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
  /** The engine's stragglers, or this batch's own when the engine gives none. */
  private readonly stragglers: Stragglers;

  private listening = false;
  /** When the first waiting call found a conflicting straggler (cleared once none blocks). */
  private blockedSince: number | undefined;
  /** A wake-up on straggler change is scheduled. */
  private waking = false;

  constructor(env: ToolBatchEnv) {
    this.env = env;
    this.stragglers = env.stragglers ?? new Stragglers();
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
      holding: false,
      settled: undefined,
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
      this.straggle(entry);
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
        if (this.straggling(entry)) return;
        if (entry.phase !== "waiting") continue;
        this.start(entry);
      } else {
        if (this.running > 0) return;
        if (this.straggling(entry)) return;
        if (entry.phase !== "waiting") continue;
        this.exclusiveRunning = true;
        this.start(entry);
        return;
      }
    }
  }

  /**
   * True when a straggler (a call answered while its execute still runs, here or in an
   * earlier batch of the engine) conflicts with `entry` and may still stop: the batch waits
   * for it. Past the stragglers' `waitMs` the entry is refused instead (fail closed), and
   * false is returned so that the pump moves on.
   */
  private straggling(entry: Entry): boolean {
    const blocker = this.stragglers.blocking(!entry.shared);
    if (!blocker) {
      this.blockedSince = undefined;
      return false;
    }
    const now = performance.now();
    this.blockedSince ??= now;
    const left = this.stragglers.waitMs - (now - this.blockedSince);
    if (left > 0) {
      if (!this.waking) {
        this.waking = true;
        this.stragglers.change(left, this.env.signal).then(() => {
          this.waking = false;
          this.pump();
        });
      }
      return true;
    }
    this.finish(entry, this.stragglers.refusal(blocker), true, "error");
    return false;
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
    entry.holding = true;
    this.running++;
    const controller = new AbortController();
    entry.controller = controller;
    const ctx = callContext(
      this.env,
      entry.call.callId,
      tool.name,
      controller.signal,
      () => entry.phase === "running",
    );
    let result: unknown;
    try {
      result = tool.execute(entry.input as never, ctx);
    } catch (err) {
      this.failed(entry, tool, err);
      this.release(entry);
      return;
    }
    // A tool that answered synchronously is done: no timer, no promise.
    if (!isPromiseLike(result)) {
      this.succeeded(entry, result);
      this.release(entry);
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
        this.straggle(entry);
      }, timeoutMs);
    }
    // The call keeps its side of the lock until execute settles, even once it was answered.
    entry.settled = Promise.resolve(result).then(
      (value) => {
        if (timer) clearTimeout(timer);
        this.succeeded(entry, value);
        this.release(entry);
      },
      (err: unknown) => {
        if (timer) clearTimeout(timer);
        this.failed(entry, tool, err);
        this.release(entry);
      },
    );
  }

  /**
   * A call answered (timeout, abort) while its execute still runs becomes a straggler: its
   * lock moves to the engine's stragglers, which hold later calls that would conflict with
   * it (in this batch and the engine's next ones) until it settles.
   */
  private straggle(entry: Entry): void {
    const settled = entry.settled;
    if (!entry.holding || !settled) return;
    this.stragglers.add(
      { tool: entry.call.name, callId: entry.call.callId, exclusive: !entry.shared },
      settled,
    );
    this.release(entry);
  }

  /** Gives the call's side of the lock back and starts what may run now. */
  private release(entry: Entry): void {
    if (!entry.holding) return;
    entry.holding = false;
    this.running--;
    if (!entry.shared) this.exclusiveRunning = false;
    this.pump();
  }

  private succeeded(entry: Entry, value: unknown): void {
    if (entry.phase === "done") return;
    let result: ReturnType<typeof normalizeResult>;
    try {
      result = normalizeResult(value);
    } catch (err) {
      this.failed(entry, entry.tool as Tool, err);
      return;
    }
    this.finishCapped(entry, result.output, result.isError, result.isError ? "error" : "ok");
  }

  private failed(entry: Entry, tool: Tool, err: unknown): void {
    if (entry.phase === "done") return;
    // Capped whatever the tool: managing its output size says nothing about its errors.
    this.finishCapped(entry, `Tool ${tool.name} failed: ${describeError(err)}`, true, "error", true);
  }

  /**
   * `finish`, with the engine's output cap applied to tools that do not manage their output
   * size themselves: whatever the shape, a long output is cut and kept as an artifact.
   */
  private finishCapped(
    entry: Entry,
    output: ToolOutput,
    isError: boolean,
    status: ToolCallStatus,
    always = false,
  ): void {
    const max = this.env.maxOutputChars;
    const tool = entry.tool;
    if (max === undefined || outputTextChars(output) <= max || (!always && tool && isOutputManaged(tool))) {
      this.finish(entry, output, isError, status);
      return;
    }
    capOutput(output, {
      maxChars: max,
      store: this.env.artifacts,
      tool: entry.call.name,
      threadId: this.env.threadId,
      callId: entry.call.callId,
    }).then((cut) => this.finish(entry, cut ?? output, isError, status));
  }

  private finish(entry: Entry, output: ToolOutput, isError: boolean, status: ToolCallStatus): void {
    if (entry.phase === "done") return;
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
  }
}
