// Golden transcripts: one folder per schema version under test/fixtures/transcripts/. Files
// are written once, by this script, when a schema version is introduced, and never again:
// later versions of Taifeng must keep loading and resuming them (golden.test.ts).
//
//   node test/persistence/golden.ts          writes the files of the current version that are missing
import { createHash } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { parseTranscript } from "../../src/conversation/jsonl-reader.ts";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { replayRollout } from "../../src/conversation/replay.ts";
import { summarizeThread } from "../../src/conversation/summary.ts";
import { forkThread } from "../../src/conversation/thread-ops.ts";
import {
  AgentEngine,
  defineTool,
  type ModelRequest,
  type RolloutLine,
  SCHEMA_VERSION,
  SimClient,
  textMessage,
} from "../../src/index.ts";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "../fixtures/transcripts");

/** What a golden transcript must replay to, recorded when it was written. */
export interface GoldenExpectation {
  readonly threadId: string;
  readonly tornBytes: number;
  readonly turnCount: number;
  readonly outcomes: string[];
  readonly itemTypes: string[];
  /** sha256 of JSON.stringify(items): the exact prompt history. */
  readonly itemsDigest: string;
  readonly lastTurnContext: unknown;
  readonly openTurn: { turnId: string; danglingCalls: string[]; events: string[] } | null;
  readonly info: unknown;
}

export function digest(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

/** The expectation of a transcript file as the current code reads it. */
export function expectationOf(path: string): GoldenExpectation {
  const parsed = parseTranscript(readFileSync(path), path);
  const replay = replayRollout(parsed.lines);
  return {
    threadId: replay.meta.threadId,
    tornBytes: parsed.tornBytes,
    turnCount: replay.turnCount,
    outcomes: replay.turns.map((t) => t.outcome),
    itemTypes: replay.items.map((i) => (i.type === "message" ? `message:${i.role}` : i.type)),
    itemsDigest: digest(replay.items),
    lastTurnContext: replay.lastTurnContext ?? null,
    openTurn: replay.openTurn
      ? {
          turnId: replay.openTurn.turnId,
          danglingCalls: replay.openTurn.danglingCalls.map((c) => c.callId),
          events: replay.openTurn.events.map((e) => e.type),
        }
      : null,
    info: summarizeThread(parsed.lines),
  };
}

const lookup = defineTool({
  name: "lookup",
  description: "Looks a word up.",
  schema: z.object({ word: z.string() }),
  readOnly: true,
  execute: ({ word }) => `${word}: a word worth looking up`,
});

function model(name = "golden"): SimClient {
  const step = (request: ModelRequest) => {
    const last = request.items.at(-1);
    if (last?.type === "message" && last.role === "user")
      return {
        reasoning: "The user wants a definition.",
        text: "Looking it up.",
        toolCalls: [{ id: `call_${request.items.length}`, name: "lookup", arguments: { word: "durable" } }],
      };
    return { text: "Here is the definition." };
  };
  return new SimClient({ name, script: { steps: [step], onExhausted: "repeat_last" } });
}

async function engine(store: JsonlThreadStore, threadId: string, title?: string) {
  return AgentEngine.open({
    model: model(),
    resolveModel: async (spec) => model(spec.replace(/^sim:/, "")),
    tools: [lookup],
    store,
    threadId,
    cwd: "/work/project",
    ...(title !== undefined ? { title } : {}),
  });
}

async function generate(dir: string): Promise<void> {
  const store = new JsonlThreadStore({ dir, index: false });

  const basic = await engine(store, "basic", "Golden basic thread");
  await basic.submitAndWait("What does durable mean?");
  await basic.submitAndWait("And resumable?");
  await basic.close();

  const rewound = await engine(store, "rewound");
  for (const q of ["one", "two", "three"]) await rewound.submitAndWait(q);
  await rewound.submitAndWait({ type: "rewind", turns: 1 });
  await rewound.submitAndWait("three again");
  await rewound.close();

  const changed = await engine(store, "context-changes");
  await changed.submitAndWait("first");
  await changed.submitAndWait({ type: "override_context", model: "sim:other", cwd: "/work/other" });
  await changed.submitAndWait("second");
  await changed.close();

  await forkThread(store, "basic", { atTurn: 1, threadId: "forked" });

  const compacted = await engine(store, "compacted");
  await compacted.submitAndWait("before the checkpoint");
  await compacted.close();
  const checkpoint = await store.open("compacted");
  checkpoint.writer.append({
    ts: Date.now(),
    type: "compacted",
    payload: {
      strategy: "handoff_summary",
      summary: "The user asked for a definition of a word.",
      replacementHistory: [
        { type: "compaction", summary: "The user asked for a definition of a word.", replacedItems: 5 },
        textMessage("user", "before the checkpoint"),
      ],
    },
  });
  await checkpoint.writer.close();
  const afterCheckpoint = await engine(store, "compacted");
  await afterCheckpoint.submitAndWait("after the checkpoint");
  await afterCheckpoint.close();

  const crashed = await engine(store, "crashed");
  await crashed.submitAndWait("completed turn");
  await crashed.close();
  const cut = await store.open("crashed");
  const ts = Date.now();
  const lines: RolloutLine[] = [
    { ts, type: "turn_context", payload: { turnId: "turn_cut", submissionId: "sub_cut" } },
    { ts, type: "response_item", payload: textMessage("user", "a turn the process never finished") },
    {
      ts,
      type: "response_item",
      payload: { type: "function_call", callId: "call_cut", name: "lookup", arguments: '{"word":"cut"}' },
    },
  ];
  for (const line of lines) cut.writer.append(line);
  await cut.writer.close();
  appendFileSync(
    join(dir, "crashed.jsonl"),
    '{"ts":1,"type":"response_item","payload":{"type":"function_call_out',
  );

  const suspended = await engine(store, "suspended");
  await suspended.submitAndWait("completed turn");
  await suspended.close();
  const waiting = await store.open("suspended");
  const pending: RolloutLine[] = [
    { ts, type: "turn_context", payload: { turnId: "turn_wait", submissionId: "sub_wait" } },
    { ts, type: "response_item", payload: textMessage("user", "delete the build folder") },
    {
      ts,
      type: "response_item",
      payload: {
        type: "function_call",
        callId: "call_rm",
        name: "bash",
        arguments: '{"command":"rm -rf build"}',
      },
    },
    {
      ts,
      type: "event",
      payload: {
        msg: {
          type: "permission_requested",
          requestId: "perm_1",
          callId: "call_rm",
          tool: "bash",
          input: { command: "rm -rf build" },
          reason: "destructive command",
          suggestions: ["Bash(rm -rf build)"],
        },
      },
    },
  ];
  for (const line of pending) waiting.writer.append(line);
  await waiting.writer.close();
  await store.close();
}

async function main(): Promise<void> {
  const target = join(FIXTURES, `v${SCHEMA_VERSION}`);
  mkdirSync(target, { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), "taifeng-golden-"));
  try {
    await generate(scratch);
    for (const name of [
      "basic",
      "rewound",
      "context-changes",
      "forked",
      "compacted",
      "crashed",
      "suspended",
    ]) {
      const file = join(target, `${name}.jsonl`);
      if (existsSync(file)) {
        console.log(`keep ${file} (golden files are never rewritten)`);
        continue;
      }
      renameSync(join(scratch, `${name}.jsonl`), file);
      writeFileSync(
        join(target, `${name}.expected.json`),
        `${JSON.stringify(expectationOf(file), null, 2)}\n`,
      );
      console.log(`wrote ${file}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
