/** `GET /v1/usage`: token and cost totals by thread, model and day, from the transcripts. */
import type { RolloutLine } from "../protocol/index.ts";
import type { ThreadHub } from "./hub.ts";

interface Totals {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  costUsd: number;
  turns: number;
}

function slot(totals: Record<string, Totals>, key: string): Totals {
  const found = totals[key];
  if (found) return found;
  const made: Totals = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costUsd: 0, turns: 0 };
  totals[key] = made;
  return made;
}

/**
 * Folds the transcripts of the `limit` most recently updated threads: every turn end adds its
 * usage and cost to its thread, its model (the turn's `turn_context`, carried forward) and
 * its UTC day. Latency percentiles come from the model calls this process has seen.
 */
export async function usageReport(hub: ThreadHub, limit: number): Promise<Record<string, unknown>> {
  const byThread: Record<string, Totals> = {};
  const byModel: Record<string, Totals> = {};
  const byDay: Record<string, Totals> = {};
  for (const info of await hub.store.list({ limit })) {
    let lines: RolloutLine[];
    try {
      lines = await hub.store.read(info.threadId);
    } catch {
      continue; // deleted meanwhile
    }
    let model = "unknown";
    for (const line of lines) {
      if (line.type === "turn_context") {
        if (line.payload.model !== undefined) model = line.payload.model;
        continue;
      }
      if (line.type !== "event") continue;
      const m = line.payload.msg;
      if (m.type !== "turn_completed" && m.type !== "turn_failed" && m.type !== "turn_aborted") continue;
      const day = new Date(line.ts).toISOString().slice(0, 10);
      for (const t of [slot(byThread, info.threadId), slot(byModel, model), slot(byDay, day)]) {
        t.inputTokens += m.usage.inputTokens;
        t.cachedInputTokens += m.usage.cachedInputTokens;
        t.outputTokens += m.usage.outputTokens;
        t.costUsd += "costUsd" in m && m.costUsd !== undefined ? m.costUsd : 0;
        t.turns++;
      }
    }
  }
  return { byThread, byModel, byDay, latency: hub.latencyByModel() };
}
