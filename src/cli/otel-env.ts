import type { CliIO } from "./io.ts";

/**
 * True when the environment asks for telemetry without `--otel` (an OTLP endpoint or an
 * exporter is set, and `OTEL_SDK_DISABLED` is not `true`). Kept apart from otel-setup.ts so
 * that a run without telemetry never loads the OpenTelemetry modules.
 */
export function otelWanted(env: CliIO["env"]): boolean {
  if (env.OTEL_SDK_DISABLED === "true") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_TRACES_EXPORTER || env.OTEL_METRICS_EXPORTER);
}
