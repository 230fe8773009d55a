/** What a tool batch needs from its turn, and the permission seam it consults. */
import type { EventMsg } from "../protocol/index.ts";
import type { ArtifactStore } from "./artifacts.ts";
import type { Tool, ToolSet } from "./define.ts";
import type { Stragglers } from "./stragglers.ts";

/**
 * A decision on whether a prepared call may run: the permission seam. `input` replaces the
 * parsed input when a gate edits it (e.g. an approval with edited input).
 */
export type GateDecision =
  | { readonly allow: true; readonly input?: unknown }
  | { readonly allow: false; readonly message: string };

/** Decides whether a call may run. May wait (for a human); must honour `signal`. */
export type ToolGate = (call: {
  tool: Tool;
  callId: string;
  input: unknown;
  signal: AbortSignal;
}) => Promise<GateDecision>;

/** What a batch needs from the turn that owns it. */
export interface ToolBatchEnv {
  readonly tools: ToolSet;
  /** The turn's signal: aborting it settles every open call with a synthetic output. */
  readonly signal: AbortSignal;
  readonly threadId: string;
  readonly turnId: string;
  readonly cwd: string;
  /** Emits tool events on the engine bus. */
  readonly emit: (msg: EventMsg) => void;
  /** Most concurrency-safe calls running at once. */
  readonly maxParallel: number;
  /** Timeout for tools that set none; 0 = none. */
  readonly defaultTimeoutMs: number;
  readonly gate?: ToolGate | undefined;
  /** Start read-only, concurrency-safe calls before the model stream ends. */
  readonly startDuringStream: boolean;
  /** Handed to tools as `ToolContext.artifacts`; also where capped outputs are kept. */
  readonly artifacts?: ArtifactStore | undefined;
  /**
   * Cap on the text of every output of a tool that does not manage its output size (see
   * `markOutputManaged`); undefined = no cap.
   */
  readonly maxOutputChars?: number | undefined;
  /** The engine's calls that were answered while still running (shared by its batches). */
  readonly stragglers?: Stragglers | undefined;
  /** Backs `ToolContext.park`; absent = tools cannot park. */
  readonly park?: ParkFn | undefined;
  /** Backs `ToolContext.askUser`; absent = tools cannot ask. */
  readonly askUser?:
    | ((request: {
        callId: string;
        question: string;
        options?: readonly string[] | undefined;
        signal: AbortSignal;
      }) => Promise<string>)
    | undefined;
}

/** Parks one call until `wake` resolves (see `ToolContext.park`). */
export type ParkFn = <T>(request: {
  readonly callId: string;
  readonly reason: string;
  readonly signal: AbortSignal;
  readonly wake: (signal: AbortSignal) => Promise<T>;
}) => Promise<T>;
