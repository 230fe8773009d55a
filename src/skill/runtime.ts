import type { ThreadStore } from "../conversation/store.ts";
import { TaifengError } from "../errors.ts";
import { toTools } from "../interop/foreign.ts";
import type { EngineOptions } from "../loop/engine.ts";
import type { EntrySkillResolver } from "../loop/pool.ts";
import type { PrepareTurn, PrepareTurnContext, TurnPrefix } from "../loop/prefix.ts";
import { findProjectRoot, homeOf } from "../permission/settings.ts";
import { type ProjectTrustOption, resolveTrust } from "../permission/trust.ts";
import type { Redactor } from "../redact/types.ts";
import { ToolSet } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import { type Catalog, type CatalogOptions, renderCatalog } from "./catalog.ts";
import { skillSystem } from "./dispatch.ts";
import { SkillRegistry, type SkillRegistryOptions, type SkillSnapshot } from "./registry.ts";
import { DEFAULT_TOOL_ALIASES, grantTools, type SkillCore, type SkillScope } from "./scope.ts";
import { type ScriptRunner, subprocessRunner } from "./scripts.ts";
import type { AuthorizeSkill, SkillHooks } from "./seams.ts";
import { SKILL_TOOL_NAMES, skillTools } from "./tools.ts";
import { isUsable, type Skill } from "./types.ts";

/** Options for `SkillRuntime.open`: where skills are, limits, and the seams. */
export interface SkillRuntimeOptions extends SkillRegistryOptions {
  /** Use this registry instead of opening one (the runtime then does not close it). */
  readonly registry?: SkillRegistry;
  /** Watch the roots (fs.watch) instead of checking them at the start of each turn. Default false. */
  readonly watch?: boolean;
  /** Token budget of the catalog in the prompt prefix. Default 2,000. */
  readonly catalogBudgetTokens?: number;
  readonly estimateTokens?: CatalogOptions["estimateTokens"];
  /** Most nested activations (a skill calling a skill...). Default 4. */
  readonly maxDepth?: number;
  /** Model calls per child turn. Default 25. */
  readonly childMaxSteps?: number;
  /** The `Skill(...)` permission seam; default: allow. */
  readonly authorizeSkill?: AuthorizeSkill;
  /** skill_start / skill_end hooks. */
  readonly hooks?: SkillHooks;
  /** Runs skill scripts; default `subprocessRunner()`. Route through a sandbox here. */
  readonly runScript?: ScriptRunner;
  /** Time limit per script run. Default 120,000 ms. */
  readonly scriptTimeoutMs?: number;
  /** Output kept per stream of a script. Default 64 KiB. */
  readonly maxScriptOutputBytes?: number;
  /** Most bytes read_skill returns from one bundled file. Default 256 KiB. */
  readonly maxReadBytes?: number;
  /** Thread store for child turns (to keep them); default: a private in-memory store each. */
  readonly store?: ThreadStore;
  /** Extra `allowed-tools` aliases (lower-case name -> tool names), merged over the defaults. */
  readonly toolAliases?: Readonly<Record<string, readonly string[]>>;
  /**
   * Whether scripts of the project's own skill folders (`.taifeng/skills`, `.agents/skills`)
   * may run: `true`, `false`, `"remembered"` (default: when the user trusted the project
   * folder, see docs/guides/permissions.md), or a function asked when a script first needs
   * it. Their instructions load either way.
   */
  readonly projectTrust?: ProjectTrustOption | (() => boolean | Promise<boolean>);
  /** The redactor of child turns (see EngineOptions.redactor); default: the engine default. */
  readonly redactor?: Redactor | false;
  /** The gate of a skill's child turn; default: the caller's gate unchanged. */
  readonly gateForSkill?: (skill: Skill, parent: ToolGate | undefined) => ToolGate | undefined;
}

