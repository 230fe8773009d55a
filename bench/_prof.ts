import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, InMemorySpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import { AgentEngine } from "../src/loop/engine.ts";
import { createOtel } from "../src/telemetry/otel.ts";
import { kernelModel, lookupTool } from "./lib.ts";
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: spanExporter })] });
const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.DELTA), exportIntervalMillis: 1000 })] });
const on = createOtel({ redactor: { redact: (t) => t, redactValue: (v) => v }, tracerProvider, meterProvider });
const model = kernelModel();
const mode = process.argv[2] ?? "on";
async function run() {
  const engine = await AgentEngine.open(mode === "on" ? on.instrument({ model, tools: [lookupTool] }) : { model, tools: [lookupTool] });
  await engine.submitAndWait("What is the answer?");
  await engine.close();
}
for (let i = 0; i < 2000; i++) await run();
for (let r = 0; r < 4; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 3000; i++) await run();
  console.log(mode, ((performance.now() - t0) * 1000 / 3000).toFixed(1));
  spanExporter.reset();
}
process.exit(0);
