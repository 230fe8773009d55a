/** The repair policy for tool arguments that fail validation: counted, bounded, said to the model. */
import type { Tool } from "../tool/define.ts";

/** Options of `withRepairPolicy`. */
export interface RepairPolicyOptions {
  /** Failed validations in a row a tool may get before the model is told to stop guessing. Default 1. */
  readonly maxRepairs?: number;
}

/** Counts of one wrapped tool set, for tests and dashboards. */
export interface RepairStats {
  /** Failed validations in a row, per tool (reset by a valid call). */
  readonly pending: Readonly<Record<string, number>>;
  readonly repaired: number;
  readonly exhausted: number;
}

/**
 * The tools with an explicit repair policy. The scheduler already answers arguments that fail
 * validation with an `invalid_input` output carrying the errors; this policy numbers those
 * rounds per tool: the first `maxRepairs` failures in a row say `repair n of N` (correct and call
 * again), the next ones say the repair budget is spent and the model should stop calling the
 * tool with guessed arguments and ask for what is missing. A valid call resets the count (and
 * counts as a repair when it followed a failure). Use one wrapped set per engine.
 */
export function withRepairPolicy(
  tools: Iterable<Tool>,
  options: RepairPolicyOptions = {},
): Tool[] & { stats(): RepairStats } {
  const max = Math.max(0, options.maxRepairs ?? 1);
  const failures = new Map<string, number>();
  let repaired = 0;
  let exhausted = 0;
  const wrapped = [...tools].map(
    (tool): Tool => ({
      ...tool,
      parse(input) {
        const r = tool.parse(input);
        if (r.ok) {
          if (failures.has(tool.name)) repaired++;
          failures.delete(tool.name);
          return r;
        }
        const n = (failures.get(tool.name) ?? 0) + 1;
        failures.set(tool.name, n);
        if (n <= max)
          return {
            ok: false,
            message: `${r.message}\n(Repair ${n} of ${max}: correct the arguments and call ${tool.name} again.)`,
          };
        exhausted++;
        return {
          ok: false,
          message: `${r.message}\nThe arguments of ${tool.name} failed validation ${n} times in a row; the repair budget (${max}) is spent. Do not call ${tool.name} again with guessed arguments: say what is missing or ask the user.`,
        };
      },
    }),
  );
  return Object.assign(wrapped, {
    stats: (): RepairStats => ({ pending: Object.fromEntries(failures), repaired, exhausted }),
  });
}
