/**
 * One SDK client for one connection attempt: the capabilities Taifeng announces, the era
 * negotiation mode, and the handlers for the server's own requests (elicitation, sampling),
 * routed to the tool call that caused them (see routing.ts).
 */
import { Client, type Implementation } from "@modelcontextprotocol/client";
import { describeError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import type { McpServerEntry } from "./config.ts";
import { elicit, sample } from "./interact.ts";
import type { CallRouter } from "./routing.ts";
import type { StderrLog } from "./stdio.ts";

/** What `newClient` needs from its connection. */
export interface ClientSetup {
  readonly name: string;
  readonly entry: McpServerEntry;
  readonly clientInfo: Implementation;
  readonly router: CallRouter;
  readonly stderr: StderrLog;
  readonly samplingModel: () => ModelClient | undefined;
  readonly onToolsChanged: () => void;
  /** A `notifications/tasks/status` from the server (the SDK has no typed handler for it). */
  readonly onTaskStatus: (params: unknown) => void;
}

/** A client that negotiates with `mode` and answers the server's requests through the routed call. */
export function newClient(setup: ClientSetup, mode: "auto" | "legacy" | { pin: string }): Client {
  const client = new Client(setup.clientInfo, {
    capabilities: { elicitation: { form: {}, url: {} }, sampling: {} },
    versionNegotiation: { mode },
    listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: setup.onToolsChanged } },
  });
  const unmatched = (what: string) =>
    setup.stderr.append(
      `[client] ${what} could not be matched to one tool call (${setup.router.inFlight} in flight): declined\n`,
    );
  client.setRequestHandler("elicitation/create", async (request) => {
    const scope = setup.router.scopeFor();
    if (!scope) unmatched("an elicitation request");
    scope?.pause();
    try {
      return await elicit(setup.name, request.params, scope?.ctx.askUser);
    } finally {
      scope?.resume();
    }
  });
  client.setRequestHandler("sampling/createMessage", async (request) => {
    const scope = setup.router.scopeFor();
    if (!scope) unmatched("a sampling request");
    scope?.pause();
    try {
      return await sample(setup.name, request.params, {
        policy: setup.entry.config.sampling ?? "ask",
        model: setup.samplingModel(),
        ask: scope?.ctx.askUser,
        signal: scope?.ctx.signal ?? new AbortController().signal,
        threadId: scope?.ctx.threadId,
      });
    } finally {
      scope?.resume();
    }
  });
  client.fallbackNotificationHandler = async (notification) => {
    if (notification.method === "notifications/tasks/status") setup.onTaskStatus(notification.params);
  };
  client.onerror = (err) => setup.stderr.append(`[client] ${describeError(err)}\n`);
  return client;
}
