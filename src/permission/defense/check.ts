import type { CommandCheckContext } from "../evaluate.ts";
import { assessCommand, assessCommandSync } from "./assess.ts";
import type { DefenseVerdict } from "./types.ts";

/** The shape a permission layer's command check returns (the verdict, what, why). */
export interface DefenseCheckResult {
  readonly verdict: DefenseVerdict;
  /** Category of the most severe finding. */
  readonly category?: string;
  /** Every finding as `category: reason [part]`, most severe first. */
  readonly reason?: string;
}

/**
 * Command defense as a permission-layer command check: `deny` and `ask` carry the top
 * category and every reason, `allow` carries nothing (the rules still decide). Package
 * install warnings are not part of the verdict.
 */
export async function defenseCommandCheck(
  command: string,
  context?: CommandCheckContext,
): Promise<DefenseCheckResult> {
  const assessment = context?.analysis
    ? assessCommandSync(command, context, context.analysis)
    : await assessCommand(command, context);
  const top = assessment.findings[0];
  if (!top) return { verdict: "allow" };
  return {
    verdict: assessment.verdict,
    category: top.category,
    reason: assessment.findings.map((f) => `${f.category}: ${f.reason} [${f.part}]`).join("; "),
  };
}
