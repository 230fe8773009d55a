import { describeError } from "../errors.ts";
import { auditHook } from "../hooks/audit.ts";
import type { HookOptions } from "../hooks/options.ts";
import { HookRunner } from "../hooks/runner.ts";
import { hooksFromSettings } from "../hooks/settings.ts";
import { withToolHooks } from "../hooks/tool-hooks.ts";
import type { HookDefinition, HookFailure, HookOutcome, HookPayloads, HookPoint } from "../hooks/types.ts";
import { NO_OUTCOME } from "../hooks/types.ts";
import type { CanUseTool } from "../permission/approval.ts";
import { CallNotes, type GateHost, permissionGate } from "../permission/gate.ts";
import { isPermissionMode, type PermissionMode } from "../permission/modes.ts";
import type { PermissionOptions } from "../permission/options.ts";
import { codeLayer, PermissionPolicy } from "../permission/policy.ts";
import { type DiscoveredSettings, discoverSettings, untrustedNotice } from "../permission/settings.ts";
import { type EventMsg, newId } from "../protocol/index.ts";
import type { Redactor } from "../redact/types.ts";
import type { Tool } from "../tool/define.ts";
import { isOutputManaged, markOutputManaged } from "../tool/output-limit.ts";
import type { GateDecision, ToolBatchEnv, ToolGate } from "../tool/scheduler.ts";
import type { EngineTurn } from "./engine-turn.ts";
import { type EngineCore, emit } from "./process.ts";
import type { Pending } from "./requests.ts";
import type { ResumedRequest } from "./resume.ts";

/**
 * The engine's guards: its permission policy, its hooks and how approvals are answered.
 * Built once per engine from `EngineOptions.permissions` and `EngineOptions.hooks`.
 */
export interface EngineGuards {
  readonly policy: PermissionPolicy | undefined;
  readonly hooks: HookRunner | undefined;
  readonly canUseTool: CanUseTool | undefined;
  readonly approvalTimeoutMs: number;
  readonly interactive: boolean;
  readonly notes: CallNotes;
  /** Problems worth a `warning` event at open (e.g. a refused bypass mode). */
  readonly warnings: readonly string[];
}

/** The hooks of one turn, bound to its ids, signal and error reporting. */
export interface TurnHooks {
  run<P extends HookPoint>(
    point: P,
    payload: HookPayloads[P],
    matchOn?: readonly string[],
  ): Promise<HookOutcome>;
}

/** The engine options the guards are built from. */
interface GuardOptions {
  readonly permissions?: PermissionOptions | undefined;
  readonly hooks?: HookOptions | undefined;
  /** Overrides `permissions.interactive`, for approvals and ask_user alike. */
  readonly interactive?: boolean | undefined;
}

/**
 * Builds the guards. Reads settings files only when asked (`permissions.settings`,
 * `hooks.fromSettings`). Throws TaifengError `invalid_config` for bad files, rules or hooks.
 */
export function buildGuards(
  options: GuardOptions,
  cwd: string,
  redactor?: Redactor,
): EngineGuards | Promise<EngineGuards> {
  const perms = options.permissions;
  const wantSettings =
    (perms?.settings !== undefined && perms.settings !== false) || options.hooks?.fromSettings === true;
  if (wantSettings && !perms?.policy) {
    return discoverSettings({ cwd, ...(typeof perms?.settings === "object" ? perms.settings : {}) }).then(
      (found) => assembleGuards(options, cwd, found, redactor),
    );
  }
  return assembleGuards(options, cwd, undefined, redactor);
}

function assembleGuards(
  options: GuardOptions,
  cwd: string,
  found: DiscoveredSettings | undefined,
  redactor: Redactor | undefined,
): EngineGuards {
  const perms = options.permissions;
  const hookOptions = options.hooks;
  const notice = found ? untrustedNotice(found) : undefined;
  let policy = perms?.policy?.forSession();
  if (perms && !policy) {
    const useFiles = perms.settings !== undefined && perms.settings !== false;
    const layers = useFiles && found ? [...found.layers] : [];
    if (perms.rules) layers.push(codeLayer(perms.rules));
    policy = new PermissionPolicy({
      layers,
      projectRoot: found?.projectRoot ?? cwd,
      home: found?.home ?? process.env.HOME ?? cwd,
      mode: perms.mode,
      commandCheck: perms.commandCheck,
    });
  }
  const defs: HookDefinition[] = [...(hookOptions?.hooks ?? [])];
  // An untrusted project's hooks are already gone from its layers (see applyProjectTrust).
  if (hookOptions?.fromSettings && found && !found.layers.some((l) => l.disableAllHooks === true)) {
    for (const layer of found.layers)
      defs.push(...hooksFromSettings(layer.hooks, layer.path ?? layer.source));
  }
  if (hookOptions?.auditPath)
    defs.push(...auditHook({ path: hookOptions.auditPath, redactor: redactor ?? false }));
  const hooks =
    defs.length > 0
      ? new HookRunner(defs, {
          ...(hookOptions?.defaultTimeoutMs !== undefined
            ? { defaultTimeoutMs: hookOptions.defaultTimeoutMs }
            : {}),
          ...(hookOptions?.envPassthrough ? { envPassthrough: hookOptions.envPassthrough } : {}),
          projectDir: policy?.projectRoot ?? found?.projectRoot ?? cwd,
          ...(hookOptions?.observer ? { observer: hookOptions.observer } : {}),
        })
      : undefined;
  return {
    policy,
    hooks,
    canUseTool: perms?.canUseTool,
    approvalTimeoutMs: perms?.approvalTimeoutMs ?? 0,
    interactive: options.interactive ?? perms?.interactive ?? true,
    notes: new CallNotes(),
    warnings: [...(policy?.warnings ?? []), ...(notice !== undefined ? [notice] : [])],
  };
}

