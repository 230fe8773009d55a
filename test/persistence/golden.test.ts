import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseTranscript } from "../../src/conversation/jsonl-reader.ts";
import { replayRollout } from "../../src/conversation/replay.ts";
import { AgentEngine, type Event, JsonlThreadStore, type ModelRequest, SimClient } from "../../src/index.ts";
import { shape } from "../helpers/events.ts";
import { expectationOf, FIXTURES } from "./golden.ts";

// Every transcript format Taifeng ever wrote must keep loading and resuming. The files under
// test/fixtures/transcripts/v<N>/ are frozen; see golden.ts.
const cases = readdirSync(FIXTURES).flatMap((version) =>
  readdirSync(join(FIXTURES, version))
    .filter((f) => f.endsWith(".jsonl"))
    .map((f) => ({ version, name: f.slice(0, -".jsonl".length), path: join(FIXTURES, version, f) })),
);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("golden transcripts", () => {
  it("exist for schema version 1", () => {
    expect(
      cases
        .filter((c) => c.version === "v1")
        .map((c) => c.name)
        .sort(),
    ).toEqual(["basic", "compacted", "context-changes", "crashed", "forked", "rewound", "suspended"]);
  });

  it.each(cases)("$version/$name replays to what it replayed to when written", ({ path }) => {
    const expected = JSON.parse(readFileSync(path.replace(/\.jsonl$/, ".expected.json"), "utf8"));
    expect(JSON.parse(JSON.stringify(expectationOf(path)))).toEqual(expected);
  });

  it.each(cases)(
    "$version/$name resumes and continues with its history as the prompt prefix",
    async ({ name, path }) => {
      const dir = mkdtempSync(join(tmpdir(), "taifeng-golden-"));
      dirs.push(dir);
      copyFileSync(path, join(dir, `${name}.jsonl`));
      const replay = replayRollout(parseTranscript(readFileSync(path), path).lines);
      const requests: ModelRequest[] = [];
      const model = new SimClient({
        script: [
          (request) => {
            requests.push(request);
            return { text: "Continuing." };
          },
        ],
      });
      const store = new JsonlThreadStore({ dir });
      const events: Event[] = [];
      const engine = await AgentEngine.open({
        model,
        store,
        threadId: name,
        listeners: [(e) => events.push(e)],
      });
      const turn = await engine.submitAndWait("continue");
      await engine.close();
      await store.close();

      const dangling = replay.openTurn?.danglingCalls ?? [];
      const opening = [
        "thread_opened",
        ...(name === "crashed" ? ["warning transcript_repaired"] : []),
        ...dangling.map((c) => `tool_call_completed ${c.name} ${c.callId} aborted`),
        ...(replay.openTurn ? ["turn_aborted crash"] : []),
      ];
      expect(shape(events.slice(0, opening.length))).toEqual(opening);
      expect(events[0]?.msg).toEqual({ type: "thread_opened", resumed: true, turns: replay.turnCount });
      expect(turn.at(-1)?.msg.type).toBe("turn_completed");
      const prefix = requests[0]?.items.slice(0, replay.items.length);
      expect(JSON.stringify(prefix)).toBe(JSON.stringify(replay.items));
      expect(requests[0]?.items.slice(replay.items.length).map((i) => i.type)).toEqual([
        ...dangling.map(() => "function_call_output"),
        "message",
      ]);
    },
  );
});
