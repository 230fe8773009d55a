import { z } from "zod";
import type { ResponseFormat } from "../llm/types.ts";
import { defineTool, type JsonSchema, type Tool } from "../tool/define.ts";

/** Name of the tool that ends a turn under tool-driven completion. */
export const TASK_FINISH = "task_finish";

/**
 * The `task_finish` tool: under `completion: "task_finish"` a turn ends only when the
 * model calls it; its `result` becomes the turn's final text. With an output schema, the
 * description tells the model that `result` is JSON matching it (the engine validates it).
 */
export function taskFinishTool(output?: ResponseFormat): Tool<{ result: string }> {
  const schemaNote = output
    ? ` \`result\` must be only a JSON value (no prose, no code fence) matching this JSON Schema (${output.name}): ${JSON.stringify(output.schema)}`
    : "";
  return defineTool({
    name: TASK_FINISH,
    description:
      "Call this when the task is completely done. `result` is your final answer to the user. " +
      `Do not call other tools in the same response.${schemaNote}`,
    schema: z.object({ result: z.string().describe("The final answer or summary of what was done.") }),
    readOnly: true,
    concurrencySafe: false,
    execute: () => "Task marked as finished.",
  });
}

/** A schema for the final answer: zod or JSON Schema. */
export interface OutputSpec {
  readonly name?: string;
  readonly schema: z.ZodType | JsonSchema;
}

/** A compiled output spec: the response format for providers and a validator. */
export interface CompiledOutput {
  readonly format: ResponseFormat;
  check(text: string): { ok: true; value: unknown } | { ok: false; message: string };
}

/** Compiles an output spec. Throws when the schema cannot be converted. */
export function compileOutput(spec: OutputSpec): CompiledOutput {
  const isZod = typeof spec.schema === "object" && "_zod" in spec.schema;
  const validator = isZod
    ? (spec.schema as z.ZodType)
    : z.fromJSONSchema(spec.schema as Parameters<typeof z.fromJSONSchema>[0]);
  const schema = { ...(isZod ? (z.toJSONSchema(validator) as JsonSchema) : (spec.schema as JsonSchema)) };
  delete schema.$schema;
  return {
    format: { type: "json_schema", name: spec.name ?? "output", schema, strict: false },
    check(text) {
      let value: unknown;
      try {
        value = JSON.parse(stripFences(text));
      } catch (err) {
        return { ok: false, message: `the answer is not valid JSON (${(err as Error).message})` };
      }
      const parsed = validator.safeParse(value);
      if (parsed.success) return { ok: true, value: parsed.data };
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
        .join("; ");
      return { ok: false, message: `the answer does not match the schema: ${issues}` };
    },
  };
}

function stripFences(text: string): string {
  const trimmed = text.trim();
  const fenced = /^```(?:json)?\s*\n([\s\S]*?)\n?```$/.exec(trimmed);
  return fenced ? (fenced[1] as string) : trimmed;
}
