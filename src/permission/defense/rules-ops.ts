import type { Invocation } from "./commands.ts";
import { type Add, operands, optionsOf } from "./rules-system.ts";
import type { DefenseWarning } from "./types.ts";

// Rules for operations tools: git, network and firewall configuration, package managers.

const GIT_GLOBAL_VALUED = new Set([
  "-C",
  "-c",
  "--git-dir",
  "--work-tree",
  "--namespace",
  "--exec-path",
  "--config-env",
]);

/** The git subcommand and its arguments, after global options such as `-C dir`. */
function gitCommand(args: readonly string[]): { sub: string; rest: string[] } {
  let i = 0;
  while (i < args.length && (args[i] as string).startsWith("-")) {
    const a = args[i] as string;
    i += GIT_GLOBAL_VALUED.has(a) ? 2 : 1;
  }
  return { sub: args[i] ?? "", rest: args.slice(i + 1) };
}

/** Force pushes, remote deletions, hard resets, cleans, history rewrites. */
export function gitDestructive(inv: Invocation, add: Add): void {
  if (inv.name === "rm") {
    // The repository itself: its whole history and every unpushed commit.
    const gitDir = operands(inv.args).find((p) => /(^|\/)\.git\/?$/.test(p));
    if (gitDir) add("git_destructive", "medium", `rm deletes the repository ${gitDir} and its history`);
    return;
  }
  if (inv.name !== "git") return;
  const { sub, rest } = gitCommand(inv.args);
  const opts = optionsOf(rest);
  const ops = operands(rest);
  const ask = (reason: string) => add("git_destructive", "medium", reason);
  switch (sub) {
    case "push":
      if (
        opts.short.has("f") ||
        opts.long.has("--force") ||
        opts.long.has("--force-with-lease") ||
        opts.long.has("--force-if-includes")
      )
        ask("git push --force rewrites the remote branch");
      else if (ops.some((r) => r.startsWith("+"))) ask("git push +refspec force-updates the remote branch");
      if (
        opts.short.has("d") ||
        opts.long.has("--delete") ||
        ops.slice(1).some((r) => r.startsWith(":") && r.length > 1)
      )
        ask("git push deletes a remote branch or tag");
      if (opts.long.has("--mirror") || opts.long.has("--prune"))
        ask("git push --mirror/--prune can delete remote refs");
      return;
    case "reset":
      if (opts.long.has("--hard") || opts.long.has("--merge") || opts.long.has("--keep"))
        ask("git reset --hard discards uncommitted changes");
      return;
    case "clean":
      if (
        (opts.short.has("f") || opts.long.has("--force")) &&
        !opts.short.has("n") &&
        !opts.long.has("--dry-run")
      )
        ask("git clean -f deletes untracked files");
      return;
    case "checkout":
      if (
        opts.short.has("f") ||
        opts.long.has("--force") ||
        ops.includes(".") ||
        (rest.includes("--") && ops.length > 0 && ops.every((o) => o === "." || o === "*"))
      )
        ask("git checkout discards local changes");
      return;
    case "restore":
      if (!opts.long.has("--staged") && ops.some((o) => o === "." || o === "*" || o === ":/"))
        ask("git restore discards local changes");
      return;
    case "branch":
      if (
        opts.short.has("D") ||
        (opts.short.has("d") && opts.short.has("f")) ||
        (opts.long.has("--delete") && opts.long.has("--force"))
      )
        ask("git branch -D deletes an unmerged branch");
      return;
    case "stash":
      if (ops[0] === "clear" || ops[0] === "drop") ask(`git stash ${ops[0]} deletes stashed changes`);
      return;
    case "filter-branch":
    case "filter-repo":
    case "replace":
      ask(`git ${sub} rewrites history`);
      return;
    case "rebase":
      if (
        !opts.long.has("--abort") &&
        !opts.long.has("--continue") &&
        !opts.long.has("--skip") &&
        !opts.long.has("--quit")
      )
        ask("git rebase rewrites commit history");
      return;
    case "reflog":
      if (ops[0] === "expire" || ops[0] === "delete") ask(`git reflog ${ops[0]} drops recovery points`);
      return;
    case "gc":
      if (rest.some((a) => /^--prune(=now)?$/.test(a))) ask("git gc --prune=now deletes unreachable commits");
      return;
    case "update-ref":
      if (opts.short.has("d")) ask("git update-ref -d deletes a ref");
      return;
    default:
      return;
  }
}

