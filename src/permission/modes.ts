import { z } from "zod";

/**
 * Permission modes: the baseline a policy applies when no rule decides a call.
 *
 * - `default`: reads inside the working directories run; everything with side effects asks.
 * - `acceptEdits`: like default, and file edits inside the working directories run without asking.
 * - `plan`: nothing with side effects runs (no edits, no side-effecting commands); reads still run.
 * - `dontAsk`: whatever would ask is denied instead (for unattended runs).
 * - `bypassPermissions`: everything runs except what an explicit deny or ask rule (or the
 *   command check) stops.
 */
export const PermissionMode = z.enum(["default", "acceptEdits", "plan", "dontAsk", "bypassPermissions"]);
export type PermissionMode = z.infer<typeof PermissionMode>;

/** Every mode, in documentation order. */
export const PERMISSION_MODES: readonly PermissionMode[] = PermissionMode.options;

/** True when `value` names a permission mode. */
export function isPermissionMode(value: unknown): value is PermissionMode {
  return PermissionMode.safeParse(value).success;
}

/** The three outcomes of a permission check. */
export const PermissionVerdict = z.enum(["allow", "deny", "ask"]);
export type PermissionVerdict = z.infer<typeof PermissionVerdict>;

const SEVERITY: Record<PermissionVerdict, number> = { allow: 0, ask: 1, deny: 2 };

/** The stricter of two verdicts (deny > ask > allow). */
export function stricter(a: PermissionVerdict, b: PermissionVerdict): PermissionVerdict {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}
