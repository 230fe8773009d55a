import { type FSWatcher, watch } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { describeError } from "../errors.ts";
import {
  type LoadSkillsOptions,
  loadSkills,
  type SkillDiscoveryOptions,
  type SkillLoad,
  type SkillRoot,
  skillRoots,
} from "./load.ts";
import { isUsable, type Skill } from "./types.ts";

/** One immutable view of the skills on disk. A running turn keeps the snapshot it started with. */
export interface SkillSnapshot extends SkillLoad {
  /** Increases by one with every reload that changed something. */
  readonly version: number;
  /** Usable skills (eligible, not shadowed), sorted by name. */
  readonly usable: readonly Skill[];
}

/** Options for a SkillRegistry. */
export interface SkillRegistryOptions extends SkillDiscoveryOptions, LoadSkillsOptions {
  /** Search exactly these roots instead of `skillRoots(options)`. */
  readonly roots?: readonly SkillRoot[];
  /** Quiet time after the last file event before a watched registry reloads. Default 100 ms. */
  readonly debounceMs?: number;
  /** Called when watching fails and the registry falls back to checking between turns. */
  readonly onWatchError?: (err: unknown) => void;
  /**
   * Not watching: the least time between two disk checks by `refresh()` (checks are shared by
   * every engine using the registry). Default 1,000 ms; 0 checks at every call.
   */
  readonly checkIntervalMs?: number;
}

/**
 * The live set of skills. `current` is an immutable snapshot; `reload` builds a new one and
 * swaps it in atomically, so whoever holds the old snapshot (a running turn) is unaffected.
 * Two ways to notice changes on disk: `watch()` (fs.watch, debounced, reloads in the
 * background) or `refresh()` at the start of each turn (compares a stat fingerprint of the
 * roots and reloads when it changed). Reloads are serialized.
 */
export class SkillRegistry {
  readonly roots: readonly SkillRoot[];
  private readonly options: SkillRegistryOptions;
  private snapshot: SkillSnapshot;
  private print: string;
  private watchers: FSWatcher[] = [];
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SkillSnapshot> | undefined;
  private checking: Promise<SkillSnapshot> | undefined;
  private checkedAt = 0;
  private again = false;
  private readonly listeners = new Set<(snapshot: SkillSnapshot) => void>();

  private constructor(
    options: SkillRegistryOptions,
    roots: readonly SkillRoot[],
    load: SkillLoad,
    print: string,
  ) {
    this.options = options;
    this.roots = roots;
    this.snapshot = toSnapshot(load, 1);
    this.print = print;
    this.checkedAt = performance.now();
  }

  /** Loads the skills once. Never throws for bad skills: they are reported in the snapshot. */
  static async open(options: SkillRegistryOptions = {}): Promise<SkillRegistry> {
    const roots = options.roots ?? skillRoots(options);
    const print = await fingerprint(roots);
    return new SkillRegistry(options, roots, await loadSkills(roots, options), print);
  }

  /** The latest snapshot. */
  get current(): SkillSnapshot {
    return this.snapshot;
  }

  /** True while file watchers are active. */
  get watching(): boolean {
    return this.watchers.length > 0;
  }

