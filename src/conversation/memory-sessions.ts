import type { SessionBindings } from "./store.ts";

/**
 * Session bindings held in memory: the MemoryThreadStore's, and an EnginePool's over a store
 * that keeps none. They last as long as the object (the process); see SessionBindings.
 */
export class MemorySessionBindings implements SessionBindings {
  private readonly bindings = new Map<string, { threadId: string; usedAt: number }>();

  async threadOf(sessionId: string, ttlMs?: number): Promise<string | undefined> {
    const binding = this.bindings.get(sessionId);
    if (!binding) return undefined;
    const now = Date.now();
    if (ttlMs !== undefined && now - binding.usedAt > ttlMs) {
      this.bindings.delete(sessionId);
      return undefined;
    }
    binding.usedAt = now;
    return binding.threadId;
  }

  async bind(sessionId: string, threadId: string): Promise<void> {
    this.bindings.set(sessionId, { threadId, usedAt: Date.now() });
  }

  async unbind(sessionId: string): Promise<void> {
    this.bindings.delete(sessionId);
  }

  /** Drops every binding to a deleted thread. */
  dropThread(threadId: string): void {
    for (const [sessionId, binding] of this.bindings)
      if (binding.threadId === threadId) this.bindings.delete(sessionId);
  }
}