/** Interfaces down, firewall flushes and policy changes, route deletions. */
export function networkChange(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  const ops = operands(args);
  const joined = ops.join(" ");
  const high = (reason: string) => add("network_change", "high", reason);
  const medium = (reason: string) => add("network_change", "medium", reason);
  if (name === "ip") {
    const [object = "", verb = ""] = ops;
    if (/^l(ink)?$/.test(object) && (/\bdown\b/.test(joined) || /^(del|delete)$/.test(verb)))
      high("ip link takes an interface down or deletes it");
    else if (/^(a|addr|address)$/.test(object) && /^(del|delete|flush)$/.test(verb))
      high(`ip addr ${verb} removes addresses`);
    else if (/^(r|ro|route|rule)$/.test(object) && /^(del|delete|flush)$/.test(verb))
      high(`ip ${object} ${verb} removes routes`);
    else if (
      /^(r|ro|route|rule|l|link|a|addr|address|neigh|tunnel)$/.test(object) &&
      /^(add|change|replace|set)$/.test(verb)
    )
      medium(`ip ${object} ${verb} changes networking`);
  }
  if (name === "ifconfig" && ops.length >= 2) {
    if (ops.includes("down")) high("ifconfig takes an interface down");
    else medium("ifconfig changes an interface");
  }
  if (name === "ifdown") high("ifdown takes an interface down");
  if (name === "nmcli" && /\b(off|down|disconnect|delete)\b/.test(joined))
    high("nmcli disables a connection");
  if (
    /^(iptables|ip6tables|iptables-legacy|iptables-nft|ip6tables-legacy|ip6tables-nft|ebtables|arptables)$/.test(
      name,
    )
  ) {
    const o = optionsOf(args);
    const listing =
      o.short.has("L") || o.short.has("S") || o.long.has("--list") || o.long.has("--list-rules");
    if (
      o.short.has("F") ||
      o.long.has("--flush") ||
      o.short.has("X") ||
      o.long.has("--delete-chain") ||
      o.short.has("P") ||
      o.long.has("--policy")
    )
      high(`${name} flushes rules or changes a chain policy`);
    else if (!listing && ["A", "I", "D", "R", "N", "E", "Z"].some((f) => o.short.has(f)))
      medium(`${name} changes firewall rules`);
  }
  if (/^(iptables-restore|ip6tables-restore|nft)$/.test(name)) {
    if (name !== "nft" || /\b(flush|delete|destroy)\b/.test(joined))
      high(`${name} replaces or flushes firewall rules`);
    else if (/\b(add|insert|replace|create)\b/.test(joined) || args.includes("-f"))
      medium("nft changes firewall rules");
  }
  if (name === "ufw" && /^(disable|reset)$/.test(ops[0] ?? "")) high(`ufw ${ops[0]} turns the firewall off`);
  else if (name === "ufw" && /^(allow|deny|reject|limit|delete|insert|default|enable)$/.test(ops[0] ?? ""))
    medium("ufw changes firewall rules");
  if (
    name === "firewall-cmd" &&
    args.some((a) => /^--(panic-on|remove|add|set|permanent|reload|complete-reload|new|delete)/.test(a))
  )
    medium("firewall-cmd changes firewall rules");
  if (name === "route" && /^(del|delete|flush|add)$/.test(ops[0] ?? ""))
    (ops[0] === "add" ? medium : high)(`route ${ops[0]} changes the routing table`);
  if (name === "sysctl" && args.some((a) => a === "-w" || a.includes("=")) && /net\./.test(args.join(" ")))
    medium("sysctl changes kernel network settings");
  if (name === "tc" && /\b(add|change|replace|del)\b/.test(joined)) medium("tc changes traffic control");
}

