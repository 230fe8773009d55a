import { readdirSync } from "node:fs";
import type { AgentTree } from "../agents/tree.ts";
import type { AgentDefinition, TreeEvent } from "../agents/types.ts";
import type { ThreadStore } from "../conversation/store.ts";
import { toTools } from "../interop/foreign.ts";
import type { AgentEngine, EngineOptions } from "../loop/engine.ts";
import type { EventListener } from "../loop/event-hub.ts";
import type { Op } from "../protocol/index.ts";
import { cliAgentDirs } from "./agents-command.ts";
import type { CliIO } from "./io.ts";

/** Permission modes a definition from an untrusted project may set: they only narrow. */
const NARROWING = new Set(["default", "plan"]);

/**
 * The agent definitions `taifeng run` offers to `spawn_agent`: the user's and the project's
 * `.taifeng/agents/*.md`. Broken files are reported on stderr and skipped. An untrusted
 * project's definition may not widen permissions: a mode other than `default` or `plan` is
 * dropped (and said).
 */
export async function runAgentDefinitions(io: CliIO, trusted: boolean): Promise<AgentDefinition[]> {
  const { scanAgentDefinitions } = await import("../agents/definitions.ts");
  const scan = await scanAgentDefinitions(cliAgentDirs(io));
  for (const e of scan.errors)
    io.stderr.write(
      `taifeng: agent definition skipped: ${e.message}${e.field ? ` (field ${e.field})` : ""}\n`,
    );
  return scan.agents.map(({ definition, source }) => {
    const mode = definition.permissionMode;
    if (source !== "project" || trusted || mode === undefined || NARROWING.has(mode)) return definition;
    io.stderr.write(
      `taifeng: agent "${definition.name}" asks for permission mode ${mode}, ignored: the project is not trusted (--trust)\n`,
    );
    const { permissionMode: _dropped, ...rest } = definition;
    return rest;
  });
}

/** True when a user or project agent folder holds a `*.md` file (cheap: no file is read). */
export function hasAgentFiles(io: CliIO): boolean {
  return cliAgentDirs(io).some(({ path }) => {
    try {
      return readdirSync(path).some((n) => n.endsWith(".md"));
    } catch {
      return false;
    }
  });
}

/** A parked call (a parent waiting on its children) is not a question for a person. */
function forPeople(listener: EventListener): EventListener {
  return (ev, ctx) => {
    if (ev.msg.type === "user_input_requested" && ev.msg.awaiting !== undefined) return;
    listener(ev, ctx);
  };
}

/** What `taifeng run --agents` opens: the root engine of a supervised tree. */
export interface RunTree {
  readonly engine: AgentEngine;
  readonly tree: AgentTree;
  /** Routes an answer to whichever agent asked (false when no agent has that request). */
  answer(op: Op): boolean;
  /** The final tree, for stderr, when any child ran. */
  summary(): string;
}

/**
 * Opens `options` as the root of an agent tree. Root-only listeners (`rootListeners`: the
 * renderer) see the root's events; `everyAgent` listeners (answers, sinks, the --non-interactive
 * watch) see every agent's, parked calls excluded; child agents appear as an indented tree on
 * stderr as they spawn, wait for a person and finish (`--json`: as JSON lines tagged with the
 * agent on stdout).
 */
export async function openRunTree(
  options: EngineOptions,
  parts: {
    readonly io: CliIO;
    readonly json: boolean;
    readonly store: ThreadStore;
    readonly agents: readonly AgentDefinition[];
    readonly rootListeners: readonly EventListener[];
    readonly everyAgent: readonly EventListener[];
    readonly instrument?: (options: EngineOptions) => EngineOptions;
  },
): Promise<RunTree> {
  const {
    model,
    tools,
    system,
    threadId,
    resolveModel,
    store: _s,
    listeners: _l,
    title: _t,
    ...shared
  } = options;
  const view = treeView(parts.io, parts.json);
  const { AgentTree } = await import("../agents/tree.ts");
  const tree = await AgentTree.open({
    model,
    store: parts.store,
    agents: parts.agents,
    tools: toTools(tools ?? []),
    ...(system !== undefined ? { system } : {}),
    ...(threadId !== undefined ? { threadId } : {}),
    ...(resolveModel ? { resolveModel } : {}),
    engine: { ...shared, listeners: parts.everyAgent.map(forPeople) },
    listener: view.listener,
    configure: ({ id }, o) => {
      const withRoot =
        id === "root" ? { ...o, listeners: [...parts.rootListeners, ...(o.listeners ?? [])] } : o;
      return parts.instrument ? parts.instrument(withRoot) : withRoot;
    },
  });
  return {
    engine: tree.root,
    tree,
    answer: (op) => {
      if (op.type === "approval")
        return tree.answer(op.requestId, {
          decision: op.decision,
          ...(op.reason ? { reason: op.reason } : {}),
        });
      if (op.type === "user_input_answer") return tree.answer(op.requestId, { answer: op.answer });
      return false;
    },
    summary: () => {
      const list = tree.list();
      if (list.length <= 1) return "";
      const lines = list.map(
        (a) => `${"  ".repeat(a.depth + 1)}${a.id}  ${a.status}${a.error ? ` (${a.error})` : ""}`,
      );
      return `agents:\n${lines.join("\n")}\n`;
    },
  };
}

/** The live tree on stderr (or the children's events on stdout under --json). */
function treeView(io: CliIO, json: boolean): { listener: (e: TreeEvent) => void } {
  const say = (depth: number, text: string) => io.stderr.write(`${"  ".repeat(depth)}${text}\n`);
  const depthOf = (path: string) => path.split("/").length - 1;
  return {
    listener: ({ agent, event }: TreeEvent) => {
      const msg = event.msg;
      if (json) {
        if (agent !== "root") io.stdout.write(`${JSON.stringify({ agent, ...event })}\n`);
        return;
      }
      switch (msg.type) {
        case "child_spawned":
          say(
            depthOf(msg.path ?? msg.name),
            `↳ ${msg.path ?? msg.name} ${msg.queued ? "queued" : "spawned"}`,
          );
          return;
        case "turn_started":
          if (agent !== "root") say(depthOf(agent), `• ${agent} running`);
          return;
        case "permission_requested":
          if (agent !== "root") say(depthOf(agent), `? ${agent} waiting for approval: ${msg.tool}`);
          return;
        case "user_input_requested":
          if (agent !== "root" && msg.awaiting === undefined)
            say(depthOf(agent), `? ${agent} waiting for an answer: ${oneLine(msg.question, 80)}`);
          else if (msg.awaiting !== undefined) say(depthOf(agent), `… ${agent} ${msg.question}`);
          return;
        case "child_completed": {
          const mark = msg.status === "completed" ? "✓" : "✗";
          const detail = msg.status === "completed" ? oneLine(msg.text ?? "", 80) : (msg.error ?? "");
          const path = msg.path ?? msg.name;
          say(depthOf(path), `${mark} ${path} ${msg.status}${detail ? `: ${detail}` : ""}`);
          return;
        }
        default:
          return;
      }
    },
  };
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
