// A real agent process for the cross-process persistence tests: opens (or resumes) one thread
// in a JSONL store, runs turns through the engine and prints one JSON line per fact the parent
// checks. stdout writes to a pipe are synchronous on Linux, so a printed line is never lost
// when the parent kills this process.
import { appendFileSync } from "node:fs";
import { z } from "zod";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { danglingCalls } from "../../src/conversation/replay.ts";
import { isTaifengError } from "../../src/errors.ts";
import { AgentEngine, defineTool, type ModelClient, type ModelRequest, SimClient } from "../../src/index.ts";
import { readArtifactTool } from "../../src/tool/builtin/read_artifact/index.ts";
import { type ChildConfig, type ChildMessage, itemsHash } from "./child-protocol.ts";

function say(message: ChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * A model that calls `lookup` once per turn, then answers in three text chunks. Like real
 * providers it attaches opaque data to its calls (e.g. Gemini's thought signatures), which
 * must come back verbatim in later requests, after a restart too.
 */
function model(config: ChildConfig): ModelClient {
  const sim = simModel(config);
  return {
    id: sim.id,
    async *stream(request, options) {
      for await (const ev of sim.stream(request, options)) {
        if (ev.type === "tool_call_end") {
          yield {
            ...ev,
            providerData: { sim: { signature: `sig-${ev.callId}`, zeta: [3, 1], alpha: { b: 1, a: 2 } } },
          };
        } else yield ev;
      }
    },
  };
}

function simModel(config: ChildConfig): SimClient {
  const step = (request: ModelRequest) => {
    if (config.requestLog) appendFileSync(config.requestLog, `${JSON.stringify(request)}\n`);
    const last = request.items.at(-1);
    if (last?.type === "message" && last.role === "user") {
      const turn = /^Turn (\d+)/.exec(last.content[0]?.type === "text" ? last.content[0].text : "")?.[1];
      // With the defaults on, read back the oldest artifact the history names (made before a
      // restart, for the resumed process): its text must still be there.
      const artifact = config.defaults
        ? /artifact (art_\w+)/.exec(JSON.stringify(request.items))?.[1]
        : undefined;
      return {
        text: "Let me look that up.",
        chunkDelayMs: config.chunkDelayMs ?? 0,
        toolCalls: [
          { id: `call_${request.items.length}`, name: "lookup", arguments: { turn: Number(turn) } },
          ...(artifact
            ? [
                {
                  id: `call_${request.items.length}_a`,
                  name: "read_artifact",
                  arguments: { id: artifact, limit: 1 },
                },
              ]
            : []),
        ],
      };
    }
    return {
      text: ["The answer ", "is in the ", `tool output (${request.items.length} items).`],
      chunkDelayMs: config.chunkDelayMs ?? 0,
    };
  };
  return new SimClient({
    name: "child",
    script: { steps: [step], onExhausted: "repeat_last" },
    ...(config.contextWindow !== undefined ? { contextWindow: config.contextWindow } : {}),
  });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] as string) as ChildConfig;
  const store = new JsonlThreadStore({
    dir: config.dir,
    durability: config.durability ?? "turn",
    ...(config.batchDelayMs !== undefined ? { batchDelayMs: config.batchDelayMs } : {}),
    onCommitted: (c) => say({ type: "commit", lines: c.lines, bytes: c.bytes }),
  });
  const lookup = defineTool({
    name: "lookup",
    description: "Looks up the facts for a turn.",
    schema: z.object({ turn: z.number() }),
    readOnly: true,
    execute: ({ turn }) =>
      `Facts for turn ${turn}: ${"lorem ipsum ".repeat(Math.ceil((config.outputBytes ?? 120) / 12))}`,
  });
  const warnings: string[] = [];
  const opened = { resumed: false, turns: 0 };
  let engine: AgentEngine;
  try {
    engine = await AgentEngine.open({
      model: model(config),
      tools: config.defaults ? [lookup, readArtifactTool({ artifacts: undefined, options: {} })] : [lookup],
      store,
      threadId: config.threadId,
      system: "You are the persistence test agent.",
      // Durability is under test: unless `defaults`, no compaction checkpoints and no output
      // caps, so every acknowledged turn must come back byte for byte.
      ...(config.defaults ? {} : { context: false as const, maxToolOutputChars: false as const }),
      listeners: [
        (ev) => {
          if (ev.msg.type === "warning") warnings.push(ev.msg.message);
          if (ev.msg.type === "thread_opened")
            Object.assign(opened, { resumed: ev.msg.resumed, turns: ev.msg.turns });
        },
      ],
    });
  } catch (err) {
    say({ type: "error", code: isTaifengError(err) ? err.code : "internal", message: String(err) });
    process.exit(3);
  }
  say({ type: "opened", ...opened, dangling: danglingCalls(engine.items).length, warnings });
  const last = config.turns === null ? Number.POSITIVE_INFINITY : config.startTurn + config.turns;
  for (let turn = config.startTurn; turn < last; turn++) {
    const start = engine.items.length;
    for await (const ev of engine.subscribe(engine.submit(`Turn ${turn}: what do the facts say?`))) {
      const msg = ev.msg;
      if (msg.type === "turn_completed") {
        const items = engine.items.slice(start);
        say({ type: "ack", turn, turnId: ev.turnId as string, hash: itemsHash(items), items: items.length });
      } else if (msg.type === "turn_failed" || msg.type === "turn_aborted") {
        say({
          type: "turn_end",
          turn,
          end: msg.type,
          ...(msg.type === "turn_failed" ? { error: msg.error.message } : {}),
        });
        await engine.close().catch(() => {});
        await store.close().catch(() => {});
        process.exit(4);
      }
    }
  }
  if (config.hold) {
    say({ type: "holding" });
    setInterval(() => {}, 60_000);
    return;
  }
  await engine.close();
  await store.close();
}

await main();
