/** The seam through which spend limits and loop detectors act on a running turn. */
import type { ErrorInfo } from "../protocol/index.ts";

/** Where a turn stands when a StepCheck is consulted. */
export interface StepCheckContext {
  readonly threadId: string;
  readonly turnId: string;
  /** The model call about to be made (1 = the turn's first). */
  readonly step: number;
}

/**
 * A check's answer: `stop` ends the turn with `turn_failed` carrying `error`; `nudge` appends
 * `text` as a system message the model reads on this call.
 */
export type StepVerdict =
  | { readonly type: "stop"; readonly error: ErrorInfo }
  | { readonly type: "nudge"; readonly text: string };

/**
 * Consulted before every model call of a turn, at a step boundary: the previous call's items
 * and every tool output are already in the history, so stopping here never cuts a write and
 * loses nothing. Synchronous and cheap; it must not throw (a throw is an engine bug and fails
 * the turn as `internal`). Checks learn what happened from the engine's events (register the
 * same object as a listener); `undefined` lets the call go ahead.
 */
export type StepCheck = (ctx: StepCheckContext) => StepVerdict | undefined;