/** True when tools must be wrapped for post_tool hooks (and pre_tool context). */
export function wrapsTools(guards: EngineGuards): boolean {
  const runner = guards.hooks;
  return runner !== undefined && (runner.has("post_tool") || runner.has("pre_tool"));
}

/** Wraps tools for post_tool hooks (and pre_tool context) when such hooks exist. */
export function guardTools(tools: readonly Tool[], guards: EngineGuards, core: () => EngineCore): Tool[] {
  const runner = guards.hooks;
  if (!runner || !wrapsTools(guards)) return [...tools];
  const host = {
    runner,
    takeContext: (callId: string) => guards.notes.takeContext(callId),
    takePermission: (callId: string) => guards.notes.takePermission(callId),
    permissionMode: () => modeOf(core()),
    report: (turnId: string, failure: HookFailure) => {
      const c = core();
      reportHook(c, c.current?.turnId === turnId ? c.current.submissionId : undefined, turnId, failure);
    },
  };
  // A tool that manages its own output size keeps that mark through the hook wrapper.
  return tools.map((tool) => {
    const hooked = withToolHooks(tool, host);
    return isOutputManaged(tool) ? markOutputManaged(hooked) : hooked;
  });
}

/** The session's permission mode: an override, else the policy's default. */
export function modeOf(c: EngineCore): PermissionMode | undefined {
  const override = c.permissionMode;
  if (override !== undefined && isPermissionMode(override)) return override;
  return c.guards.policy?.defaultMode;
}

/**
 * Binds the guards to one turn: sets its permission gate, its hooks and how its tools ask
 * the user. Closures are made only for what the engine has configured.
 */
export function bindGuards(c: EngineCore, turn: EngineTurn): void {
  const g = c.guards;
  const { threadId, turnId, submissionId, signal } = turn;
  const report =
    g.hooks || g.policy || g.canUseTool
      ? (failure: HookFailure) => reportHook(c, submissionId, turnId, failure)
      : undefined;
  if (report && (g.policy || g.canUseTool || g.hooks?.has("pre_tool") || g.hooks?.has("post_tool"))) {
    const host: GateHost = {
      policy: g.policy,
      hooks: g.hooks,
      canUseTool: g.canUseTool,
      requests: c.requests,
      approvalTimeoutMs: g.approvalTimeoutMs,
      interactive: g.interactive,
      mode: () =>
        c.permissionMode !== undefined && isPermissionMode(c.permissionMode) ? c.permissionMode : undefined,
      cwd: () => c.settings.cwd,
      takeResumedRequest: (callId) => takeResumed(c, callId, "approval"),
      durable: () => turn.durable(),
      notes: g.notes,
    };
    const scope = {
      threadId,
      turnId,
      emit: turn.emit,
      emitDurable: (msg: EventMsg, beforePublish?: () => void) => turn.emitDurable(msg, beforePublish),
      report,
    };
    turn.gate = chainGates(permissionGate(host, scope), c.gate);
  }
  const runner = g.hooks;
  if (runner && report) {
    turn.hooks = {
      run: (point, payload, matchOn) =>
        runner.run(
          { point, threadId, turnId, cwd: c.settings.cwd, permissionMode: modeOf(c), ...payload } as never,
          { signal, report, ...(matchOn ? { matchOn } : {}) },
        ),
    };
  }
  if (g.interactive) turn.askUser = asker(c, turn);
  turn.park = parker(c, turn);
}

function parker(c: EngineCore, turn: EngineTurn): NonNullable<ToolBatchEnv["park"]> {
  return (request) => park(c, turn, request);
}

/**
 * Backs a tool's `park`: waits as a pending request (kind `park`, which no op can answer)
 * recorded as a `user_input_requested` with `awaiting`, until `wake` resolves.
 */