  /** Calls `listener` after every reload that produced a new snapshot. Returns an unsubscribe function. */
  onChange(listener: (snapshot: SkillSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reloads from disk now (after any reload in progress) and returns the new current snapshot. */
  reload(): Promise<SkillSnapshot> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.reloadLoop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async reloadLoop(): Promise<SkillSnapshot> {
    do {
      this.again = false;
      this.dirty = false;
      const print = await fingerprint(this.roots);
      const load = await loadSkills(this.roots, this.options);
      this.print = print;
      if (!sameLoad(load, this.snapshot)) {
        this.snapshot = toSnapshot(load, this.snapshot.version + 1);
        for (const listener of this.listeners) listener(this.snapshot);
      }
    } while (this.again);
    return this.snapshot;
  }

  /**
   * Between turns: brings the snapshot up to date and returns it. Watching: reloads only
   * if a file event arrived (waiting for a reload already running). Not watching: at most
   * once per `checkIntervalMs`, compares the roots' fingerprint (see `fingerprint`) and
   * reloads on change; concurrent callers share one check.
   */
  async refresh(): Promise<SkillSnapshot> {
    if (this.running) await this.running;
    if (this.watching) return this.dirty ? this.reload() : this.snapshot;
    if (this.checking) return this.checking;
    if (performance.now() - this.checkedAt < (this.options.checkIntervalMs ?? 1000)) return this.snapshot;
    this.checking = (async () => {
      try {
        return (await fingerprint(this.roots)) !== this.print ? await this.reload() : this.snapshot;
      } finally {
        this.checkedAt = performance.now();
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  /**
   * Starts watching the roots that exist (recursive fs.watch); a change reloads after
   * `debounceMs` of quiet. Roots created later are noticed only by `refresh()` after
   * `unwatch()`. On a watcher error the registry stops watching (and calls `onWatchError`).
   */
  async watch(): Promise<void> {
    if (this.watching) return;
    for (const root of this.roots) {
      try {
        await stat(root.path);
      } catch {
        continue;
      }
      try {
        const w = watch(root.path, { recursive: true, persistent: false }, () => this.changed());
        w.on("error", (err) => this.fail(err));
        this.watchers.push(w);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
  }

  /** Stops watching; later changes are noticed by `refresh()`. */
  unwatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops watching and drops listeners. The current snapshot stays readable. */
  close(): void {
    this.unwatch();
    this.listeners.clear();
  }

  private changed(): void {
    this.dirty = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reload().catch((err: unknown) => this.fail(err));
    }, this.options.debounceMs ?? 100);
    this.timer.unref();
  }

  private fail(err: unknown): void {
    this.unwatch();
    this.options.onWatchError?.(new Error(`skill watcher stopped: ${describeError(err)}`));
  }
}

function toSnapshot(load: SkillLoad, version: number): SkillSnapshot {
  const usable = [...load.skills.values()].filter(isUsable).sort((a, b) => (a.name < b.name ? -1 : 1));
  return { ...load, version, usable };
}

/** Same skills with the same content: a reload that changes nothing keeps the version (and the prefix). */
function sameLoad(load: SkillLoad, snapshot: SkillSnapshot): boolean {
  return JSON.stringify(summary(load)) === JSON.stringify(summary(snapshot));
}

function summary(load: SkillLoad): unknown {
  return {
    reports: load.reports.map((r) => [
      r.dir,
      r.problems,
      r.skill && [r.skill.manifest, r.skill.body, r.skill.files, r.skill.ineligible, r.skill.shadowedBy],
    ]),
    problems: load.problems,
  };
}

const PRINT_DEPTH = 6;

/**
 * A cheap summary of the skill trees to detect edits without watching: the modification time
 * of every directory (it changes when an entry is added, removed or renamed, which includes an
 * editor's save-by-rename) and the size and times of every SKILL.md (in-place edits).
 * In-place edits of other bundled files are not noticed, and need not be: they are read from
 * disk when used; only their listed sizes could be stale.
 */
export async function fingerprint(roots: readonly SkillRoot[]): Promise<string> {
  const parts: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      const [info, list] = await Promise.all([stat(dir), readdir(dir, { withFileTypes: true })]);
      parts.push(`${dir}/:${info.mtimeMs}`);
      entries = list;
    } catch {
      parts.push(`${dir}/:-`);
      return;
    }
    await Promise.all(
      entries.map(async (entry) => {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (depth < PRINT_DEPTH && entry.name !== ".git" && entry.name !== "node_modules")
            await walk(path, depth + 1);
        } else if (entry.name === "SKILL.md") {
          const info = await stat(path).catch(() => undefined);
          parts.push(info ? `${path}:${info.size}:${info.mtimeMs}:${info.ctimeMs}` : `${path}:?`);
        }
      }),
    );
  };
  await Promise.all(roots.map((root) => walk(root.path, 0)));
  return parts.sort().join("\n");
}
