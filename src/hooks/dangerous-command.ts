import { homedir } from "node:os";
import { defenseCommandCheck } from "../permission/defense/check.ts";
import type { CommandCheck } from "../permission/evaluate.ts";
import { subjectsOf } from "../permission/identity.ts";
import type { FunctionHook } from "./types.ts";

/**
 * The built-in dangerous-command hook: a pre_tool hook on Bash calls that runs command
 * defense (or another `check`) and denies or asks accordingly. Use it where the permission
 * policy is not in play (no `permissions`), or to put the check under a hook's timeout and
 * error reporting; with a policy, `permissions.commandCheck` is the direct seam.
 */
export function dangerousCommandHook(options: { readonly check?: CommandCheck } = {}): FunctionHook {
  const check = options.check ?? defenseCommandCheck;
  return {
    point: "pre_tool",
    name: "dangerous-command",
    matcher: "Bash",
    run: async (event) => {
      if (event.point !== "pre_tool") return undefined;
      const command = subjectsOf({ rule: "Bash", field: "command" }, event.input).join("\n");
      if (command === "") return undefined;
      const found = await check(command, { cwd: event.cwd, home: homedir() });
      if (found.verdict === "allow") return undefined;
      const what = found.category ? `${found.category}: ` : "";
      return { decision: found.verdict, reason: `${what}${found.reason ?? "flagged by command defense"}` };
    },
  };
}
