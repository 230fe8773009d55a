import { isAbsolute, join, resolve } from "node:path";
import { TaifengError } from "../errors.ts";
import { type CommandCheck, evaluateCall, type PermissionDecision } from "./evaluate.ts";
import { callFacets } from "./facets.ts";
import type { ToolFacts } from "./identity.ts";
import { isPermissionMode, type PermissionMode } from "./modes.ts";
import { realish, resolveBases } from "./paths.ts";
import { type PermissionRule, parseRule, parseRuleLists, RULE_SOURCES, type RuleLists } from "./rules.ts";
import {
  type DiscoverOptions,
  discoverSettings,
  homeOf,
  type SettingsLayer,
  untrustedNotice,
} from "./settings.ts";

/** How a policy is built. */
export interface PolicyOptions {
  /** Settings layers (from `discoverSettings`), in any order; precedence comes from `source`. */
  readonly layers: readonly SettingsLayer[];
  readonly projectRoot: string;
  readonly home: string;
  /** The mode from the command line or host; settings' `defaultMode` applies when absent. */
  readonly mode?: PermissionMode | undefined;
  /** Runs on every Bash command before the rules (command defense). */
  readonly commandCheck?: CommandCheck | undefined;
  /** Messages to pass on with the policy's own warnings (e.g. an untrusted project's notice). */
  readonly notices?: readonly string[] | undefined;
}

/** A call to judge. */
export interface PermissionQuery {
  readonly tool: ToolFacts;
  readonly input: unknown;
  /** The working directory the call runs in (relative paths resolve against it). */
  readonly cwd: string;
  /** The mode to judge under (a session override); the policy's default mode otherwise. */
  readonly mode?: PermissionMode | undefined;
}

/**
 * A permission policy: layered rules (managed > cli > local > project > user, plus session
 * rules), a default mode and an optional command check. `evaluate` is what the engine's
 * gate and `taifeng permissions check` both call. Holds mutable session state (rules added
 * by "always allow"), so there is one policy per engine.
 */
export class PermissionPolicy {
  readonly projectRoot: string;
  readonly home: string;
  /** The mode calls are judged under unless a query overrides it. */
  readonly defaultMode: PermissionMode;
  /** True when a settings layer forbids bypassPermissions mode. */
  readonly bypassDisabled: boolean;
  /** Problems found while building (e.g. a refused bypass mode), for a warning. */
  readonly warnings: readonly string[];
  private readonly rules: PermissionRule[];
  private readonly additionalDirectories: string[];
  private readonly commandCheck: CommandCheck | undefined;
  private readonly options: PolicyOptions;

  constructor(options: PolicyOptions) {
    this.options = options;
    this.projectRoot = resolve(options.projectRoot);
    this.home = resolve(options.home);
    this.commandCheck = options.commandCheck;
    const layers = [...options.layers].sort(
      (a, b) => RULE_SOURCES.indexOf(a.source) - RULE_SOURCES.indexOf(b.source),
    );
    const errors: string[] = [];
    this.rules = [];
    for (const layer of layers) {
      const parsed = parseRuleLists(layer.permissions as RuleLists, layer.source, layer.path ?? layer.source);
      this.rules.push(...parsed.rules);
      errors.push(...parsed.errors.map((e) => `${layer.path ?? `${layer.source} rules`}: ${e}`));
    }
    if (errors.length > 0)
      throw new TaifengError("invalid_config", `invalid permission rules:\n${errors.join("\n")}`);
    this.bypassDisabled = layers.some((l) => l.permissions.disableBypassPermissionsMode === "disable");
    const warnings: string[] = [];
    let mode =
      options.mode ?? layers.find((l) => l.permissions.defaultMode)?.permissions.defaultMode ?? "default";
    if (mode === "bypassPermissions" && this.bypassDisabled) {
      warnings.push("bypassPermissions mode is disabled by settings; using default mode");
      mode = "default";
    }
    this.defaultMode = mode;
    this.warnings = [...warnings, ...(options.notices ?? [])];
    this.additionalDirectories = layers.flatMap((l) =>
      (l.permissions.additionalDirectories ?? []).map((d) => this.expand(d)),
    );
  }

