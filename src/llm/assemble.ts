import type {
  ErrorInfo,
  FunctionCallItem,
  MessageItem,
  ProviderData,
  ReasoningItem,
  ResponseItem,
  Usage,
} from "../protocol/index.ts";
import type { FinishReason, ModelEvent } from "./types.ts";

const NONE: FunctionCallItem[] = [];

interface OpenCall {
  callId: string;
  name: string;
  args: string;
}

/** What one model call produced, in the order the model produced it. */
export interface AssembledResponse {
  readonly items: ResponseItem[];
  /** Concatenated assistant text of this call. */
  readonly text: string;
  readonly calls: FunctionCallItem[];
  /**
   * Calls the model started but never ended before the stream finished (their arguments so
   * far). They are in `items` too, after everything else, so the history keeps them; they
   * must not run: the caller answers each one with an error output the model can read.
   */
  readonly unfinished: readonly FunctionCallItem[];
  readonly usage: Usage | undefined;
  /** Cost of the call in USD, when the client reported one. */
  readonly costUsd: number | undefined;
  readonly finish: FinishReason | undefined;
  readonly error: ErrorInfo | undefined;
}

/**
 * Folds a ModelEvent stream into ResponseItems. Text and reasoning runs become one item
 * each, closed by their `*_end` event or when another kind of output starts; tool calls
 * become `function_call` items when their `tool_call_end` arrives, and `push` returns them
 * then so the caller can start safe tools while the stream is still running.
 */
export class ResponseAssembler {
  private readonly items: ResponseItem[] = [];
  private readonly calls: FunctionCallItem[] = [];
  /** Calls started but not ended; created on the first call (most responses make none). */
  private open: Map<string, OpenCall> | undefined;
  private text = "";
  private allText = "";
  private reasoning = "";
  private reasoningOpen = false;
  private textOpen = false;
  private usage: Usage | undefined;
  private costUsd: number | undefined;
  private finishReason: FinishReason | undefined;
  private failure: ErrorInfo | undefined;

  /** Applies one event; returns the function call it completed, if any. */
  push(ev: ModelEvent): FunctionCallItem | undefined {
    switch (ev.type) {
      case "text_delta":
        if (this.reasoningOpen) this.closeReasoning(undefined);
        this.textOpen = true;
        this.text += ev.delta;
        this.allText += ev.delta;
        return undefined;
      case "text_end":
        this.closeText(ev.providerData);
        return undefined;
      case "reasoning_delta":
        if (this.textOpen) this.closeText(undefined);
        this.reasoningOpen = true;
        this.reasoning += ev.delta;
        return undefined;
      case "reasoning_end":
        this.reasoningOpen = true;
        this.closeReasoning(ev.providerData);
        return undefined;
      case "tool_call_start":
        this.closeText(undefined);
        this.closeReasoning(undefined);
        this.open ??= new Map();
        this.open.set(ev.callId, { callId: ev.callId, name: ev.name, args: "" });
        return undefined;
      case "tool_call_delta": {
        const call = this.open?.get(ev.callId);
        if (call) call.args += ev.delta;
        return undefined;
      }
      case "tool_call_end":
        return this.closeCall(ev.callId, ev.arguments, ev.providerData);
      case "usage":
        this.usage = ev.usage;
        this.costUsd = ev.costUsd;
        return undefined;
      case "finish":
        this.finishReason = ev.reason;
        this.closeText(undefined);
        this.closeReasoning(undefined);
        return undefined;
      case "error":
        this.failure = ev.error;
        return undefined;
      case "retry":
      case "notice":
        return undefined;
    }
  }

  /** Calls whose `tool_call_start` arrived without a matching end (a cut stream). */
  get pendingCalls(): number {
    return this.open?.size ?? 0;
  }

  /**
   * Closes open text and reasoning and returns everything assembled. After a `finish`,
   * calls still open are closed as `unfinished` (never dropped).
   */
  result(): AssembledResponse {
    this.closeText(undefined);
    this.closeReasoning(undefined);
    let unfinished: FunctionCallItem[] = NONE;
    if (this.finishReason !== undefined && this.open?.size) {
      unfinished = [];
      for (const call of this.open.values()) {
        const item: FunctionCallItem = {
          type: "function_call",
          callId: call.callId,
          name: call.name,
          arguments: call.args,
        };
        this.items.push(item);
        unfinished.push(item);
      }
      this.open.clear();
    }
    return {
      items: this.items,
      text: this.allText,
      calls: this.calls,
      unfinished,
      usage: this.usage,
      costUsd: this.costUsd,
      finish: this.finishReason,
      error: this.failure,
    };
  }

  private closeText(providerData: ProviderData | undefined): void {
    if (!this.textOpen && providerData === undefined) return;
    if (this.text === "" && providerData === undefined) {
      this.textOpen = false;
      return;
    }
    const item: MessageItem = {
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: this.text }],
    };
    if (providerData !== undefined) item.providerData = providerData;
    this.items.push(item);
    this.text = "";
    this.textOpen = false;
  }

  private closeReasoning(providerData: ProviderData | undefined): void {
    if (!this.reasoningOpen) return;
    const item: ReasoningItem = { type: "reasoning", text: this.reasoning };
    if (providerData !== undefined) item.providerData = providerData;
    this.items.push(item);
    this.reasoning = "";
    this.reasoningOpen = false;
  }

  private closeCall(
    callId: string,
    args: string | undefined,
    providerData: ProviderData | undefined,
  ): FunctionCallItem | undefined {
    const call = this.open?.get(callId);
    if (!call) return undefined;
    this.open?.delete(callId);
    const item: FunctionCallItem = {
      type: "function_call",
      callId,
      name: call.name,
      arguments: args ?? call.args,
    };
    if (providerData !== undefined) item.providerData = providerData;
    this.items.push(item);
    this.calls.push(item);
    return item;
  }
}
