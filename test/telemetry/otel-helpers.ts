import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { Redactor } from "../../src/redact/types.ts";

/** A tracer and meter provider recording into memory (the SDK's own in-memory exporters). */
export function memoryOtel() {
  const spans = new InMemorySpanExporter();
  // Start order, for sibling order: span start times have only millisecond precision.
  const started: string[] = [];
  const order = {
    onStart: (span: { spanContext(): { spanId: string } }) => {
      started.push(span.spanContext().spanId);
    },
    onEnd: () => {},
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const tracerProvider = new TracerProvider({
    spanProcessors: [order, new SimpleSpanProcessor({ exporter: spans })],
  });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    async spans(): Promise<ReadableSpan[]> {
      await tracerProvider.forceFlush();
      const rank = new Map(started.map((id, i) => [id, i]));
      const rankOf = (s: ReadableSpan) => rank.get(s.spanContext().spanId) ?? Number.MAX_SAFE_INTEGER;
      return [...spans.getFinishedSpans()].sort((a, b) => rankOf(a) - rankOf(b));
    },
    async metrics(): Promise<MetricData[]> {
      await reader.forceFlush();
      return (
        metricExporter
          .getMetrics()
          .at(-1)
          ?.scopeMetrics.flatMap((s) => s.metrics) ?? []
      );
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The span tree as indented lines `name [status]`, children in the order of `spans` (start order). */
export function spanTree(spans: readonly ReadableSpan[]): string[] {
  const byParent = new Map<string | undefined, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const s of spans) {
    const parent = s.parentSpanContext?.spanId;
    const key = parent && ids.has(parent) ? parent : undefined;
    const list = byParent.get(key) ?? [];
    list.push(s);
    byParent.set(key, list);
  }
  const out: string[] = [];
  const walk = (key: string | undefined, depth: number) => {
    const list = byParent.get(key) ?? [];
    for (const s of list) {
      out.push(`${"  ".repeat(depth)}${s.name}${s.status.code === 2 ? " [error]" : ""}`);
      walk(s.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return out;
}

/** A redactor that masks the given literal values (a stand-in for the security layer's). */
export function literalRedactor(secrets: readonly string[]): Redactor {
  const redact = (text: string): string => {
    let out = text;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join("[REDACTED]");
    return out;
  };
  const redactValue = <T>(value: T): T => {
    if (typeof value === "string") {
      const r = redact(value);
      return (r === value ? value : r) as T;
    }
    if (Array.isArray(value)) {
      let changed = false;
      const arr = value.map((v) => {
        const r = redactValue(v);
        if (r !== v) changed = true;
        return r;
      });
      return (changed ? arr : value) as T;
    }
    if (value !== null && typeof value === "object") {
      let changed = false;
      const obj: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const r = redactValue(v);
        if (r !== v) changed = true;
        obj[k] = r;
      }
      return (changed ? obj : value) as T;
    }
    return value;
  };
  return { redact, redactValue };
}
