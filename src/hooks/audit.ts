import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { toolOutputText } from "../protocol/index.ts";
import { defaultRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";
import type { FunctionHook, HookEvent } from "./types.ts";

/** Options for the audit hook. */
export interface AuditHookOptions {
  /** The JSONL file; created (with its directory) on first write, then appended to. */
  readonly path: string;
  /** Characters of each output kept in the log. Default 2000. */
  readonly maxOutputChars?: number;
  /**
   * Masks secrets in every line (inputs, outputs, reasons). Default: `defaultRedactor()`;
   * an engine passes its own. `false` writes values as they are.
   */
  readonly redactor?: Redactor | false;
  /** Called when a line cannot be written (the call itself is never affected). */
  readonly onError?: (err: unknown) => void;
}

/** One line of the audit log. */
export interface AuditRecord {
  readonly ts: string;
  readonly phase: "pre" | "post";
  readonly threadId: string;
  readonly turnId: string | undefined;
  readonly callId: string;
  readonly tool: string;
  readonly rule: string;
  readonly input: unknown;
  readonly status?: string;
  readonly isError?: boolean;
  readonly output?: string;
  readonly outputChars?: number;
  readonly permission?: unknown;
}

/**
 * The built-in audit hook: writes every tool call as JSON lines — a `pre` line when the call
 * is requested and a `post` line once it ran or was denied (with its status, the permission
 * decision and the start of its output). Lines of one file never interleave; secrets are
 * masked (see `redactor`). Returns the two hook definitions to register.
 */
export function auditHook(options: AuditHookOptions): FunctionHook[] {
  const max = options.maxOutputChars ?? 2000;
  const redactor = options.redactor === false ? undefined : (options.redactor ?? defaultRedactor());
  let chain: Promise<void> = Promise.resolve();
  let ready: Promise<unknown> | undefined;
  const write = (record: AuditRecord) => {
    ready ??= mkdir(dirname(options.path), { recursive: true });
    // Redacted before the output is cut, so a secret is never half-kept at the cut.
    const line = `${JSON.stringify(redactor ? redactor.redactValue(record) : record)}\n`;
    chain = chain
      .then(() => ready)
      .then(() => appendFile(options.path, line, "utf8"))
      .catch((err: unknown) => options.onError?.(err));
    return chain;
  };
  const base = (event: HookEvent<"pre_tool"> | HookEvent<"post_tool">) => ({
    ts: new Date().toISOString(),
    threadId: event.threadId,
    turnId: event.turnId,
    callId: event.callId,
    tool: event.tool,
    rule: event.rule,
    input: event.input,
  });
  return [
    {
      point: "pre_tool",
      name: "audit",
      run: async (event) => {
        await write({ ...base(event as HookEvent<"pre_tool">), phase: "pre" });
      },
    },
    {
      point: "post_tool",
      name: "audit",
      run: async (event) => {
        const e = event as HookEvent<"post_tool">;
        const full = toolOutputText(e.output);
        const text = redactor ? redactor.redact(full) : full;
        await write({
          ...base(e),
          phase: "post",
          status: e.status,
          isError: e.isError,
          output: text.length > max ? `${text.slice(0, max)}…` : text,
          outputChars: text.length,
          ...(e.permission ? { permission: e.permission } : {}),
        });
      },
    },
  ];
}
