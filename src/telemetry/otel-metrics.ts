/** The metric instruments of the OpenTelemetry layer, with attribute sets built once and reused. */
import type { Attributes, Counter, Histogram, Meter } from "@opentelemetry/api";
import type { EventMsgOf, Usage } from "../protocol/index.ts";
import { ATTR, BUCKETS, METRIC, OPERATION, PROVIDER_NAMES } from "./semconv.ts";

const NO_ATTRS: Attributes = {};

/** `gen_ai.provider.name` for a Taifeng provider prefix (unknown prefixes pass through). */
export function providerName(prefix: string): string {
  return PROVIDER_NAMES[prefix] ?? prefix;
}

interface ModelAttrs {
  readonly input: Attributes;
  readonly output: Attributes;
  readonly call: Attributes;
}

/**
 * `gen_ai.client.token.usage` and `gen_ai.client.operation.duration` (the conventions'
 * histograms, with their attributes and bucket advice) plus Taifeng's counters: turns by
 * outcome, tool calls by tool and status, compactions, cached-token share and cost in USD.
 */
export class OtelMetrics {
  private readonly tokenUsage: Histogram;
  private readonly duration: Histogram;
  private readonly turns: Counter;
  private readonly toolCalls: Counter;
  private readonly compactions: Counter;
  private readonly cachedShare: Histogram;
  private readonly cost: Counter;
  // Attribute objects are reused: the SDK keys its aggregation on them per record.
  private readonly byModel = new Map<string, ModelAttrs>();
  private readonly byTool = new Map<string, Attributes>();
  private readonly byOutcome = new Map<string, Attributes>();

  constructor(meter: Meter) {
    this.tokenUsage = meter.createHistogram(METRIC.tokenUsage, {
      unit: "{token}",
      description: "Number of input and output tokens used",
      advice: { explicitBucketBoundaries: [...BUCKETS.tokenUsage] },
    });
    this.duration = meter.createHistogram(METRIC.operationDuration, {
      unit: "s",
      description: "GenAI operation duration",
      advice: { explicitBucketBoundaries: [...BUCKETS.operationDuration] },
    });
    this.turns = meter.createCounter(METRIC.turns, { unit: "{turn}", description: "Turns by outcome" });
    this.toolCalls = meter.createCounter(METRIC.toolCalls, {
      unit: "{call}",
      description: "Tool calls by tool and status",
    });
    this.compactions = meter.createCounter(METRIC.compactions, {
      unit: "{compaction}",
      description: "Compactions by strategy and trigger",
    });
    this.cachedShare = meter.createHistogram(METRIC.cachedTokenShare, {
      unit: "1",
      description: "Share of a turn's input tokens read from the prompt cache",
      advice: { explicitBucketBoundaries: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1] },
    });
    this.cost = meter.createCounter(METRIC.costUsd, { unit: "USD", description: "Model spend in USD" });
  }

  private model(provider: string, model: string): ModelAttrs {
    const key = `${provider}:${model}`;
    let attrs = this.byModel.get(key);
    if (!attrs) {
      const call = {
        [ATTR.operationName]: OPERATION.chat,
        [ATTR.providerName]: providerName(provider),
        [ATTR.requestModel]: model,
      };
      attrs = {
        call,
        input: { ...call, [ATTR.tokenType]: "input" },
        output: { ...call, [ATTR.tokenType]: "output" },
      };
      this.byModel.set(key, attrs);
    }
    return attrs;
  }

  /** One model call: duration, token usage, cached share and cost. */
  modelCall(
    provider: string,
    model: string,
    msg: EventMsgOf<"model_call_completed">,
    errorType: string | undefined,
  ): void {
    const attrs = this.model(provider, model);
    this.duration.record(
      msg.durationMs / 1000,
      errorType === undefined ? attrs.call : { ...attrs.call, [ATTR.errorType]: errorType },
    );
    const u = msg.usage;
    if (u.inputTokens > 0) this.tokenUsage.record(u.inputTokens, attrs.input);
    if (u.outputTokens > 0) this.tokenUsage.record(u.outputTokens, attrs.output);
    if (msg.costUsd !== undefined && msg.costUsd > 0) this.cost.add(msg.costUsd, attrs.call);
  }

  /** A turn ended with `outcome` (completed, failed, aborted); its cached-token share is recorded once per turn. */
  turn(outcome: string, usage: Usage): void {
    let attrs = this.byOutcome.get(outcome);
    if (!attrs) {
      attrs = { [ATTR.turnOutcome]: outcome };
      this.byOutcome.set(outcome, attrs);
    }
    this.turns.add(1, attrs);
    if (usage.inputTokens > 0) this.cachedShare.record(usage.cachedInputTokens / usage.inputTokens, NO_ATTRS);
  }

  /** A tool call ended with `status`. */
  toolCall(name: string, status: string): void {
    const key = `${name}\u0000${status}`;
    let attrs = this.byTool.get(key);
    if (!attrs) {
      attrs = { [ATTR.toolName]: name, [ATTR.toolStatus]: status };
      this.byTool.set(key, attrs);
    }
    this.toolCalls.add(1, attrs);
  }

  /** A compaction ran. */
  compaction(strategy: string, trigger: string): void {
    this.compactions.add(1, { [ATTR.compactionStrategy]: strategy, [ATTR.compactionTrigger]: trigger });
  }
}
