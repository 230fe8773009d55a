// OpenTelemetry with no collector and no API key: the simulator runs a turn with a tool call
// and a budget, and every span is printed to the console as it ends.
// Run: node examples/otel-console.ts
import {
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { z } from "zod";
import { AgentEngine, createBudget, createOtel, defineTool, SimClient } from "../src/index.ts";

// The host owns the SDK. This exporter keeps the spans and the example prints them as a tree
// at the end; swap in ConsoleSpanExporter for the SDK's full dump, or an OTLP exporter (see
// docs/guides/observability.md) to send them to Jaeger, Langfuse or any collector.
const finished: ReadableSpan[] = [];
const keeper: SpanExporter = {
  export(spans, done) {
    finished.push(...spans);
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const tracerProvider = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter: keeper })],
});

function printTree(parent: string | undefined, depth: number): void {
  const children = finished.filter((s) => s.parentSpanContext?.spanId === parent);
  children.sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  for (const s of children) {
    const attrs = Object.entries(s.attributes)
      .filter(
        ([k]) => k.startsWith("gen_ai.usage") || k === "gen_ai.tool.name" || k === "taifeng.turn.outcome",
      )
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ");
    console.log(`[span] ${"  ".repeat(depth)}${s.name} ${attrs}`.trimEnd());
    printTree(s.spanContext().spanId, depth + 1);
  }
}

const weather = defineTool({
  name: "get_weather",
  description: "Current weather for a city.",
  schema: z.object({ city: z.string() }),
  readOnly: true,
  execute: ({ city }) => `${city}: 18 °C, clear`,
});

const model = new SimClient({
  name: "demo",
  script: [
    {
      toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }],
      usage: { inputTokens: 120, outputTokens: 12 },
    },
    { text: "It is 18 °C and clear in Paris.", usage: { inputTokens: 160, outputTokens: 9 } },
  ],
});

const otel = createOtel({ tracerProvider });
const budget = createBudget({ perTurn: { tokens: 400 } });
const engine = await AgentEngine.open(
  budget.instrument(
    otel.instrument({
      model,
      tools: [weather],
      listeners: [
        (ev) => {
          if (ev.msg.type === "budget_warning")
            console.log(
              `[budget] ${ev.msg.scope} ${ev.msg.unit} past ${ev.msg.threshold * 100}%: ${ev.msg.used} of ${ev.msg.limit}`,
            );
        },
      ],
    }),
  ),
);
const events = await engine.submitAndWait("What's the weather in Paris?");
const end = events.at(-1)?.msg;
if (end?.type === "turn_completed") console.log(`[answer] ${end.text}`);
await engine.close();
await tracerProvider.shutdown();
printTree(undefined, 0);
