/** The queued ops that are not turns: compact, rewind, override_context. */
import { describeError } from "../errors.ts";
import { PERMISSION_MODES, type PermissionMode } from "../permission/modes.ts";
import type { EventMsg, Op } from "../protocol/index.ts";
import { runEngineHook } from "./guards.ts";
import { type EngineCore, emit, releaseThread } from "./process.ts";

/** Compacts on demand (the `compact` op) with the last turn's prefix, so the summary call reads from cache. */
export async function compactNow(c: EngineCore, submissionId: string): Promise<void> {
  if (!c.context) {
    emit(c, submissionId, undefined, {
      type: "op_rejected",
      op: "compact",
      code: "compaction_unavailable",
      message: "context management is off for this engine",
    });
    return;
  }
  await c.context.compact(
    {
      threadId: c.log.threadId,
      system: c.lastPrefix?.system ?? c.system,
      tools: (c.lastPrefix?.tools ?? c.tools).specs,
      log: c.log,
      model: c.model,
      signal: new AbortController().signal,
      hooks: { run: (point, payload) => runEngineHook(c, point, payload, { submissionId }) },
      emit: (msg) => emit(c, submissionId, undefined, msg),
    },
    "manual",
    true,
  );
  await c.log.flush();
}

export async function rewind(c: EngineCore, submissionId: string, turns: number): Promise<void> {
  const available = c.log.rewindableTurns;
  if (turns > available) {
    emit(c, submissionId, undefined, {
      type: "op_rejected",
      op: "rewind",
      code: "rewind_too_far",
      message: `cannot rewind ${turns} turn(s): ${available} can be rewound`,
    });
    return;
  }
  c.log.rollback(turns);
  try {
    await c.log.flush();
  } catch (err) {
    // The rollback line stays queued and is retried at the next flush; until then a crash
    // would bring the rewound turns back.
    emit(c, submissionId, undefined, {
      type: "error",
      error: {
        code: "store_error",
        message: `the rewind could not be saved yet: ${describeError(err)}`,
        source: "store",
      },
    });
  }
  emit(c, submissionId, undefined, { type: "thread_rewound", turns, remainingTurns: c.log.turnCount });
}

export async function overrideContext(
  c: EngineCore,
  submissionId: string,
  op: Extract<Op, { type: "override_context" }>,
) {
  if (op.model !== undefined && op.model !== c.model.id) {
    if (!c.resolveModel) {
      emit(c, submissionId, undefined, {
        type: "op_rejected",
        op: op.type,
        code: "unknown_model",
        message: `cannot switch to ${op.model}: this engine has no model resolver`,
      });
      return;
    }
    try {
      const previous = c.model;
      c.model = await c.resolveModel(op.model);
      if (c.model !== previous) releaseThread(c, previous, submissionId);
    } catch (err) {
      emit(c, submissionId, undefined, {
        type: "op_rejected",
        op: op.type,
        code: "unknown_model",
        message: describeError(err),
      });
      return;
    }
  }
  if (op.permissionMode !== undefined) {
    const checked = checkMode(c, op.permissionMode);
    if (checked !== undefined) {
      emit(c, submissionId, undefined, {
        type: "op_rejected",
        op: op.type,
        code: "invalid_permission_mode",
        message: checked,
      });
      return;
    }
  }
  if (op.cwd !== undefined) c.settings = { ...c.settings, cwd: op.cwd };
  if (op.permissionMode !== undefined) c.permissionMode = op.permissionMode;
  const msg: EventMsg = { type: "context_overridden" };
  if (op.model !== undefined) msg.model = c.model.id;
  if (op.cwd !== undefined) msg.cwd = op.cwd;
  if (op.permissionMode !== undefined) msg.permissionMode = op.permissionMode;
  emit(c, submissionId, undefined, msg);
}

/** Why a requested permission mode cannot apply, or undefined when it can. */
function checkMode(c: EngineCore, mode: string): string | undefined {
  const policy = c.guards.policy;
  if (policy) {
    const checked = policy.checkMode(mode);
    return checked.ok ? undefined : checked.message;
  }
  return PERMISSION_MODES.includes(mode as PermissionMode) ? undefined : `unknown permission mode "${mode}"`;
}
