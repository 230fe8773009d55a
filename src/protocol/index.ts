/**
 * The protocol: wire and disk types only. Nothing here has behaviour beyond constructors
 * and tiny pure helpers, and nothing here imports from the rest of `src/`.
 */
export * from "./events.ts";
export * from "./ids.ts";
export * from "./items.ts";
export * from "./ops.ts";
export * from "./rollout.ts";
export * from "./usage.ts";
