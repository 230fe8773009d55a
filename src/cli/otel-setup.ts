/**
 * OpenTelemetry for the CLI: the SDK, exporters and resource built from the standard `OTEL_*`
 * variables. The SDK packages are optional peers, loaded only when telemetry is on.
 */
import {
  createNoopMeter,
  type MeterProvider,
  ProxyTracerProvider,
  type TracerProvider,
} from "@opentelemetry/api";
import { defaultRedactor } from "../redact/redactor.ts";
import { createOtel, type OtelInstrumentation } from "../telemetry/otel.ts";
import { type CliIO, UsageError } from "./io.ts";

export { otelWanted } from "./otel-env.ts";

/** A running CLI telemetry setup: attach `otel` to the engine, `shutdown` before exiting. */
export interface CliTelemetry {
  readonly otel: OtelInstrumentation;
  /** Exports what is buffered and stops the providers (bounded: a dead collector cannot hold the CLI). */
  shutdown(): Promise<void>;
}

type Exporter = "otlp" | "console" | "none";

function exporterOf(name: string, value: string | undefined): Exporter {
  const v = (value ?? "otlp").trim().toLowerCase() || "otlp";
  if (v === "otlp" || v === "console" || v === "none") return v;
  throw new UsageError(`${name} must be otlp, console or none; got "${value}"`);
}

/** `OTEL_EXPORTER_OTLP_HEADERS`: `k=v,k2=v2`, values URL-decoded. */
function parseHeaders(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (value ?? "").split(",")) {
    const i = pair.indexOf("=");
    if (i <= 0) continue;
    out[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(pair.slice(i + 1).trim());
  }
  return out;
}

/** The URL a signal is sent to: its own variable as given, else the base endpoint plus `/v1/<signal>`. */
function signalUrl(env: CliIO["env"], signal: "traces" | "metrics"): string {
  const own = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`];
  if (own) return own;
  const base = (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4318").replace(/\/+$/, "");
  return `${base}/v1/${signal}`;
}

async function load<T>(name: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    throw new UsageError(
      `--otel needs the OpenTelemetry SDK package ${name} (npm install ${name}): ${(err as Error).message}`,
    );
  }
}

/**
 * Builds tracer and meter providers from the environment: `OTEL_SERVICE_NAME` (default
 * `taifeng`), `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`) or the per-signal
 * endpoints, `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default, or `http/json`),
 * `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_EXPORTER` and `OTEL_METRICS_EXPORTER` (`otlp`,
 * `console` or `none`). Message content is recorded only with `captureContent` and
 * `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`, always redacted.
 */
export async function setupCliTelemetry(io: CliIO, captureContent: boolean): Promise<CliTelemetry> {
  const env = io.env;
  const protocol = (env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf").trim();
  if (protocol !== "http/protobuf" && protocol !== "http/json")
    throw new UsageError(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json; got "${protocol}"`);
  const traces = exporterOf("OTEL_TRACES_EXPORTER", env.OTEL_TRACES_EXPORTER);
  const metricsKind = exporterOf("OTEL_METRICS_EXPORTER", env.OTEL_METRICS_EXPORTER);
  const headers = parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS);
  const { resourceFromAttributes } = await load(
    "@opentelemetry/resources",
    () => import("@opentelemetry/resources"),
  );
  const resource = resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || "taifeng" });
  const stops: (() => Promise<void>)[] = [];

  let tracerProvider: TracerProvider | undefined;
  if (traces !== "none") {
    const sdk = await load("@opentelemetry/sdk-trace", () => import("@opentelemetry/sdk-trace"));
    const exporter =
      traces === "console"
        ? new sdk.ConsoleSpanExporter()
        : protocol === "http/json"
          ? new (
              await load(
                "@opentelemetry/exporter-trace-otlp-http",
                () => import("@opentelemetry/exporter-trace-otlp-http"),
              )
            ).OTLPTraceExporter({ url: signalUrl(env, "traces"), headers })
          : new (
              await load(
                "@opentelemetry/exporter-trace-otlp-proto",
                () => import("@opentelemetry/exporter-trace-otlp-proto"),
              )
            ).OTLPTraceExporter({ url: signalUrl(env, "traces"), headers });
    const provider = new sdk.TracerProvider({
      resource,
      spanProcessors: [new sdk.BatchSpanProcessor({ exporter })],
    });
    tracerProvider = provider;
    stops.push(() => provider.shutdown());
  }

  let meterProvider: MeterProvider | undefined;
  if (metricsKind !== "none") {
    const sdk = await load("@opentelemetry/sdk-metrics", () => import("@opentelemetry/sdk-metrics"));
    const exporter =
      metricsKind === "console"
        ? new sdk.ConsoleMetricExporter()
        : protocol === "http/json"
          ? new (
              await load(
                "@opentelemetry/exporter-metrics-otlp-http",
                () => import("@opentelemetry/exporter-metrics-otlp-http"),
              )
            ).OTLPMetricExporter({ url: signalUrl(env, "metrics"), headers })
          : new (
              await load(
                "@opentelemetry/exporter-metrics-otlp-proto",
                () => import("@opentelemetry/exporter-metrics-otlp-proto"),
              )
            ).OTLPMetricExporter({ url: signalUrl(env, "metrics"), headers });
    const provider = new sdk.MeterProvider({
      resource,
      readers: [new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })],
    });
    meterProvider = provider;
    stops.push(() => provider.shutdown());
  }

  const otel = createOtel({
    // A provider that is off stays off: a no-op, not the process-global one.
    tracerProvider: tracerProvider ?? new ProxyTracerProvider(),
    meterProvider: meterProvider ?? { getMeter: () => createNoopMeter() },
    redactor: defaultRedactor(),
    captureContent,
    env,
  });
  return {
    otel,
    async shutdown() {
      otel.endAll();
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          io.stderr.write("taifeng: telemetry export did not finish within 10 s; some spans may be lost\n");
          resolve();
        }, 10_000);
        timer.unref();
      });
      await Promise.race([Promise.allSettled(stops.map((stop) => stop())), limit]);
      clearTimeout(timer);
    },
  };
}
