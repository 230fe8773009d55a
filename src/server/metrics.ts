/**
 * `GET /metrics` without the OpenTelemetry peers installed: the server's own counters in the
 * Prometheus text format (prometheus.ts serves the telemetry instruments when they are).
 */
import type { ThreadHub } from "./hub.ts";

/** Renders the hub's counters and gauges. */
export function metricsText(hub: ThreadHub): string {
  const c = hub.counters;
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) out.push(`${name}${labels} ${value}`);
  };
  metric("taifeng_engines_live", "gauge", "Engines held in memory.", [["", hub.pool.size]]);
  metric("taifeng_sse_viewers", "gauge", "Connected event-stream clients.", [["", hub.viewerCount]]);
  metric("taifeng_events_total", "counter", "Events emitted by engines.", [["", c.events]]);
  metric(
    "taifeng_turns_total",
    "counter",
    "Turns ended, by outcome.",
    Object.entries(c.turns).map(([k, v]) => [`{outcome="${k}"}`, v]),
  );
  metric(
    "taifeng_tokens_total",
    "counter",
    "Model tokens, by kind.",
    Object.entries(c.tokens).map(([k, v]) => [`{kind="${k}"}`, v]),
  );
  metric("taifeng_cost_usd_total", "counter", "Model cost in USD (catalog prices).", [["", c.costUsd]]);
  const lat = hub.latencyByModel();
  // Label values escape backslash, double quote and line feed (the text format's rule).
  const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  metric(
    "taifeng_model_call_duration_ms",
    "gauge",
    "Recent model-call durations per model (p50 and p95 of the last 1000 calls).",
    Object.entries(lat).flatMap(([model, s]): [string, number][] => [
      [`{model="${label(model)}",quantile="0.5"}`, s.p50],
      [`{model="${label(model)}",quantile="0.95"}`, s.p95],
    ]),
  );
  return `${out.join("\n")}\n`;
}
