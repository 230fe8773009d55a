import { z } from "zod";
import { suggestKey, unknownKeys } from "../config-keys.ts";
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
  const problems = unknownHookKeys(raw);
  if (problems.length > 0) throw new TaifengError("invalid_config", `${origin}: ${problems.join("; ")}`);
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
      const suggestion = suggestKey(name, [...POINT_BY_NAME.keys()]);
      throw new TaifengError(
        "invalid_config",
        suggestion !== undefined
          ? `${origin}: hooks.${name} is not a hook point; did you mean "${suggestion}"?`
          : `${origin}: hooks.${name} is not a hook point; use one of ${HOOK_POINTS.join(", ")} (or Claude Code's event names)`,
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

/** Unknown keys in matcher groups and hook entries, with the key each probably meant. */
function unknownHookKeys(raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [];
  const problems: string[] = [];
  for (const [name, groups] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(groups)) continue;
    groups.forEach((group, g) => {
      if (typeof group !== "object" || group === null || Array.isArray(group)) return;
      const where = `hooks.${name}[${g}]`;
      problems.push(...unknownKeys(group as Record<string, unknown>, ["matcher", "hooks"], where));
      const entries = (group as { hooks?: unknown }).hooks;
      if (!Array.isArray(entries)) return;
      entries.forEach((entry, e) => {
        if (typeof entry === "object" && entry !== null && !Array.isArray(entry))
          problems.push(
            ...unknownKeys(
              entry as Record<string, unknown>,
              ["type", "command", "timeout"],
              `${where}.hooks[${e}]`,
            ),
          );
      });
    });
  }
  return problems;
}
