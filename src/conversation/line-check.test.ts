import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RolloutLine } from "../protocol/index.ts";
import { isCommonLine } from "./line-check.ts";

const FIXTURES = join(import.meta.dirname, "../../test/fixtures/transcripts");

function fixtureLines(): unknown[] {
  const out: unknown[] = [];
  for (const version of readdirSync(FIXTURES))
    for (const file of readdirSync(join(FIXTURES, version)).filter((f) => f.endsWith(".jsonl")))
      for (const line of readFileSync(join(FIXTURES, version, file), "utf8").split("\n"))
        if (line.startsWith("{") && line.endsWith("}")) out.push(JSON.parse(line));
  return out;
}

const extra: unknown[] = [
  {
    ts: 1,
    type: "response_item",
    payload: { type: "message", role: "system", content: [], providerData: { a: { b: 1 } } },
  },
  {
    ts: 1,
    type: "response_item",
    payload: { type: "function_call_output", callId: "c", output: "x", isError: true },
  },
  {
    ts: 1,
    type: "response_item",
    payload: { type: "reasoning", text: "", providerData: { openai: { enc: "xyz" } } },
  },
  {
    ts: 1,
    type: "event",
    payload: {
      turnId: "t",
      submissionId: "s",
      msg: {
        type: "turn_completed",
        text: "a",
        output: { any: ["thing"] },
        steps: 0,
        costUsd: 0.5,
        durationMs: 1.5,
        usage: {
          inputTokens: 1,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 0,
          reasoningTokens: 0,
        },
      },
    },
  },
];

const REPLACEMENTS: unknown[] = [
  undefined,
  null,
  "",
  "x",
  0,
  -1,
  1.5,
  Number.NaN,
  true,
  [],
  {},
  [{}],
  { type: "text" },
];

/** Every value obtained by replacing or deleting one node of `value`. */
function* mutants(value: unknown): Generator<unknown> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      for (const m of mutants(value[i])) yield value.map((v, j) => (j === i ? m : v));
      yield value.filter((_, j) => j !== i);
    }
  } else if (typeof value === "object" && value !== null) {
    for (const key of Object.keys(value)) {
      const rest = { ...(value as Record<string, unknown>) };
      delete rest[key];
      yield rest;
      for (const m of mutants((value as Record<string, unknown>)[key])) yield { ...value, [key]: m };
    }
  }
  for (const r of REPLACEMENTS) yield r;
}

describe("isCommonLine", () => {
  it("accepts the common lines of real transcripts", () => {
    const lines = fixtureLines();
    const accepted = lines.filter(isCommonLine);
    expect(accepted.length / lines.length).toBeGreaterThan(0.8);
    for (const line of extra) expect(isCommonLine(line)).toBe(true);
  });

  it("never accepts a line the schema rejects (differential check over every one-node mutation)", () => {
    let checked = 0;
    let rejectedBySchema = 0;
    for (const line of [...fixtureLines(), ...extra]) {
      for (const mutant of mutants(line)) {
        const schemaOk = RolloutLine.safeParse(mutant).success;
        if (!schemaOk) rejectedBySchema++;
        if (isCommonLine(mutant) && !schemaOk)
          throw new Error(`fast check accepted an invalid line: ${JSON.stringify(mutant)}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10_000);
    expect(rejectedBySchema).toBeGreaterThan(checked / 2);
  });
});
