/** The types a connection shares with its manager and tools. */
import type { Implementation, OAuthClientProvider, Tool as SdkTool } from "@modelcontextprotocol/client";
import type { ModelClient } from "../llm/types.ts";
import type { McpServerEntry } from "./config.ts";
import type { McpTransportKind } from "./transport.ts";

/** A server's state as `taifeng mcp ls` and `McpManager.status()` report it. */
export type McpServerState =
  | { readonly status: "idle" }
  | { readonly status: "connecting" }
  | {
      readonly status: "ready";
      readonly transport: McpTransportKind;
      readonly protocolVersion: string | undefined;
      readonly server: Implementation | undefined;
    }
  | { readonly status: "failed"; readonly error: string; readonly attempts: number; readonly retryAt: number }
  | { readonly status: "closed" };

/** A server could not be reached; the message is written for the model and the user. */
export class McpUnavailableError extends Error {
  override readonly name = "McpUnavailableError";
}

/** What a connection reports to its manager. */
export type ConnectionEvent =
  | { readonly type: "failed"; readonly server: string; readonly error: string; readonly attempts: number }
  | { readonly type: "tools_changed"; readonly server: string }
  | { readonly type: "recovered"; readonly server: string };

/** What every connection of a manager shares. */
export interface ConnectionEnv {
  readonly clientInfo: Implementation;
  /** The model sampling requests use (the engine's, when a turn is running). */
  readonly samplingModel: () => ModelClient | undefined;
  readonly onEvent: (event: ConnectionEvent) => void;
  readonly authProvider?: ((entry: McpServerEntry) => OAuthClientProvider | undefined) | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly fetch?: typeof fetch | undefined;
  /** How long connecting may take. Default 30,000 ms. */
  readonly connectTimeoutMs?: number | undefined;
}

/** A tool list with the fingerprint drift detection compares. */
export interface ToolListing {
  readonly tools: readonly SdkTool[];
  readonly fingerprint: string;
  /** When it was fetched (ms since the epoch) and how long the server says it stays fresh. */
  readonly at: number;
  readonly ttlMs: number | undefined;
}
