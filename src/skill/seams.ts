/**
 * The small interfaces through which hosts (and Taifeng's permission, hook and sandbox
 * layers) plug into skill activation. Every seam is optional; the defaults allow everything
 * and run scripts as plain subprocesses.
 */

/** How an activation was requested: by the model (call_skill) or by a composite plan step. */
export type SkillVia = "model" | "plan";

/** What is known about an activation before it starts. */
export interface SkillActivation {
  readonly name: string;
  /** The text the skill receives (its child turn's user message, or the plan's `{{input}}`). */
  readonly input: string;
  /** Skills above this one, outermost first; `depth` is its length. */
  readonly chain: readonly string[];
  readonly depth: number;
  readonly via: SkillVia;
  /** The root tool call this activation descends from, when there is one. */
  readonly callId: string | undefined;
  /** Aborted when the activation is cancelled; a waiting seam must give up. */
  readonly signal: AbortSignal;
}

/** A permission or hook decision on an activation. `input` replaces the skill's input. */
export type SkillDecision =
  | { readonly allow: true; readonly input?: string }
  | { readonly allow: false; readonly message: string };

/**
 * Decides whether a skill may run: the `Skill(name)` / `Skill(name *)` permission seam. Called
 * for every activation (model calls, nested calls in child turns, plan steps), after the depth
 * and cycle checks and before the skill_start hook. May wait (for a human approval); must
 * honour `signal`. A throw denies.
 */
export type AuthorizeSkill = (activation: SkillActivation) => Promise<SkillDecision> | SkillDecision;

/** How an activation ended, for the skill_end hook. */
export interface SkillOutcome extends SkillActivation {
  readonly ok: boolean;
  /** The text returned to the caller (the error message when not ok). */
  readonly output: string;
  readonly durationMs: number;
}

/**
 * Lifecycle hooks around every activation (hook points `skill_start` / `skill_end`).
 * `onSkillStart` runs after permission and may block the skill or rewrite its input; a throw
 * blocks (fail closed) and is reported as an `error` event. `onSkillEnd` observes the outcome;
 * a throw is reported and changes nothing.
 */
export interface SkillHooks {
  readonly onSkillStart?: (
    activation: SkillActivation,
  ) => Promise<SkillDecision | undefined> | SkillDecision | undefined;
  readonly onSkillEnd?: (outcome: SkillOutcome) => Promise<void> | void;
}
