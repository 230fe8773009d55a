import { createHash } from "node:crypto";
import type { Durability } from "../../src/index.ts";

// The messages between the persistence tests and test/persistence/agent-child.ts.

/** What the parent asks for (argv[2], JSON). */
export interface ChildConfig {
  readonly dir: string;
  readonly threadId: string;
  readonly durability?: Durability;
  /** Number of the first turn; turn texts are derived from it so runs are reproducible. */
  readonly startTurn: number;
  /** Turns to run; null = until killed. */
  readonly turns: number | null;
  /** After the turns, wait (holding the thread) instead of closing. */
  readonly hold?: boolean;
  /** Append every model request, serialized, to this file. */
  readonly requestLog?: string;
  /** Bytes of tool output per turn. */
  readonly outputBytes?: number;
  /** Delay between streamed chunks of the simulated model, so turns span many event-loop ticks. */
  readonly chunkDelayMs?: number;
  /** The store's batchDelayMs. */
  readonly batchDelayMs?: number;
  /**
   * Run with the engine's defaults: the default context manager and output cap on, plus
   * read_artifact; every turn after the first also reads back the first turn's artifact.
   */
  readonly defaults?: boolean;
  /** The simulated model's context window (with `defaults`), so the context manager has work. */
  readonly contextWindow?: number;
}

/** One line of the child's stdout. */
export type ChildMessage =
  | { type: "opened"; resumed: boolean; turns: number; dangling: number; warnings: string[] }
  | { type: "ack"; turn: number; turnId: string; hash: string; items: number }
  | { type: "commit"; lines: number; bytes: number }
  | { type: "turn_end"; turn: number; end: string; error?: string }
  | { type: "holding" }
  | { type: "error"; code: string; message: string };

/** The digest the parent recomputes from the transcript for an acknowledged turn. */
export function itemsHash(items: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(items)).digest("hex").slice(0, 16);
}
