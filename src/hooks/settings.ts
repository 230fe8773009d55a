import { z } from "zod";
import { TaifengError } from "../errors.ts";
import { CLAUDE_EVENT_NAMES, type CommandHook, HOOK_POINTS, type HookPoint } from "./types.ts";

const HookEntry = z.strictObject({
  type: z.literal("command"),
  command: z.string().min(1),
  /** Seconds, as in Claude Code. */
  timeout: z.number().positive().optional(),
});

const MatcherGroup = z.strictObject({
  matcher: z.string().optional(),
  hooks: z.array(HookEntry),
});

/** The `hooks` object of a settings file: event name → matcher groups. */
export const HooksSettings = z.record(z.string(), z.array(MatcherGroup));
export type HooksSettings = z.infer<typeof HooksSettings>;

const POINT_BY_NAME = new Map<string, HookPoint>();
for (const point of HOOK_POINTS) {
  POINT_BY_NAME.set(point, point);
  POINT_BY_NAME.set(CLAUDE_EVENT_NAMES[point], point);
}

/**
 * Reads shell hooks from a settings file's `hooks` object, written as in Claude Code
 * (`{ "PreToolUse": [{ "matcher": "Bash", "hooks": [{ "type": "command", "command": "...",
 * "timeout": 30 }] }] }`). Event names may be Claude Code's or Taifeng's point names.
 * Throws TaifengError `invalid_config` naming `origin` and the bad entry.
 */
export function hooksFromSettings(raw: unknown, origin: string): CommandHook[] {
  if (raw === undefined || raw === null) return [];
  const parsed = HooksSettings.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TaifengError(
      "invalid_config",
      `${origin}: hooks.${issue?.path.map(String).join(".") ?? ""}: ${issue?.message ?? "invalid"}`,
    );
  }
  const out: CommandHook[] = [];
  for (const [name, groups] of Object.entries(parsed.data)) {
    const point = POINT_BY_NAME.get(name);
    if (!point) {
      throw new TaifengError(
        "invalid_config",
        `${origin}: hooks.${name} is not a hook point; use one of ${HOOK_POINTS.join(", ")} (or Claude Code's event names)`,
      );
    }
    for (const group of groups) {
      for (const entry of group.hooks) {
        const hook: { -readonly [K in keyof CommandHook]: CommandHook[K] } = {
          point,
          command: entry.command,
        };
        if (group.matcher !== undefined) hook.matcher = group.matcher;
        if (entry.timeout !== undefined) hook.timeoutMs = entry.timeout * 1000;
        out.push(hook);
      }
    }
  }
  return out;
}
