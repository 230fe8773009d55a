/**
 * Shared state for agents, in scopes: `agent` (one agent's own), `tree` (every agent of a tree,
 * the session) and `pool` (every tree given the same SharedState). Updates are atomic: each is
 * one synchronous read-modify-write, so concurrent agents never lose an update.
 */
import { TaifengError } from "../errors.ts";

/** Where a value lives. */
export type StateScope = "agent" | "tree" | "pool";

/** An atomic change: replace, add a number, or append to a list. */
export type StateOp =
  | { readonly op: "set"; readonly value: unknown }
  | { readonly op: "increment"; readonly value: number }
  | { readonly op: "append"; readonly value: unknown };

/**
 * Key-value state per scope. `tree` and `agent` values are persisted by the tree (every
 * `update_state` call is in its agent's transcript and is replayed on restore); `pool` values
 * live in this object only.
 */
export class SharedState {
  private readonly scopes = new Map<string, Map<string, unknown>>();

  private map(scope: StateScope, owner: string): Map<string, unknown> {
    const id = scope === "agent" ? `agent:${owner}` : scope;
    let m = this.scopes.get(id);
    if (!m) {
      m = new Map();
      this.scopes.set(id, m);
    }
    return m;
  }

  /** The value (a copy), or undefined. `owner` is the agent id for the `agent` scope. */
  get(scope: StateScope, owner: string, key: string): unknown {
    const v = this.map(scope, owner).get(key);
    return v === undefined ? undefined : structuredClone(v);
  }

  /**
   * Applies one change atomically and returns the new value. Throws TaifengError
   * `invalid_input` when `increment` meets a non-number or `append` a non-list.
   */
  update(scope: StateScope, owner: string, key: string, change: StateOp): unknown {
    const m = this.map(scope, owner);
    const old = m.get(key);
    let next: unknown;
    if (change.op === "set") next = structuredClone(change.value);
    else if (change.op === "increment") {
      if (old !== undefined && typeof old !== "number")
        throw new TaifengError("invalid_argument", `state ${scope}.${key} holds ${typeof old}, not a number`);
      next = ((old as number | undefined) ?? 0) + change.value;
    } else {
      if (old !== undefined && !Array.isArray(old))
        throw new TaifengError("invalid_argument", `state ${scope}.${key} holds ${typeof old}, not a list`);
      next = [...((old as unknown[] | undefined) ?? []), structuredClone(change.value)];
    }
    m.set(key, next);
    return structuredClone(next);
  }

  /** Every key of a scope (a copy). */
  entries(scope: StateScope, owner: string): Record<string, unknown> {
    return structuredClone(Object.fromEntries(this.map(scope, owner)));
  }
}
