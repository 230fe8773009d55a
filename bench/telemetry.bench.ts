// telemetry: what OpenTelemetry and the JSONL sink cost the kernel.
// kernel_otel_on_vs_off: the kernel-overhead run (2 model steps + 1 tool call) with the
// OpenTelemetry layer recording spans through a BatchSpanProcessor into an in-memory exporter
// and metrics into an in-memory reader, over the same run with no telemetry.
// kernel_otel_installed_but_disabled_vs_off: the layer attached, but the host registered no
// SDK (the API's no-op providers), over no telemetry.
// jsonl_sink_events_per_s: events through the sink dispatcher into a rotating JSONL file.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { BatchSpanProcessor, InMemorySpanExporter, TracerProvider } from "@opentelemetry/sdk-trace";
import type { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine, type EngineOptions } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import type { Redactor } from "../src/redact/types.ts";
import { createOtel } from "../src/telemetry/otel.ts";
import { kernelModel, lookupTool, percentile, round, writeResult } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 10_000);
const WARMUP = Number(process.env.WARMUP ?? 1_000);
const ROUNDS = 10;

// A redactor with nothing to mask: the cost of the security layer is measured elsewhere.
const passThrough: Redactor = { redact: (t) => t, redactValue: (v) => v };

async function run(model: SimClient, wrap: (o: EngineOptions) => EngineOptions): Promise<number> {
  const engine = await AgentEngine.open(wrap({ model, tools: [lookupTool] }));
  const id = engine.submit("What is the answer?");
  let count = 0;
  for await (const ev of engine.subscribe(id)) {
    count++;
    if (ev.msg.type === "turn_failed") throw new Error(JSON.stringify(ev.msg.error));
  }
  await engine.close();
  return count;
}

async function measure(fn: () => Promise<unknown>, runs: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return ((performance.now() - t0) * 1000) / runs;
}

const spanExporter = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({
  spanProcessors: [
    new BatchSpanProcessor({
      exporter: spanExporter,
      maxQueueSize: 65_536,
      maxExportBatchSize: 4096,
      scheduledDelayMillis: 200,
    }),
  ],
});
const metricReader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.DELTA),
  exportIntervalMillis: 1_000,
});
const meterProvider = new MeterProvider({ readers: [metricReader] });
const on = createOtel({ redactor: passThrough, tracerProvider, meterProvider });
const disabled = createOtel({ redactor: passThrough });

const offModel = kernelModel();
const onModel = kernelModel();
const disabledModel = kernelModel();
const off = () => run(offModel, (o) => o);
const otelOn = () => run(onModel, (o) => on.instrument(o));
const otelDisabled = () => run(disabledModel, (o) => disabled.instrument(o));

const perRound = Math.ceil(RUNS / ROUNDS);
for (const fn of [off, otelOn, otelDisabled]) await measure(fn, WARMUP);
const offs: number[] = [];
const ons: number[] = [];
const disableds: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  offs.push(await measure(off, perRound));
  ons.push(await measure(otelOn, perRound));
  disableds.push(await measure(otelDisabled, perRound));
  spanExporter.reset();
}
const onRatio = percentile(
  ons.map((t, i) => t / (offs[i] as number)),
  50,
);
const disabledRatio = percentile(
  disableds.map((t, i) => t / (offs[i] as number)),
  50,
);
await tracerProvider.shutdown();
await meterProvider.shutdown();

console.log({ offs, ons, disableds, onRatio, disabledRatio });
