/** Handoffs: `transfer_to_<agent>` tools that move a conversation to another agent on the same thread. */
import { z } from "zod";
import { TaifengError } from "../errors.ts";
import type { AgentEngine } from "../loop/engine.ts";
import type { PrepareTurn } from "../loop/prefix.ts";
import type { ResponseItem } from "../protocol/index.ts";
import { defineTool, type Tool, ToolSet } from "../tool/define.ts";
import type { AgentDefinition } from "./types.ts";

/** What an input filter sees when control moves. */
export interface HandoffContext {
  readonly from: string;
  readonly to: string;
  /** The thread's history as the new agent will see it. */
  readonly items: readonly ResponseItem[];
  /** The `note` the transferring agent gave, if any. */
  readonly note: string | undefined;
}

/** Options of `handoffs`. */
export interface HandoffOptions {
  readonly agents: readonly AgentDefinition[];
  /** The agent in control at first. */
  readonly start: string;
  /** Tools the agents pick from (each definition's `tools` narrows them). */
  readonly tools?: readonly Tool[];
  /**
   * The message that opens the new agent's turn. Default: the note, or a line telling it to
   * continue the conversation above.
   */
  readonly inputFilter?: (ctx: HandoffContext) => string;
}

/** Handoff wiring for one engine: give `tools` and `prepareTurn` to `AgentEngine.open`. */
export interface Handoffs {
  /** Every agent's tools plus every transfer tool (the engine must know them all, for resume). */
  readonly tools: readonly Tool[];
  /** Gives each turn the active agent's instructions and only its own tools and transfers. */
  readonly prepareTurn: PrepareTurn;
  /** The agent in control. */
  active(): string;
  /** Takes a transfer requested during the last turn, if any. */
  takePending(): { to: string; note: string | undefined } | undefined;
  /** Makes `name` the agent in control. */
  activate(name: string): void;
  /** Restores the agent in control from a reopened thread's history (the last transfer). */
  restore(items: readonly ResponseItem[]): void;
  /** The opening message of the new agent's turn. */
  filter(ctx: HandoffContext): string;
}

const PREFIX = "transfer_to_";

/**
 * Builds handoffs between agents on one thread. A transfer takes effect at the next turn (a
 * turn's prefix is fixed): the transferring agent's turn ends, then `swarm` (or the host)
 * opens the next turn with the input filter's message, under the new agent's instructions.
 * Throws TaifengError `invalid_config` for an unknown start agent or duplicate names.
 */
export function handoffs(options: HandoffOptions): Handoffs {
  const byName = new Map(options.agents.map((a) => [a.name, a]));
  if (byName.size !== options.agents.length)
    throw new TaifengError("invalid_config", "two handoff agents share a name");
  if (!byName.has(options.start))
    throw new TaifengError("invalid_config", `unknown start agent "${options.start}"`);
  let active = options.start;
  let pending: { to: string; note: string | undefined } | undefined;
  const pool = options.tools ?? [];
  const transfers = options.agents.map((target) =>
    defineTool({
      name: `${PREFIX}${target.name}`,
      description: `Hands the conversation to ${target.name}: ${target.description}`,
      schema: z.object({ note: z.string().optional().describe("What the next agent needs to know.") }),
      readOnly: true,
      execute: ({ note }) => {
        pending = { to: target.name, note };
        return `Transferred to ${target.name}. End your turn now with a short line; ${target.name} continues.`;
      },
    }),
  );
  const own = (def: AgentDefinition) => (def.tools ? pool.filter((t) => def.tools?.includes(t.name)) : pool);
  return {
    tools: [...pool, ...transfers],
    prepareTurn: (turn) => {
      const def = byName.get(active) as AgentDefinition;
      const tools = [...own(def), ...transfers.filter((t) => t.name !== `${PREFIX}${def.name}`)]
        .map((t) => turn.tools.get(t.name))
        .filter((t): t is Tool => t !== undefined);
      return { system: `You are ${def.name}. ${def.instructions}`, tools: new ToolSet(tools) };
    },
    active: () => active,
    takePending: () => {
      const p = pending;
      pending = undefined;
      return p;
    },
    activate: (name) => {
      if (!byName.has(name)) throw new TaifengError("invalid_config", `unknown agent "${name}"`);
      active = name;
    },
    restore: (items) => {
      for (const item of items)
        if (
          item.type === "function_call" &&
          item.name.startsWith(PREFIX) &&
          byName.has(item.name.slice(PREFIX.length))
        )
          active = item.name.slice(PREFIX.length);
    },
    filter: (ctx) =>
      options.inputFilter?.(ctx) ??
      (ctx.note
        ? `[handoff from ${ctx.from}] ${ctx.note}`
        : `[handoff from ${ctx.from}] Continue the conversation above.`),
  };
}

/**
 * Runs a conversation through handoffs: submits `input`, and while the last turn transferred
 * control, opens the next agent's turn with the filtered input. Stops after `maxHandoffs`
 * transfers. Resolves with the final text and the agents that held control, in order.
 */
export async function swarm(
  engine: AgentEngine,
  h: Handoffs,
  input: string,
  options: { maxHandoffs?: number } = {},
): Promise<{ text: string; agents: string[]; ok: boolean }> {
  const agents = [h.active()];
  let text = input;
  for (let hop = 0; ; hop++) {
    const events = await engine.submitAndWait(text);
    const end = events.at(-1)?.msg;
    const next = h.takePending();
    if (!next || hop >= (options.maxHandoffs ?? 5) || end?.type !== "turn_completed")
      return {
        text: end?.type === "turn_completed" ? end.text : "",
        agents,
        ok: end?.type === "turn_completed",
      };
    const from = h.active();
    h.activate(next.to);
    agents.push(next.to);
    text = h.filter({ from, to: next.to, items: engine.items, note: next.note });
  }
}
