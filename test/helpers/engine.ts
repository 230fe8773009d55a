import { z } from "zod";
import { SimClient, type SimClientOptions } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine, type EngineOptions } from "../../src/loop/engine.ts";
import type { Event } from "../../src/protocol/index.ts";
import { defineTool, type Tool } from "../../src/tool/define.ts";

/** Opens an engine on a SimClient script and records every event it emits. */
export async function simEngine(
  script: SimClientOptions["script"],
  options: Partial<EngineOptions> = {},
): Promise<{ engine: AgentEngine; events: Event[]; sim: SimClient }> {
  const events: Event[] = [];
  const sim = new SimClient({ script });
  const engine = await AgentEngine.open({
    model: sim,
    cwd: "/tmp",
    ...options,
    listeners: [...(options.listeners ?? []), (ev) => events.push(ev)],
  });
  return { engine, events, sim };
}

/** Resolves with the first event (from now) that matches. */
export function nextEvent(engine: AgentEngine, match: (ev: Event) => boolean): Promise<Event> {
  return new Promise((resolve) => {
    const off = engine.on((ev) => {
      if (match(ev)) {
        off();
        resolve(ev);
      }
    });
  });
}

/** Events of one submission, from a recorded list. */
export function ofSubmission(events: readonly Event[], id: string): Event[] {
  return events.filter((e) => e.submissionId === id);
}

/** A read-only tool that echoes its input `v`. */
export function echoTool(name = "echo", opts: { readOnly?: boolean } = { readOnly: true }): Tool {
  return defineTool({
    name,
    description: "Echoes v.",
    schema: z.object({ v: z.string() }),
    ...opts,
    execute: ({ v }) => `echo:${v}`,
  });
}

/** A tool that never finishes and ignores its abort signal (the worst case for interrupts). */
export function hangingTool(name = "hang"): Tool {
  return defineTool({
    name,
    description: "Never returns.",
    schema: z.object({}),
    execute: () => new Promise(() => {}),
  });
}
