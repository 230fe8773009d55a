/**
 * `GET /metrics`: the telemetry layer's instruments (turns by outcome, tool calls by status,
 * token usage and operation-duration histograms, cached share, cost, compactions) recorded
 * into a MeterProvider of the server's own with a pull reader, plus the server's gauges,
 * rendered by `@opentelemetry/exporter-prometheus`'s serializer. Both OpenTelemetry packages
 * are optional peers: without them the endpoint serves the hub's counters (metrics.ts).
 */
import type { EventListener } from "../loop/event-hub.ts";
import { createOtel } from "../telemetry/otel.ts";
import type { ThreadHub } from "./hub.ts";

/** The server's Prometheus source. */
export interface PrometheusMetrics {
  /** Attach to the pool: feeds the telemetry instruments. */
  readonly listener: EventListener;
  /** Binds the server gauges (engines, viewers, evictions, events) to the hub. */
  bind(hub: ThreadHub): void;
  /** The current state in the Prometheus text format (0.0.4). */
  render(): Promise<string>;
  shutdown(): Promise<void>;
}

/**
 * Creates the metrics pipeline, or returns undefined when `@opentelemetry/sdk-metrics` or
 * `@opentelemetry/exporter-prometheus` is not installed. `skip(threadId)` names threads
 * whose events are not counted (an evicted engine's closing events: its turn is suspended,
 * not ended); their `shutdown_complete` still passes so the layer forgets the thread.
 */
export async function createPrometheusMetrics(
  skip: (threadId: string) => boolean,
): Promise<PrometheusMetrics | undefined> {
  let sdk: typeof import("@opentelemetry/sdk-metrics");
  let prom: typeof import("@opentelemetry/exporter-prometheus");
  try {
    sdk = await import("@opentelemetry/sdk-metrics");
    prom = await import("@opentelemetry/exporter-prometheus");
  } catch {
    return undefined;
  }
  // A pull reader: nothing is exported until a scrape collects.
  const reader = new prom.PrometheusExporter({ preventServerStart: true });
  const provider = new sdk.MeterProvider({ readers: [reader] });
  // No target_info: the default resource names the node binary's path, nothing a scraper needs.
  const serializer = new prom.PrometheusSerializer(undefined, undefined, undefined, true);
  const otel = createOtel({ meterProvider: provider });
  const inner = otel.listener;
  const listener: EventListener = (event, ctx) => {
    if (skip(event.threadId) && event.msg.type !== "shutdown_complete") return;
    inner(event, ctx);
  };
  return {
    listener,
    bind(hub) {
      const meter = provider.getMeter("taifeng.server");
      meter
        .createObservableGauge("taifeng.server.engines", {
          unit: "{engine}",
          description: "Engines held in memory",
        })
        .addCallback((r) => r.observe(hub.pool.size));
      meter
        .createObservableGauge("taifeng.server.sse_viewers", {
          unit: "{viewer}",
          description: "Connected event-stream clients",
        })
        .addCallback((r) => r.observe(hub.viewerCount));
      meter
        .createObservableCounter("taifeng.server.evictions", {
          unit: "{engine}",
          description: "Engines evicted from memory while they waited on a person",
        })
        .addCallback((r) => r.observe(hub.evictions));
      meter
        .createObservableCounter("taifeng.server.events", {
          unit: "{event}",
          description: "Events emitted by the engines of this server",
        })
        .addCallback((r) => r.observe(hub.counters.events));
    },
    async render() {
      const { resourceMetrics } = await reader.collect();
      return serializer.serialize(resourceMetrics);
    },
    async shutdown() {
      otel.endAll();
      await provider.shutdown();
    },
  };
}
