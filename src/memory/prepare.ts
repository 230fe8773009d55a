/** Project memory in the engine: in the stable prefix, re-read at turn boundaries when it changed. */
import type { PrepareTurn, PrepareTurnContext, TurnPrefix } from "../loop/prefix.ts";
import {
  discoverMemory,
  fingerprintOf,
  loadProjectMemory,
  type MemorySnapshot,
  type ProjectMemoryOptions,
} from "./load.ts";

/** Options of `projectMemory`: where to look (see ProjectMemoryOptions) minus `cwd`, which is the turn's. */
export type ProjectMemorySettings = Omit<ProjectMemoryOptions, "cwd"> & {
  /** Overrides the turn's working directory. */
  readonly cwd?: string;
  /** Seconds between searches of the folders below `cwd` (files above are checked every turn). Default 10. */
  readonly rescanSeconds?: number;
  readonly now?: () => number;
};

/** The project memory contributor of an engine (or a pool: it keeps one snapshot per cwd). */
export interface ProjectMemory {
  /** Wraps `inner` (e.g. the skills' PrepareTurn): memory goes right after the host's system prompt. */
  prepareTurn(inner?: PrepareTurn): PrepareTurn;
  /** The snapshot last used for `cwd`, if any. */
  current(cwd: string): MemorySnapshot | undefined;
}

/**
 * Project memory for engines. At the start of each turn the candidate files are checked (a
 * stat per file: cheap); when one appeared, disappeared or changed, the memory is re-read and
 * the turn gets a `warning` `project_memory_changed` naming the files and the cache impact
 * (the system prompt changed, so the provider's cached prefix is lost once). When nothing
 * changed the prefix is byte-identical to the previous turn's.
 */
export function projectMemory(settings: ProjectMemorySettings = {}): ProjectMemory {
  const now = settings.now ?? Date.now;
  const rescanMs = (settings.rescanSeconds ?? 10) * 1000;
  const byCwd = new Map<
    string,
    { snapshot: MemorySnapshot; scannedAt: number; subtree: readonly string[] }
  >();

  function refresh(turn: PrepareTurnContext): MemorySnapshot {
    const cwd = settings.cwd ?? turn.cwd;
    const options: ProjectMemoryOptions = { ...settings, cwd };
    const known = byCwd.get(cwd);
    const rescan = !known || now() - known.scannedAt >= rescanMs;
    // Between rescans, subtree files found last time are re-checked; new ones wait for the next scan.
    let found = discoverMemory({ ...options, subtrees: rescan ? options.subtrees : false });
    if (!rescan && known && known.subtree.length > 0) {
      const previous = discoverMemory({ ...options, home: false, subtrees: options.subtrees }).filter(
        (f) => f.scope === "subtree" && known.subtree.includes(f.path),
      );
      found = [...found, ...previous];
    }
    const fp = fingerprintOf(found);
    if (known && known.snapshot.fingerprint === fp) {
      if (rescan) known.scannedAt = now();
      return known.snapshot;
    }
    const snapshot = loadProjectMemory(options, found);
    byCwd.set(cwd, {
      snapshot,
      scannedAt: rescan ? now() : (known?.scannedAt ?? now()),
      subtree: found.filter((f) => f.scope === "subtree").map((f) => f.path),
    });
    if (known) {
      const before = new Set(known.snapshot.sources.map((s) => s.path));
      const after = new Set(snapshot.sources.map((s) => s.path));
      const changed = [...new Set([...before, ...after])].sort();
      turn.emit({
        type: "warning",
        code: "project_memory_changed",
        message: `project memory changed (${changed.join(", ")}): the system prompt differs from the last turn's, so the provider's cached prefix is rebuilt once (${known.snapshot.text.length} -> ${snapshot.text.length} characters)`,
      });
    }
    return snapshot;
  }

  return {
    current: (cwd) => byCwd.get(cwd)?.snapshot,
    prepareTurn(inner) {
      return (turn) => {
        const memory = refresh(turn);
        const system = memory.text === "" ? turn.system : `${turn.system}${memory.text}`;
        if (!inner) return { system, tools: turn.tools } satisfies TurnPrefix;
        return inner({ ...turn, system });
      };
    },
  };
}