const INSTALL_VERBS: Record<string, RegExp> = {
  npm: /^(i|install|add|ci|isntall|in|ins|inst|insta|instal|update|up|upgrade)$/,
  pnpm: /^(i|install|add|update|up|dlx)$/,
  yarn: /^(add|install|global|dlx|up|upgrade)$/,
  bun: /^(i|install|add|x)$/,
  pip: /^(install|download)$/,
  pipx: /^(install|run|inject)$/,
  uv: /^(add|pip|tool|sync)$/,
  poetry: /^(add|install)$/,
  conda: /^(install|create)$/,
  mamba: /^(install|create)$/,
  "apt-get": /^(install|upgrade|dist-upgrade|build-dep)$/,
  apt: /^(install|upgrade|full-upgrade|reinstall)$/,
  aptitude: /^(install|upgrade)$/,
  dnf: /^(install|upgrade|update|groupinstall)$/,
  yum: /^(install|upgrade|update|groupinstall|localinstall)$/,
  zypper: /^(in|install|up|update)$/,
  apk: /^(add|upgrade)$/,
  brew: /^(install|reinstall|upgrade|tap)$/,
  port: /^(install|upgrade)$/,
  gem: /^(install|update)$/,
  bundle: /^(install|add|update)$/,
  cargo: /^(install|add|binstall)$/,
  go: /^(install|get)$/,
  composer: /^(require|install|update|global)$/,
  snap: /^(install|refresh)$/,
  flatpak: /^(install|update)$/,
  "nix-env": /^(-i|--install|-iA)$/,
  dotnet: /^(add|tool)$/,
  deno: /^(install|add)$/,
};

/** Package installs and one-off package runners: a warning, not a block. */
export function packageInstall(inv: Invocation, warn: (w: DefenseWarning) => void): void {
  const { name, args } = inv;
  const part = inv.text;
  if (/^(npx|bunx|pnpx)$/.test(name)) {
    warn({ category: "package_install", reason: `${name} downloads and runs a package`, part });
    return;
  }
  let manager = name;
  let verbArgs = args;
  if (/^python[0-9.]*$/.test(name) && args[0] === "-m" && /^pip[0-9]*$/.test(args[1] ?? "")) {
    manager = "pip";
    verbArgs = args.slice(2);
  }
  if (/^pip[0-9.]*$/.test(manager)) manager = "pip";
  const verbs = INSTALL_VERBS[manager];
  if (!verbs) return;
  if (
    (manager === "yarn" || manager === "bun" || manager === "pnpm") &&
    operands(verbArgs).length === 0 &&
    verbArgs.length === 0
  ) {
    warn({ category: "package_install", reason: `${manager} installs the project's dependencies`, part });
    return;
  }
  const verb = verbArgs.find((a) => !a.startsWith("-") || manager === "nix-env") ?? "";
  if (manager === "pacman" || (manager === "nix-env" && verbs.test(verbArgs[0] ?? ""))) {
    warn({ category: "package_install", reason: `${name} installs packages`, part });
    return;
  }
  if (verbs.test(verb))
    warn({
      category: "package_install",
      reason: `${manager} ${verb} installs packages (and may run their install scripts)`,
      part,
    });
}

/** `pacman -S` and similar flag-style installers. */
export function flagInstall(inv: Invocation, warn: (w: DefenseWarning) => void): void {
  if (inv.name === "pacman" && inv.args.some((a) => /^-S[a-z]*$/.test(a) || a === "-U")) {
    warn({ category: "package_install", reason: "pacman installs packages", part: inv.text });
  }
}

/** Command names written with glob characters (`/bin/r?`) hide what runs. */
export function obfuscation(inv: Invocation, add: Add): void {
  if (/[*?]|\[[^\]]+\]/.test(inv.path) && !/^(\[|\[\[)$/.test(inv.path))
    add("obfuscation", "medium", `the command name ${inv.path} is a glob pattern, which hides what runs`);
}