async function park<T>(
  c: EngineCore,
  turn: EngineTurn,
  {
    callId,
    reason,
    signal,
    wake,
  }: Parameters<NonNullable<ToolBatchEnv["park"]>>[0] & {
    wake: (signal: AbortSignal) => Promise<T>;
  },
): Promise<T> {
  const requestId = takeResumed(c, callId, "user_input") ?? newId("wait");
  if (signal.aborted) throw new Error("the wait was cancelled before it began");
  type Woken = { ok: true; value: T } | { ok: false; error: unknown };
  let waiting: Promise<Pending<Woken>> | undefined;
  // Recorded before anyone sees it (a restart resumes the turn and runs the call again); the
  // wait starts right before it is published.
  const published = turn.emitDurable(
    { type: "user_input_requested", requestId, callId, question: reason, awaiting: "agents" },
    () => {
      waiting = c.requests.wait<Woken>("park", requestId, signal);
    },
  );
  if (published) {
    try {
      await published;
    } catch (err) {
      throw new Error(`the wait could not be recorded, so it did not begin: ${describeError(err)}`);
    }
  }
  const stop = new AbortController();
  wake(stop.signal).then(
    (value) => c.requests.resolve("park", requestId, { ok: true, value }),
    (error: unknown) => c.requests.resolve("park", requestId, { ok: false, error }),
  );
  const result = await (waiting as Promise<Pending<Woken>>);
  stop.abort();
  if (result.kind !== "answered") throw new Error("the wait was cancelled");
  if (!result.value.ok) throw result.value.error;
  return result.value.value;
}

// Its own function so that the closure holds only the engine and the turn.
function asker(c: EngineCore, turn: EngineTurn): NonNullable<ToolBatchEnv["askUser"]> {
  return (request) => askUser(c, turn, request);
}

/** Backs a tool's `askUser`: asks through a `user_input_requested` event and waits for the answer. */
async function askUser(
  c: EngineCore,
  turn: EngineTurn,
  { callId, question, options, signal }: Parameters<NonNullable<ToolBatchEnv["askUser"]>>[0],
): Promise<string> {
  const requestId = takeResumed(c, callId, "user_input") ?? newId("ask");
  if (signal.aborted) throw new Error("the question was cancelled before it was asked");
  let waiting: Promise<Pending<{ answer: string }>> | undefined;
  // The question is on disk before anyone sees it, so a restart asks it again rather than
  // losing it; the wait starts right before it is published, so no early answer is missed.
  const published = turn.emitDurable(
    {
      type: "user_input_requested",
      requestId,
      callId,
      question,
      ...(options && options.length > 0 ? { options: [...options] } : {}),
    },
    () => {
      waiting = c.requests.wait<{ answer: string }>("user_input", requestId, signal);
    },
  );
  if (published) {
    try {
      await published;
    } catch (err) {
      throw new Error(`the question could not be recorded, so it was not asked: ${describeError(err)}`);
    }
  }
  const result = await (waiting as Promise<Pending<{ answer: string }>>);
  if (result.kind === "answered") return result.value.answer;
  throw new Error("the question was cancelled before it was answered");
}

/** Runs an engine-level hook point (session and turn boundaries), with its own signal. */
export async function runEngineHook<P extends HookPoint>(
  c: EngineCore,
  point: P,
  payload: HookPayloads[P],
  ids: { submissionId?: string | undefined; turnId?: string | undefined } = {},
): Promise<HookOutcome> {
  const runner = c.guards.hooks;
  if (!runner?.has(point)) return NO_OUTCOME;
  return runner.run(
    {
      point,
      threadId: c.log.threadId,
      turnId: ids.turnId,
      cwd: c.settings.cwd,
      permissionMode: modeOf(c),
      ...payload,
    } as never,
    { signal: new AbortController().signal, report: (f) => reportHook(c, ids.submissionId, ids.turnId, f) },
  );
}

function takeResumed(c: EngineCore, callId: string, kind: ResumedRequest["kind"]): string | undefined {
  const req = c.resumeRequests?.get(callId);
  if (req?.kind !== kind) return undefined;
  c.resumeRequests?.delete(callId);
  return req.requestId;
}

function reportHook(
  c: EngineCore,
  submissionId: string | undefined,
  turnId: string | undefined,
  f: HookFailure,
) {
  const open = submissionId !== undefined && c.hub.isOpen(submissionId);
  emit(c, open ? submissionId : undefined, open ? turnId : undefined, {
    type: "error",
    error: { code: f.code, message: `${f.point}: ${f.message}`, source: "hook" },
  });
}

/** Runs the permission gate, then the host's own gate on whatever input survived. */
function chainGates(first: ToolGate, second: ToolGate | undefined): ToolGate {
  if (!second) return first;
  return async (call) => {
    const a = await first(call);
    if (!a.allow) return a;
    const input = a.input !== undefined ? a.input : call.input;
    const b: GateDecision = await second({ ...call, input });
    if (!b.allow) return b;
    return b.input !== undefined
      ? b
      : a.input !== undefined
        ? { allow: true, input: a.input }
        : { allow: true };
  };
}
