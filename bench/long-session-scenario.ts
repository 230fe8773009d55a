// The scripted coding-agent session behind bench/long-session.bench.ts: deterministic (one
// seed per output shape), the same for every window, cache style and strategy. See
// docs/guides/context.md ("The long-session benchmark").

/** Tool output sizes, in tokens. */
export type Shape = "wide" | "steady" | "bimodal";

export const SHAPES: Record<Shape, string> = {
  wide: "log-uniform 500..20,000 tokens",
  steady: "uniform 2,000..3,000 tokens",
  bimodal: "88% uniform 150..600 tokens, 12% uniform 10,000..25,000 tokens",
};

export const TURNS = 64;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where a fact is planted: `note` facts are lines marked NOTE:, which the simulator's summarizer keeps. */
export type FactKind = "note_user" | "note_output" | "output_middle" | "assistant";

export interface Fact {
  readonly kind: FactKind;
  readonly what: string;
  readonly value: string;
}

export const FACTS: readonly Fact[] = [
  { kind: "note_user", what: "the staging database port", value: "6543" },
  { kind: "note_user", what: "the feature flag for the new parser", value: "parser_v2_rollout" },
  { kind: "note_user", what: "the on-call engineer for payments", value: "Ilse Marchetti" },
  { kind: "note_user", what: "the maximum retry budget per request", value: "7 retries" },
  { kind: "note_output", what: "the build cache directory", value: "/var/cache/taifeng-build-42" },
  { kind: "note_output", what: "the deprecated API version", value: "v2023-11-07" },
  { kind: "note_output", what: "the release branch name", value: "release/aurora-3.4" },
  { kind: "note_output", what: "the license header year", value: "2019-2026" },
  { kind: "output_middle", what: "the metrics namespace", value: "acme.ingest.v7" },
  { kind: "output_middle", what: "the default shard count", value: "37 shards" },
  { kind: "output_middle", what: "the legacy queue name", value: "orders-legacy-fifo" },
  { kind: "output_middle", what: "the flaky test", value: "test_refund_rounding_q4" },
  { kind: "assistant", what: "the migration lock timeout", value: "412 seconds" },
  { kind: "assistant", what: "the owner of the billing schema", value: "team-ledger-east" },
  { kind: "assistant", what: "the cron for nightly compaction", value: "17 3 * * 2" },
  { kind: "assistant", what: "the S3 bucket for exports", value: "s3://exports-9f31" },
];

const KINDS = ["read_file", "grep", "bash"] as const;

export interface ToolPlan {
  readonly kind: (typeof KINDS)[number];
  readonly path: string;
  readonly tokens: number;
  /** A fact in this output: `head` on its first line (NOTE), `middle` halfway through (plain). */
  readonly fact?: number;
  readonly at?: "head" | "middle";
}

export interface TurnPlan {
  readonly prompt: string;
  readonly tools: ToolPlan[];
  /** The answer mentions this fact (plain, in an assistant message). */
  readonly tells?: number;
  /** The user asks for this fact. */
  readonly asks?: number;
}

function outputTokens(shape: Shape, rand: () => number): number {
  switch (shape) {
    case "wide":
      return Math.round(500 * 40 ** rand());
    case "steady":
      return Math.round(2000 + 1000 * rand());
    case "bimodal":
      return rand() < 0.12 ? Math.round(10_000 + 15_000 * rand()) : Math.round(150 + 450 * rand());
  }
}

const SEEDS: Record<Shape, number> = { wide: 42, steady: 7, bimodal: 1234 };

/**
 * The session: 64 user turns of 2..6 tool calls and an answer (about 300 model calls).
 * Facts are planted in turns 1..14 and asked about, one per turn, in the last 16 turns.
 */
export function planSession(shape: Shape): TurnPlan[] {
  const rand = mulberry32(SEEDS[shape]);
  const turns: TurnPlan[] = [];
  const firstAsk = TURNS - FACTS.length;
  for (let t = 0; t < TURNS; t++) {
    const steps = 2 + Math.floor(rand() * 5);
    const tools: ToolPlan[] = [];
    for (let s = 0; s < steps; s++) {
      const tokens = outputTokens(shape, rand);
      const kind = KINDS[Math.floor(rand() * KINDS.length)] as ToolPlan["kind"];
      const path = `src/module_${t}_${s}.ts`;
      // NOTE facts 4..7 on the first line of the first output of turns 2..5; plain facts
      // 8..11 halfway through the second output of turns 6..9.
      if (s === 0 && t >= 2 && t <= 5) tools.push({ kind, path, tokens, fact: t + 2, at: "head" });
      else if (s === 1 && t >= 6 && t <= 9) tools.push({ kind, path, tokens, fact: t + 2, at: "middle" });
      else tools.push({ kind, path, tokens });
    }
    let prompt = `Task ${t + 1}: continue the refactoring of module ${t} and keep the tests green.`;
    if (t < 4) prompt += `\nNOTE: ${FACTS[t]?.what} is ${FACTS[t]?.value}.`;
    const tells = t >= 10 && t <= 13 ? t + 2 : undefined;
    const asks = t >= firstAsk ? t - firstAsk : undefined;
    if (asks !== undefined)
      prompt = `Task ${t + 1}: remind me, what is ${FACTS[asks]?.what}? Then continue with module ${t}.`;
    turns.push({
      prompt,
      tools,
      ...(tells !== undefined ? { tells } : {}),
      ...(asks !== undefined ? { asks } : {}),
    });
  }
  return turns;
}

const WORDS =
  "const let return await export function import from interface type async value result error config index".split(
    " ",
  );

/** The text of one tool output: code-like lines, with its fact where the plan puts it. */
export function toolText(plan: ToolPlan, seed: number): string {
  const rand = mulberry32(seed);
  const target = plan.tokens * 4;
  const fact = plan.fact !== undefined ? FACTS[plan.fact] : undefined;
  const lines: string[] = [
    fact && plan.at === "head" ? `NOTE: ${fact.what} is ${fact.value}.` : `// ${plan.kind} ${plan.path}`,
  ];
  let chars = lines[0]?.length ?? 0;
  let planted = !(fact && plan.at === "middle");
  while (chars < target) {
    if (!planted && chars >= target / 2) {
      // A plain sentence in the middle of the output: nothing marks it as worth keeping.
      const line = `  // ${fact?.what} is ${fact?.value}`;
      lines.push(line);
      chars += line.length + 1;
      planted = true;
      continue;
    }
    let line = "  ";
    for (let w = 0; w < 8; w++)
      line += `${WORDS[Math.floor(rand() * WORDS.length)]}_${Math.floor(rand() * 100)} `;
    lines.push(line);
    chars += line.length + 1;
  }
  return lines.join("\n").slice(0, target);
}
