import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { listBundledFiles, missingReferences } from "./bundle.ts";
import { binaryFinder, checkRequirements, currentHost, type HostEnvironment } from "./eligibility.ts";
import { parseFrontMatter } from "./frontmatter.ts";
import { checkManifest } from "./manifest.ts";
import { planScripts, planSkillSteps } from "./plan.ts";
import type { Skill, SkillMode, SkillProblem, SkillSource } from "./types.ts";

/** A directory skills are discovered in. */
export interface SkillRoot {
  readonly path: string;
  readonly source: SkillSource;
  /** Report the directory as a problem when it does not exist (host-supplied roots). */
  readonly required: boolean;
}

/** Where to look for skills. */
export interface SkillDiscoveryOptions {
  /** Host-supplied roots, highest precedence first. Each is a folder of skill folders or one skill folder. */
  readonly dirs?: readonly string[];
  /** The project directory (its `.taifeng/skills` and `.agents/skills`). Default `process.cwd()`. */
  readonly cwd?: string;
  /** The user's home (its `~/.taifeng/skills`). Default `os.homedir()`. */
  readonly home?: string;
  /** Include the project and user roots. Default true. */
  readonly defaults?: boolean;
}

/**
 * The roots to search, highest precedence first: host-supplied `dirs` (in order), then the
 * project's `.taifeng/skills`, then `.agents/skills`, then the user's `~/.taifeng/skills`.
 * A skill name found in several roots resolves to the first; the others are shadowed.
 */
export function skillRoots(options: SkillDiscoveryOptions = {}): SkillRoot[] {
  const cwd = resolve(options.cwd ?? process.cwd());
  const roots: SkillRoot[] = (options.dirs ?? []).map((d) => ({
    path: resolve(cwd, d),
    source: "host",
    required: true,
  }));
  if (options.defaults !== false) {
    roots.push({ path: join(cwd, ".taifeng", "skills"), source: "project", required: false });
    roots.push({ path: join(cwd, ".agents", "skills"), source: "project", required: false });
    roots.push({
      path: join(options.home ?? homedir(), ".taifeng", "skills"),
      source: "user",
      required: false,
    });
  }
  return roots;
}

/** One skill folder as found on disk: its skill, or why it was skipped. */
export interface SkillReport {
  /** The skill's name (the folder name when the front matter has none or was unreadable). */
  readonly name: string;
  readonly dir: string;
  readonly file: string;
  readonly source: SkillSource;
  /** Undefined when the skill was skipped (unreadable, no front matter, YAML error, no description). */
  readonly skill: Skill | undefined;
  readonly problems: readonly SkillProblem[];
}

/** Options for loading one skill folder. */
export interface LoadSkillOptions {
  readonly source?: SkillSource;
  readonly mode?: SkillMode;
}

const MAX_SKILL_BYTES = 1_000_000;

/**
 * Loads one skill folder: parses and checks SKILL.md, lists its bundled files and checks the
 * references its body makes. Never throws: every failure is a located problem. Eligibility
 * is decided by `loadSkills`, which knows the host and the other skills.
 */
