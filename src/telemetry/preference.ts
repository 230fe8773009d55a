/** Preference pairs (chosen / rejected) from two attempts at the same task, for DPO-style datasets. */
import { TaifengError } from "../errors.ts";
import type { ResponseItem } from "../protocol/index.ts";
import type { ModelCallRecord, ToolResultRecord, TraceRecord, TurnRecord } from "./trace-export.ts";

/** One attempt as the check sees it: a turn's records from `exportTrace`. */
export interface Attempt {
  /** The records of exactly one turn (model calls, tool results, the turn record). */
  readonly records: readonly TraceRecord[];
}

/** What the host's check reads about an attempt. */
export interface AttemptView {
  readonly text: string;
  readonly outcome: TurnRecord["outcome"];
  readonly toolResults: readonly ToolResultRecord[];
  readonly records: readonly TraceRecord[];
}

/**
 * A deterministic check supplied by the host (tests pass, output parses, the answer matches):
 * a number (higher is better) or a boolean (true beats false). It must give the same answer
 * for the same attempt: pairs built from a flaky judge teach noise.
 */
export type AttemptCheck = (attempt: AttemptView) => number | boolean;

/** A labelled pair: the shared prompt, the better trajectory and the worse one. */
export interface PreferencePair {
  /** The first model call's input, identical for both attempts. */
  readonly prompt: readonly ResponseItem[];
  /** Everything the chosen attempt's model produced, with the tool results it read, in order. */
  readonly chosen: readonly ResponseItem[];
  readonly rejected: readonly ResponseItem[];
  readonly scores: { readonly chosen: number; readonly rejected: number };
}

function view(attempt: Attempt): AttemptView & { calls: ModelCallRecord[] } {
  const calls = attempt.records.filter((r): r is ModelCallRecord => r.type === "model_call");
  const turns = attempt.records.filter((r): r is TurnRecord => r.type === "turn");
  const turnIds = new Set([...calls.map((c) => c.turnId), ...turns.map((t) => t.turnId)]);
  if (calls.length === 0 || turns.length !== 1 || turnIds.size !== 1)
    throw new TaifengError(
      "invalid_argument",
      "an attempt must hold exactly one turn with at least one model call",
    );
  const turn = turns[0] as TurnRecord;
  return {
    text: turn.text ?? "",
    outcome: turn.outcome,
    toolResults: attempt.records.filter((r): r is ToolResultRecord => r.type === "tool_result"),
    records: attempt.records,
    calls,
  };
}

/** The turn's trajectory after its prompt: every model answer and the tool outputs it read. */
function trajectory(v: ReturnType<typeof view>): ResponseItem[] {
  const first = v.calls[0] as ModelCallRecord;
  const last = v.calls.at(-1) as ModelCallRecord;
  // The last call's request holds everything up to it; its answer ends the turn.
  return [...last.request.items.slice(first.request.items.length), ...last.response.items];
}

const score = (value: number | boolean) => (typeof value === "boolean" ? (value ? 1 : 0) : value);

/**
 * Labels two attempts at the same prompt with `check` and returns them as a chosen/rejected
 * pair, or `undefined` when the check scores them equally (a tie teaches nothing). Needs
 * exports made with `history: "full"`. Throws TaifengError `invalid_argument` when an attempt is
 * not one turn or the two prompts differ.
 */
export function preferencePair(a: Attempt, b: Attempt, check: AttemptCheck): PreferencePair | undefined {
  const va = view(a);
  const vb = view(b);
  const prompt = (va.calls[0] as ModelCallRecord).request;
  if (prompt.omitted || (vb.calls[0] as ModelCallRecord).request.omitted)
    throw new TaifengError("invalid_argument", 'preference pairs need exports made with history: "full"');
  if (JSON.stringify(prompt.items) !== JSON.stringify((vb.calls[0] as ModelCallRecord).request.items))
    throw new TaifengError("invalid_argument", "the two attempts do not share the same prompt");
  const sa = score(check(va));
  const sb = score(check(vb));
  if (sa === sb) return undefined;
  const [win, lose] = sa > sb ? [va, vb] : [vb, va];
  return {
    prompt: prompt.items,
    chosen: trajectory(win),
    rejected: trajectory(lose),
    scores: { chosen: Math.max(sa, sb), rejected: Math.min(sa, sb) },
  };
}

/** Splits an export into its turns' records (each starting after the thread record). */
export function attemptsOf(records: readonly TraceRecord[]): Attempt[] {
  const byTurn = new Map<string, TraceRecord[]>();
  for (const r of records) {
    if (r.type === "thread") continue;
    const list = byTurn.get(r.turnId) ?? [];
    list.push(r);
    byTurn.set(r.turnId, list);
  }
  return [...byTurn.values()].map((list) => ({ records: list }));
}
