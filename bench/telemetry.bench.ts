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
import { createRedactor } from "../src/redact/redactor.ts";
import type { Redactor } from "../src/redact/types.ts";
import { jsonlSink } from "../src/telemetry/jsonl-sink.ts";
import { createOtel } from "../src/telemetry/otel.ts";
import { createSinks } from "../src/telemetry/sinks.ts";
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
  await tracerProvider.forceFlush();
  spanExporter.reset();
}
const ratios = (side: number[]) => side.map((t, i) => t / (offs[i] as number));
const onRatio = percentile(ratios(ons), 50);
const disabledRatio = percentile(ratios(disableds), 50);
const spansPerRun = await (async () => {
  spanExporter.reset();
  await otelOn();
  await tracerProvider.forceFlush();
  return spanExporter.getFinishedSpans().length;
})();
await tracerProvider.shutdown();
await meterProvider.shutdown();

// --- JSONL sink throughput -------------------------------------------------------------------
// The events of real kernel runs, replayed through the dispatcher (redaction included) into a
// rotating JSONL file, until every event is on disk.
const sample: Event[] = [];
{
  const engine = await AgentEngine.open({
    model: kernelModel(),
    tools: [lookupTool],
    listeners: [(e) => sample.push(e)],
  });
  for (let i = 0; i < 4; i++) await engine.submitAndWait("What is the answer?");
  await engine.close();
}
const SINK_EVENTS = Number(process.env.SINK_EVENTS ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), "taifeng-bench-jsonl-"));
const sinkRates: number[] = [];
try {
  for (let r = 0; r < 3; r++) {
    const hub = createSinks([jsonlSink({ dir, per: "process", maxBytes: 32 * 2 ** 20, maxFiles: 2 })], {
      redactor: createRedactor({ env: false }),
      maxPending: SINK_EVENTS,
    });
    const ctx = { emit: () => {} };
    const t0 = performance.now();
    for (let i = 0; i < SINK_EVENTS; i++) {
      const ev = sample[i % sample.length] as Event;
      hub.listener({ ...ev, seq: i }, ctx);
      // Yield now and then, as turns do, so that the hub drains in batches.
      if (i % 1_000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    await hub.flush(60_000);
    sinkRates.push(SINK_EVENTS / ((performance.now() - t0) / 1000));
    const dropped = hub.stats()[0]?.dropped ?? 0;
    if (dropped > 0) throw new Error(`the JSONL sink dropped ${dropped} events`);
    await hub.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

writeResult(
  "telemetry",
  {
    kernel_otel_on_vs_off: round(onRatio, 3),
    kernel_otel_installed_but_disabled_vs_off: round(disabledRatio, 3),
    jsonl_sink_events_per_s: Math.round(percentile(sinkRates, 50)),
    kernel_off_us_per_run: round(percentile(offs, 50), 2),
    kernel_otel_on_us_per_run: round(percentile(ons, 50), 2),
    kernel_otel_disabled_us_per_run: round(percentile(disableds, 50), 2),
    spans_per_run: spansPerRun,
  },
  {
    workload: `${ROUNDS} interleaved rounds of ${perRound} runs each of: no telemetry, the OpenTelemetry layer recording (SDK TracerProvider with a BatchSpanProcessor into an InMemorySpanExporter, reset every round; MeterProvider with a periodic reader into an InMemoryMetricExporter), and the layer attached with no SDK registered (the API's no-op providers); after ${WARMUP} warm-up runs of each. A run is the kernel-overhead run (open an engine, one user_input, 2 model steps + 1 tool call, consume every event, close). Ratios are medians of per-round ratios. The JSONL figure replays ${SINK_EVENTS} events of real kernel runs through the sink dispatcher (redaction by createRedactor) into a rotating file until flushed; median of 3.`,
    rounds: {
      off_us: offs.map((v) => round(v, 2)),
      otel_on_us: ons.map((v) => round(v, 2)),
      otel_disabled_us: disableds.map((v) => round(v, 2)),
      jsonl_events_per_s: sinkRates.map((v) => Math.round(v)),
    },
    targets: { kernel_otel_on_vs_off: "<= 1.3", kernel_otel_installed_but_disabled_vs_off: "<= 1.03" },
  },
);