export async function loadSkillFolder(dir: string, options: LoadSkillOptions = {}): Promise<SkillReport> {
  const mode = options.mode ?? "lenient";
  const source = options.source ?? "host";
  const folder = basename(dir);
  const file = join(dir, "SKILL.md");
  const skipped = (problem: SkillProblem): SkillReport => ({
    name: folder,
    dir,
    file,
    source,
    skill: undefined,
    problems: [problem],
  });
  let text: string;
  try {
    const info = await stat(file);
    if (info.size > MAX_SKILL_BYTES)
      return skipped({
        severity: "error",
        code: "too_large",
        message: `SKILL.md is ${info.size} bytes (at most ${MAX_SKILL_BYTES})`,
        file,
      });
    text = await readFile(file, "utf8");
  } catch (err) {
    return skipped({
      severity: "error",
      code: "read_error",
      message: `cannot read SKILL.md: ${(err as Error).message}`,
      file,
    });
  }
  const fm = parseFrontMatter(text, file);
  if (!fm.ok) return skipped(fm.problem);
  const checked = checkManifest(fm.value, folder, file, mode);
  const files = await listBundledFiles(dir);
  const problems = [...checked.problems];
  const manifest = checked.manifest;
  if (!manifest) return { name: folder, dir, file, source, skill: undefined, problems };
  problems.push(...missingReferences(fm.value.body, fm.value.bodyLine, files, file));
  if (manifest.plan) {
    const scripts = new Set(files.map((f) => f.path));
    for (const { script, label } of planScripts(manifest.plan)) {
      const path = script.startsWith("scripts/") ? script : `scripts/${script}`;
      if (!scripts.has(path)) {
        const at = fm.value.locate(["taifeng", "plan", ...pathOf(label)]);
        problems.push({
          severity: "error",
          code: "invalid_plan",
          message: `plan step ${label} runs \`${path}\`, which is not in the skill folder`,
          file,
          line: at?.line,
          column: at?.column,
        });
      }
    }
  }
  const lines: Record<string, { line: number; column: number }> = {};
  const at = fm.value.locate(["name"]);
  if (at && fields(fm.value.data).name !== undefined) lines.name = at;
  for (const { label } of manifest.plan ? planSkillSteps(manifest.plan) : []) {
    const step = fm.value.locate(["taifeng", "plan", ...pathOf(label)]);
    if (step) lines[label] = step;
  }
  const skill: Skill = {
    name: manifest.name,
    dir,
    file,
    source,
    manifest,
    body: fm.value.body.replace(/^\s*\n/, ""),
    files,
    problems,
    ineligible: [],
    lines,
  };
  return { name: manifest.name, dir, file, source, skill, problems };
}

function fields(data: unknown): Record<string, unknown> {
  return typeof data === "object" && data !== null ? (data as Record<string, unknown>) : {};
}

function pathOf(label: string): (string | number)[] {
  return [...label.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) =>
    m[2] !== undefined ? Number(m[2]) : (m[1] as string),
  );
}

/** Everything one load found. Immutable: a reload builds a new one. */
export interface SkillLoad {
  readonly mode: SkillMode;
  /** The winning skill of each name (usable or not), by name. */
  readonly skills: ReadonlyMap<string, Skill>;
  /** Every skill folder found, in precedence order (shadowed and skipped ones included). */
  readonly reports: readonly SkillReport[];
  /** Problems with the roots themselves (a host-supplied directory that does not exist). */
  readonly problems: readonly SkillProblem[];
}

/** Options for `loadSkills`. */
export interface LoadSkillsOptions {
  readonly mode?: SkillMode;
  /** The machine eligibility is checked against. Default: this process. */
  readonly host?: HostEnvironment;
}

/**
 * Loads every skill under the roots (each root: a folder of skill folders, or itself a skill
 * folder) and decides precedence, duplicates and eligibility: a skill is ineligible when a
 * requirement is unmet, when it has an error in the chosen mode, or when its plan calls a
 * skill that is missing or ineligible. Never throws.
 */