/**
 * Skills wired into engines. Adds the catalog to each turn's stable prefix and the skill
 * tools to its tool set through `prepareTurn`, picks up changes on disk between turns (a
 * running turn keeps the snapshot it started with), and turns an entry skill into a whole
 * agent (`entryOptions`, the pool's `entrySkills`).
 *
 * ```ts
 * const skills = await SkillRuntime.open({ dirs: ["./skills"] });
 * const engine = await AgentEngine.open({ model, tools, ...skills.engineOptions() });
 * const pool = await EnginePool.create({ model, tools, ...skills.poolOptions() });
 * ```
 */
export class SkillRuntime {
  readonly registry: SkillRegistry;
  private readonly core: SkillCore;
  private readonly ownsRegistry: boolean;
  private readonly catalogs = new WeakMap<SkillSnapshot, Catalog>();

  private constructor(
    registry: SkillRegistry,
    core: Omit<SkillCore, "catalog">,
    owns: boolean,
    catalog: CatalogOptions,
  ) {
    this.registry = registry;
    this.ownsRegistry = owns;
    this.core = { ...core, catalog: (snapshot) => this.catalogOf(snapshot, catalog) };
  }

  /** Loads the skills (and starts watching when `watch`). Bad skills never throw: see `registry.current`. */
  static async open(options: SkillRuntimeOptions = {}): Promise<SkillRuntime> {
    const registry = options.registry ?? (await SkillRegistry.open(options));
    if (options.watch) await registry.watch();
    const aliases = new Map<string, readonly string[]>(Object.entries(DEFAULT_TOOL_ALIASES));
    for (const [k, v] of Object.entries(options.toolAliases ?? {})) aliases.set(k.toLowerCase(), v);
    const core: Omit<SkillCore, "catalog"> = {
      maxDepth: options.maxDepth ?? 4,
      childMaxSteps: options.childMaxSteps ?? 25,
      scriptTimeoutMs: options.scriptTimeoutMs ?? 120_000,
      maxScriptOutputBytes: options.maxScriptOutputBytes ?? 64 * 1024,
      maxReadBytes: options.maxReadBytes ?? 256 * 1024,
      runScript: options.runScript ?? subprocessRunner(),
      authorizeSkill: options.authorizeSkill,
      hooks: options.hooks,
      store: options.store,
      aliases,
      gateForSkill: options.gateForSkill ?? ((_skill, parent) => parent),
      redactor: options.redactor,
      projectTrusted: memo(() => projectTrusted(options)),
    };
    const catalog: CatalogOptions = {
      ...(options.catalogBudgetTokens !== undefined ? { budgetTokens: options.catalogBudgetTokens } : {}),
      ...(options.estimateTokens ? { estimateTokens: options.estimateTokens } : {}),
      tools: { read: SKILL_TOOL_NAMES.read, call: SKILL_TOOL_NAMES.call },
    };
    return new SkillRuntime(registry, core, options.registry === undefined, catalog);
  }

  /** The catalog of a snapshot (default: the current one), as the model sees it. */
  catalog(snapshot: SkillSnapshot = this.registry.current): Catalog {
    return this.core.catalog(snapshot);
  }

  private catalogOf(snapshot: SkillSnapshot, options: CatalogOptions): Catalog {
    let catalog = this.catalogs.get(snapshot);
    if (!catalog) {
      catalog = renderCatalog(
        snapshot.usable.filter((s) => !s.manifest.disableModelInvocation),
        options,
      );
      this.catalogs.set(snapshot, catalog);
    }
    return catalog;
  }

  /**
   * The engine's PrepareTurn: refreshes the registry, then returns the engine's system
   * prompt followed by the catalog, and its tools plus read_skill / call_skill (and
   * run_skill_script when a skill ships scripts). With no usable skill, the prefix is
   * returned unchanged.
   */
  readonly prepareTurn: PrepareTurn = (turn) => this.prefix(turn, [], undefined);