  /**
   * Builds a policy from the settings files found for `cwd` (see `discoverSettings`) plus
   * rules given in code, which sit at command-line precedence.
   * Throws TaifengError `invalid_config` for a malformed file or rule.
   */
  static async discover(
    options: DiscoverOptions & {
      readonly rules?: RuleLists | undefined;
      readonly mode?: PermissionMode | undefined;
      readonly commandCheck?: CommandCheck | undefined;
      /** Skip settings files entirely (code rules only). */
      readonly settingsFiles?: boolean | undefined;
    },
  ): Promise<PermissionPolicy> {
    const found =
      options.settingsFiles === false
        ? {
            projectRoot: resolve(options.projectRoot ?? options.cwd),
            home: homeOf(options),
            layers: [],
            trust: { trusted: true, withheld: [], changed: false },
          }
        : await discoverSettings(options);
    const notice = untrustedNotice(found);
    const layers: SettingsLayer[] = [...found.layers];
    if (options.rules) layers.push(codeLayer(options.rules));
    return new PermissionPolicy({
      layers,
      projectRoot: found.projectRoot,
      home: found.home,
      mode: options.mode,
      commandCheck: options.commandCheck,
      ...(notice !== undefined ? { notices: [notice] } : {}),
    });
  }

  /**
   * A fresh policy with the same settings and no session rules: one per engine, so an
   * "always allow" in one session never leaks into another.
   */
  forSession(): PermissionPolicy {
    return new PermissionPolicy(this.options);
  }

  /** Every rule in precedence order (session rules last). */
  get allRules(): readonly PermissionRule[] {
    return this.rules;
  }

  /**
   * Adds allow rules for the rest of the session ("always allow"). Returns the rules
   * accepted; malformed ones are skipped.
   */
  addSessionRules(texts: readonly string[]): string[] {
    const added: string[] = [];
    for (const text of texts) {
      const rule = parseRule(text, { list: "allow", source: "session", origin: "session" });
      if ("error" in rule) continue;
      if (this.rules.some((r) => r.source === "session" && r.text === rule.text)) continue;
      this.rules.push(rule);
      added.push(rule.text);
    }
    return added;
  }

  /**
   * Checks a mode requested at run time (`override_context`). Returns an error message when
   * it is unknown or forbidden by settings.
   */
  checkMode(mode: string): { ok: true; mode: PermissionMode } | { ok: false; message: string } {
    if (!isPermissionMode(mode)) return { ok: false, message: `unknown permission mode "${mode}"` };
    if (mode === "bypassPermissions" && this.bypassDisabled) {
      return { ok: false, message: "bypassPermissions mode is disabled by settings" };
    }
    return { ok: true, mode };
  }

  /** Judges a call. Never throws for a bad input: unknown shapes simply match fewer rules. */
  async evaluate(query: PermissionQuery): Promise<PermissionDecision> {
    const cwd = resolve(query.cwd);
    const [call, bases, extra] = await Promise.all([
      callFacets(query.tool, query.input, cwd, this.home),
      resolveBases({ cwd, projectRoot: this.projectRoot, home: this.home }),
      Promise.all(this.additionalDirectories.map((d) => realish(d))),
    ]);
    return evaluateCall(call, {
      rules: this.rules,
      mode: query.mode ?? this.defaultMode,
      bases,
      workingDirs: [bases.real.cwd, bases.real.project, ...extra],
      commandCheck: this.commandCheck,
    });
  }

  private expand(dir: string): string {
    if (dir === "~" || dir.startsWith("~/")) return join(this.home, dir.slice(1));
    return isAbsolute(dir) ? dir : resolve(this.projectRoot, dir);
  }
}

/** Rules given in code or flags, as a command-line layer. */
export function codeLayer(rules: RuleLists): SettingsLayer {
  const permissions: SettingsLayer["permissions"] = {};
  if (rules.allow) permissions.allow = [...rules.allow];
  if (rules.deny) permissions.deny = [...rules.deny];
  if (rules.ask) permissions.ask = [...rules.ask];
  return { source: "cli", path: undefined, permissions, hooks: undefined };
}