export async function loadSkills(
  roots: readonly SkillRoot[],
  options: LoadSkillsOptions = {},
): Promise<SkillLoad> {
  const mode = options.mode ?? "lenient";
  const host = options.host ?? currentHost();
  const problems: SkillProblem[] = [];
  const folders: { dir: string; source: SkillSource; root: number }[] = [];
  const seenRoots = new Set<string>();
  for (const root of roots) {
    let real: string;
    try {
      real = await realpath(root.path);
    } catch {
      if (root.required)
        problems.push({
          severity: "error",
          code: "root_missing",
          message: `skills directory ${root.path} does not exist`,
          file: root.path,
        });
      continue;
    }
    if (seenRoots.has(real)) continue;
    seenRoots.add(real);
    const index = seenRoots.size;
    for (const dir of await skillFolders(root.path)) folders.push({ dir, source: root.source, root: index });
  }
  const reports = await Promise.all(folders.map((f) => loadSkillFolder(f.dir, { source: f.source, mode })));
  const winners = new Map<string, Skill>();
  const rootOf = new Map<string, number>();
  const finalReports: SkillReport[] = [];
  reports.forEach((report, i) => {
    let skill = report.skill;
    const extra: SkillProblem[] = [];
    const root = (folders[i] as { root: number }).root;
    if (skill) {
      const first = winners.get(skill.name);
      if (first && rootOf.get(skill.name) === root) {
        extra.push({
          severity: "error",
          code: "duplicate_name",
          message: `another skill in the same place is named "${skill.name}" (${first.file})`,
          file: skill.file,
          line: skill.lines?.name?.line,
          column: skill.lines?.name?.column,
        });
        skill = { ...skill, shadowedBy: first.file, problems: [...skill.problems, ...extra] };
      } else if (first) {
        extra.push({
          severity: "warning",
          code: "shadowed",
          message: `shadowed by ${first.file} (${first.source} skills take precedence)`,
          file: skill.file,
          line: skill.lines?.name?.line,
          column: skill.lines?.name?.column,
        });
        skill = { ...skill, shadowedBy: first.file, problems: [...skill.problems, ...extra] };
      } else {
        winners.set(skill.name, skill);
        rootOf.set(skill.name, root);
      }
    }
    finalReports.push({ ...report, skill, problems: [...report.problems, ...extra] });
  });
  await decideEligibility(winners, mode, host);
  for (let i = 0; i < finalReports.length; i++) {
    const r = finalReports[i] as SkillReport;
    const won = r.skill && winners.get(r.skill.name);
    if (won && won.dir === r.dir) finalReports[i] = { ...r, skill: won, problems: won.problems };
  }
  return { mode, skills: winners, reports: finalReports, problems };
}

async function skillFolders(root: string): Promise<string[]> {
  if (await isFile(join(root, "SKILL.md"))) return [root];
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith(".")) continue;
    const dir = join(root, entry.name);
    if ((entry.isDirectory() || entry.isSymbolicLink()) && (await isFile(join(dir, "SKILL.md"))))
      out.push(dir);
  }
  return out;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function decideEligibility(
  skills: Map<string, Skill>,
  mode: SkillMode,
  host: HostEnvironment,
): Promise<void> {
  const hasBinary = binaryFinder(host);
  for (const [name, skill] of skills) {
    const reasons: string[] = [];
    const firstError = skill.problems.find((p) => p.severity === "error");
    if (firstError) reasons.push(`invalid in ${mode} mode: ${firstError.message}`);
    if (skill.manifest.requires)
      reasons.push(...(await checkRequirements(skill.manifest.requires, host, hasBinary)));
    if (reasons.length > 0) skills.set(name, { ...skill, ineligible: reasons });
  }
  // A composite is usable only when every skill its plan calls is; repeat until stable. A step
  // naming a skill that does not exist is an error in the file; one naming an ineligible skill
  // only makes the composite ineligible here (on another machine it may be fine).
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, skill] of skills) {
      if (!skill.manifest.plan || skill.ineligible.length > 0) continue;
      const problems = [...skill.problems];
      let reason: string | undefined;
      for (const { skill: callee, label } of planSkillSteps(skill.manifest.plan)) {
        const target = skills.get(callee);
        if (target && target.ineligible.length === 0) continue;
        reason ??= `its plan calls "${callee}", which ${target ? `is not available (${target.ineligible[0]})` : "does not exist"}`;
        if (target) continue;
        const at = skill.lines?.[label];
        problems.push({
          severity: "error",
          code: "invalid_plan",
          message: `plan step ${label} calls skill "${callee}", which does not exist`,
          file: skill.file,
          line: at?.line,
          column: at?.column,
        });
      }
      if (reason === undefined) continue;
      skills.set(name, { ...skill, problems, ineligible: [reason] });
      changed = true;
    }
  }
}