  private async prefix(
    turn: PrepareTurnContext,
    chain: readonly string[],
    allowedSkills: ReadonlySet<string> | undefined,
  ): Promise<TurnPrefix> {
    const snapshot = await this.registry.refresh();
    if (snapshot.usable.length === 0) return { system: turn.system, tools: turn.tools };
    const scope: SkillScope = {
      core: this.core,
      snapshot,
      chain,
      allowedSkills,
      model: turn.model,
      baseTools: turn.tools,
      gate: turn.gate,
      hooks: turn.hooks,
      resolveModel: turn.resolveModel,
      emit: turn.emit,
      root: undefined,
    };
    const catalog = this.core.catalog(snapshot).text;
    const system =
      catalog === "" ? turn.system : turn.system === "" ? catalog : `${turn.system.trimEnd()}\n\n${catalog}`;
    return { system, tools: turn.tools.with(skillTools(scope)) };
  }

  /**
   * The engine options of the agent an entry skill defines: its body as the system prompt,
   * `base.tools` narrowed by its `allowed-tools`, its `model` (resolved with
   * `base.resolveModel`) or `base.model`, and a prepareTurn that adds the catalog when the
   * skill tools are allowed (the entry skill counts as the first link of every chain, so it
   * cannot call itself). Throws TaifengError `unknown_skill` or `invalid_config`.
   */
  readonly entryOptions: EntrySkillResolver = async (name, base) => {
    const snapshot = await this.registry.refresh();
    const skill = snapshot.skills.get(name);
    if (!skill || !isUsable(skill)) {
      const why = skill ? `is not available: ${skill.ineligible[0] ?? "it is shadowed"}` : "does not exist";
      throw new TaifengError("unknown_skill", `entry skill "${name}" ${why}`);
    }
    const out: { -readonly [K in keyof EngineOptions]?: EngineOptions[K] } = {};
    if (skill.manifest.model !== undefined) {
      if (!base.resolveModel)
        throw new TaifengError(
          "invalid_config",
          `entry skill "${name}" names model "${skill.manifest.model}" but no resolveModel is configured`,
        );
      out.model = await base.resolveModel(skill.manifest.model);
    }
    const grant = grantTools(
      new ToolSet(toTools(base.tools ?? [])),
      skill.manifest.allowedTools,
      this.core.aliases,
    );
    out.tools = grant.tools;
    out.system = skillSystem(skill, "entry", "");
    // Set either way: without it a pool's default prepareTurn would add the skill tools back.
    out.prepareTurn = grant.skillTools
      ? (turn) => this.prefix(turn, [skill.name], grant.skills)
      : (turn) => ({ system: turn.system, tools: turn.tools });
    return out;
  };

  /** `{ prepareTurn }`, to spread into `AgentEngine.open` options. */
  engineOptions(): Pick<EngineOptions, "prepareTurn"> {
    return { prepareTurn: this.prepareTurn };
  }

  /** `{ prepareTurn, entrySkills }`, to spread into `EnginePool.create` options. */
  poolOptions(): { prepareTurn: PrepareTurn; entrySkills: EntrySkillResolver } {
    return { prepareTurn: this.prepareTurn, entrySkills: this.entryOptions };
  }

  /** Stops watching (when this runtime opened the registry). Engines keep working with the last snapshot. */
  close(): void {
    if (this.ownsRegistry) this.registry.close();
  }
}

/** Resolves the runtime's project trust option against the project root of its `cwd`. */
async function projectTrusted(options: SkillRuntimeOptions): Promise<boolean> {
  const option = options.projectTrust ?? "remembered";
  if (typeof option === "function") return option();
  if (option !== "remembered") return option;
  const home = homeOf(options.home !== undefined ? { home: options.home } : {});
  const root = await findProjectRoot(options.cwd ?? process.cwd(), home);
  return resolveTrust(option, root, home);
}

function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= make();
    return value;
  };
}
