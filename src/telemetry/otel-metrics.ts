/**
 * The metric instruments of the OpenTelemetry layer, with attribute sets built once and reused.
 * Counters are asynchronous (observable) over plain in-process sums: an event costs an
 * addition, and the SDK reads the sums once per collection (see ADR 2200).
 */
import type { Attributes, Histogram, Meter, ObservableResult } from "@opentelemetry/api";
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
  /** The model's cost sum (USD) for `taifeng.cost.usd`. */
  cost: Sum;
}

/** A running total under one attribute set, read by an observable counter's callback. */
interface Sum {
  readonly attributes: Attributes;
  value: number;
}

/** Sums keyed by a string, observed together. */
class Sums {
  private readonly byKey = new Map<string, Sum>();
  /** The sum for `key` (created at zero with `attributes()` on first use). */
  get(key: string, attributes: () => Attributes): Sum {
    let sum = this.byKey.get(key);
    if (!sum) {
      sum = { attributes: attributes(), value: 0 };
      this.byKey.set(key, sum);
    }
    return sum;
  }
  /** Reports every sum that moved off zero. */
  observe(result: ObservableResult): void {
    for (const sum of this.byKey.values()) if (sum.value > 0) result.observe(sum.value, sum.attributes);
  }
}

/**
 * `gen_ai.client.token.usage` and `gen_ai.client.operation.duration` (the conventions'
 * histograms, with their attributes and bucket advice) plus Taifeng's counters: turns by
 * outcome, tool calls by tool and status, compactions, cached-token share and cost in USD.
 */
export class OtelMetrics {
  private readonly tokenUsage: Histogram;
  private readonly duration: Histogram;
  private readonly cachedShare: Histogram;
  // Attribute objects are reused: the SDK hashes them per histogram record.
  private readonly byModel = new Map<string, ModelAttrs>();
  private readonly turns = new Sums();
  private readonly toolCalls = new Sums();
  private readonly compactions = new Sums();
  private readonly costs = new Sums();

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
    const counter = (name: string, unit: string, description: string, sums: Sums) =>
      meter.createObservableCounter(name, { unit, description }).addCallback((r) => sums.observe(r));
    counter(METRIC.turns, "{turn}", "Turns by outcome", this.turns);
    counter(METRIC.toolCalls, "{call}", "Tool calls by tool and status", this.toolCalls);
    counter(METRIC.compactions, "{compaction}", "Compactions by strategy and trigger", this.compactions);
    counter(METRIC.costUsd, "USD", "Model spend in USD", this.costs);
    this.cachedShare = meter.createHistogram(METRIC.cachedTokenShare, {
      unit: "1",
      description: "Share of a turn's input tokens read from the prompt cache",
      advice: { explicitBucketBoundaries: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1] },
    });
  }

  private model(modelId: string): ModelAttrs {
    let attrs = this.byModel.get(modelId);
    if (!attrs) {
      const i = modelId.indexOf(":");
      const provider = i < 0 ? modelId : modelId.slice(0, i);
      const model = i < 0 ? modelId : modelId.slice(i + 1);
      const call = {
        [ATTR.operationName]: OPERATION.chat,
        [ATTR.providerName]: providerName(provider),
        [ATTR.requestModel]: model,
      };
      attrs = {
        call,
        input: { ...call, [ATTR.tokenType]: "input" },
        output: { ...call, [ATTR.tokenType]: "output" },
        cost: this.costs.get(modelId, () => call),
      };
      this.byModel.set(modelId, attrs);
    }
    return attrs;
  }

  /** One model call (`msg.model` is `provider:model`): duration, token usage and cost. */
  modelCall(msg: EventMsgOf<"model_call_completed">, errorType: string | undefined): void {
    const attrs = this.model(msg.model);
    this.duration.record(
      msg.durationMs / 1000,
      errorType === undefined ? attrs.call : { ...attrs.call, [ATTR.errorType]: errorType },
    );
    const u = msg.usage;
    if (u.inputTokens > 0) this.tokenUsage.record(u.inputTokens, attrs.input);
    if (u.outputTokens > 0) this.tokenUsage.record(u.outputTokens, attrs.output);
    if (msg.costUsd !== undefined && msg.costUsd > 0) attrs.cost.value += msg.costUsd;
  }

  /** A turn ended with `outcome` (completed, failed, aborted); its cached-token share is recorded once per turn. */
  turn(outcome: string, usage: Usage): void {
    this.turns.get(outcome, () => ({ [ATTR.turnOutcome]: outcome })).value++;
    if (usage.inputTokens > 0) this.cachedShare.record(usage.cachedInputTokens / usage.inputTokens, NO_ATTRS);
  }

  /** A tool call ended with `status`. */
  toolCall(name: string, status: string): void {
    this.toolCalls.get(`${name}\u0000${status}`, () => ({ [ATTR.toolName]: name, [ATTR.toolStatus]: status }))
      .value++;
  }

  /** A compaction ran. */
  compaction(strategy: string, trigger: string): void {
    this.compactions.get(`${strategy}\u0000${trigger}`, () => ({
      [ATTR.compactionStrategy]: strategy,
      [ATTR.compactionTrigger]: trigger,
    })).value++;
  }
}
