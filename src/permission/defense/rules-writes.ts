import { GIT_COMMAND_KEYS } from "../shell/tables.ts";
import type { Invocation } from "./commands.ts";
import { type Add, operands } from "./rules-system.ts";
import {
  cleanPath,
  deviceKind,
  homeRelative,
  isRootPath,
  isSecretPath,
  isStartupPath,
  systemArea,
} from "./targets.ts";

// Rules about privileges, persistence and where a command writes.

/** sudo and friends, setuid bits, capability and account changes. */
export function privilege(inv: Invocation, add: Add): void {
  const escalators = inv.via.filter((w) => /^(sudo|doas|pkexec|runuser|run0)$/.test(w));
  if (escalators.length > 0)
    add("privilege_escalation", "high", `runs as another user through ${escalators[0]}`);
  const confined = inv.via.find((w) => /^(nsenter|unshare|chroot)$/.test(w));
  if (confined)
    add("privilege_escalation", "medium", `runs in other namespaces or roots through ${confined}`);
  const { name, args } = inv;
  if (/^(sudo|doas|pkexec|su|runuser|run0|sudoedit|visudo)$/.test(name))
    add("privilege_escalation", "high", `${name} gains another user's privileges`);
  if (
    name === "chmod" &&
    args.some((a) => /^[ugoa]*[+=][rwxXt]*s|^[0-7]?[2-7][0-7]{3}$/.test(a) && !/^0?[0-7]{3}$/.test(a))
  )
    add("privilege_escalation", "high", "chmod sets a setuid/setgid bit");
  if (name === "setcap") add("privilege_escalation", "high", "setcap grants file capabilities");
  if (
    name === "install" &&
    args.some(
      (a, i) =>
        (args[i - 1] === "-m" || args[i - 1] === "--mode") &&
        /^[0-7]?[2-7][0-7]{3}$|s/.test(a) &&
        !/^0?[0-7]{3}$/.test(a),
    )
  )
    add("privilege_escalation", "high", "install sets a setuid/setgid bit");
  if (
    (name === "docker" || name === "podman") &&
    /^(run|create|exec)$/.test(operands(args)[0] ?? "") &&
    args.some(
      (a, i) =>
        a === "--privileged" ||
        /^--(pid|net|ipc|userns)=host$/.test(a) ||
        ((args[i - 1] === "-v" || args[i - 1] === "--volume") &&
          /^\/(:|$)|^\/(etc|root|var\/run\/docker\.sock)(:|$)/.test(a)) ||
        /^--volume=\/(:|etc|root)/.test(a),
    )
  )
    add(
      "privilege_escalation",
      "high",
      `${name} runs a container with host privileges or the host's root filesystem`,
    );
  if (/^(nsenter|unshare)$/.test(name) || (name === "chroot" && args.length > 0))
    add("privilege_escalation", "medium", `${name} enters other namespaces or roots`);
  if (
    (name === "usermod" || name === "gpasswd") &&
    args.some((a) => /^(sudo|wheel|admin|root|docker)$/.test(a))
  )
    add("privilege_escalation", "high", `${name} adds a user to a privileged group`);
  if (name === "useradd" && args.includes("-o") && args.some((a, i) => a === "-u" && args[i + 1] === "0"))
    add("privilege_escalation", "high", "useradd creates a second root account");
  if (/^(passwd|chpasswd)$/.test(name))
    add("privilege_escalation", "high", `${name} changes account passwords`);
}

/** crontab, enabling services at boot, `at` jobs. Writes to startup files are checked with redirects. */
export function persistenceCommands(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  // The words as written: `args` also holds each relative one resolved where a `cd` went,
  // right after it, which shifts positions (`cd src && git config core.hooksPath x`).
  const words = inv.command.args;
  if (
    name === "crontab" &&
    !(args.length === 1 && args[0] === "-l") &&
    !(args.includes("-l") && !args.includes("-r"))
  )
    add("persistence", "high", "crontab installs or removes scheduled jobs");
  if (name === "systemctl" && /^(enable|link|preset|add-wants|set-default)$/.test(operands(args)[0] ?? ""))
    add("persistence", "high", `systemctl ${operands(args)[0]} makes a unit start at boot`);
  if (name === "launchctl" && /^(load|bootstrap|enable|submit)$/.test(args[0] ?? ""))
    add("persistence", "high", `launchctl ${args[0]} installs a launch agent`);
  if (
    (name === "update-rc.d" && /^(defaults|enable)$/.test(words[1] ?? "")) ||
    (name === "chkconfig" && words[1] === "on")
  )
    add("persistence", "high", `${name} enables a service at boot`);
  if (name === "systemd-run")
    add("persistence", "medium", "systemd-run starts a service outside this command");
  if (name === "git") {
    const i = words.indexOf("config");
    // The key is the first operand: values of `-f FILE`, `--file FILE`, `--blob B`... are not.
    const rest = i >= 0 ? words.slice(i + 1) : [];
    const keyAt = rest.findIndex(
      (a, k) =>
        !a.startsWith("-") && !/^(-f|--file|--blob|--type|--default|--comment)$/.test(rest[k - 1] ?? ""),
    );
    const key = keyAt >= 0 ? rest[keyAt] : undefined;
    if (key && GIT_COMMAND_KEYS.test(key) && rest.slice(keyAt + 1).some((a) => !a.startsWith("-")))
      add("persistence", "medium", `git config ${key} sets a program git will run later`);
  }
  if ((name === "at" || name === "batch") && !args.includes("-l") && !args.includes("-c"))
    add("persistence", "medium", `${name} schedules a job`);
}

/** Where a command writes: redirect targets, tee, cp/mv/install/ln destinations, sed -i and truncate files. */
export function writeTargets(inv: Invocation): string[] {
  const out: string[] = [];
  for (const r of inv.redirects) if (/^(>|>>|>\||&>|&>>|<>)$/.test(r.op)) out.push(r.target.text, ...r.paths);
  const { name, args } = inv;
  const ops = operands(args);
  if (name === "tee" || name === "sponge") out.push(...ops);
  if (/^(cp|mv|install|ln|rsync|scp)$/.test(name) && ops.length >= 2) {
    const t = args.findIndex((a) => a === "-t" || a === "--target-directory");
    out.push(t >= 0 ? (args[t + 1] as string) : (ops[ops.length - 1] as string));
  }
  if (name === "sed" && args.some((a) => /^-[a-zA-Z]*i|^--in-place/.test(a))) out.push(...ops.slice(1));
  if (name === "truncate") out.push(...ops);
  if (name === "tar" && /x/.test(args.find((a) => /^-?[a-zA-Z]+$/.test(a) && !a.startsWith("--")) ?? "")) {
    const c = args.findIndex((a) => a === "-C" || a === "--directory");
    if (c >= 0 && args[c + 1]) out.push(args[c + 1] as string);
    const eq = args.find((a) => a.startsWith("--directory="));
    if (eq) out.push(eq.slice(12));
  }
  if (name === "unzip") {
    const d = args.indexOf("-d");
    if (d >= 0 && args[d + 1]) out.push(args[d + 1] as string);
  }
  if (name === "chattr") out.push(...ops.filter((o) => !/^[+=]/.test(o)));
  if (name === "dd") {
    // `of=` resolved where a `cd` went too (commands.ts adds it).
    for (const a of args) if (a.startsWith("of=")) out.push(a.slice(3));
  }
  out.push(...optionFiles(name, args));
  return out;
}

/**
 * Files a command writes through an option: downloads (`curl -o`, `wget -O`), `sort -o`,
 * find's `-fprint`/`-fprint0`/`-fprintf`/`-fls`.
 */
function optionFiles(name: string, args: readonly string[]): string[] {
  const out: string[] = [];
  const next = (i: number) => args[i + 1];
  args.forEach((a, i) => {
    let file: string | undefined;
    if (name === "curl") {
      if (a === "-o" || a === "--output" || /^-[a-zA-Z]*o$/.test(a)) file = next(i);
      else if (a.startsWith("--output=")) file = a.slice(9);
    } else if (name === "wget") {
      if (/^-[a-zA-Z]*O$/.test(a) || a === "--output-document") file = next(i);
      else if (a.startsWith("--output-document=")) file = a.slice(18);
    } else if (name === "sort") {
      if (a === "-o" || a === "--output") file = next(i);
      else if (a.startsWith("--output=")) file = a.slice(9);
      else if (/^-o./.test(a)) file = a.slice(2);
    } else if (name === "find" && /^-(fprint0?|fprintf|fls)$/.test(a)) file = next(i);
    else if (name === "git") {
      // `git diff --output=FILE` (diff, log, show, format-patch) writes the file.
      if (a === "--output") file = next(i);
      else if (a.startsWith("--output=")) file = a.slice(9);
    }
    if (file && file !== "-") out.push(file);
  });
  return out;
}

/**
 * Secrets made reachable elsewhere: a container given a credential directory as a volume
 * (`docker run -v ~/.ssh:/k`), a link to a secret file (`ln -s ~/.ssh/id_rsa public/key`).
 */
export function secretExposure(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  if (/^(docker|podman|nerdctl)$/.test(name)) {
    args.forEach((a, i) => {
      const prev = args[i - 1];
      const spec =
        prev === "-v" || prev === "--volume" || prev === "--mount"
          ? a
          : a.startsWith("--volume=") || a.startsWith("--mount=")
            ? a.slice(a.indexOf("=") + 1)
            : undefined;
      if (!spec) return;
      const source = /(?:^|,)(?:source|src)=([^,]+)/.exec(spec)?.[1] ?? spec.split(":")[0] ?? "";
      if (
        isSecretPath(source) ||
        /^(\.ssh|\.aws|\.gnupg|\.kube|\.docker|\.config\/gcloud)$/.test(homeRelative(source) ?? "")
      )
        add("credential_exfiltration", "high", `${name} mounts the credentials ${source} into a container`);
    });
  }
  // A web server handing out the root or a home directory (`python3 -m http.server -d ~`).
  const served =
    /^python[0-9.]*$/.test(name) && args.includes("http.server")
      ? args.find((_a, i) => args[i - 1] === "--directory" || args[i - 1] === "-d")
      : /^php[0-9.]*$/.test(name) && args.some((a) => a === "-S" || a.startsWith("-S"))
        ? args.find((_a, i) => args[i - 1] === "-t")
        : undefined;
  if (served && (isRootPath(served) || homeRelative(served) === ""))
    add("credential_exfiltration", "high", `${name} serves ${served} over the network`);
  if (name === "ln" && args.some((a) => /^-[a-zA-Z]*s/.test(a) || a === "--symbolic")) {
    const ops = operands(args);
    const secret = ops.slice(0, -1).find(isSecretPath);
    if (secret) add("credential_exfiltration", "medium", `links to the credential file ${secret}`);
  }
}

/** Writes into startup files, system paths and devices. */
export function dangerousWrites(inv: Invocation, add: Add): void {
  for (const target of writeTargets(inv)) {
    const clean = cleanPath(target);
    const dev = deviceKind(clean);
    if (dev === "benign") continue;
    if (dev === "disk") {
      if (inv.name !== "dd") add("disk_write", "critical", `writes to the device ${clean}`);
      continue;
    }
    if (isStartupPath(clean)) {
      add("persistence", "high", `writes the startup file ${clean}`);
      continue;
    }
    if (/^\/etc\/sudoers/.test(clean)) {
      add("privilege_escalation", "critical", "writes the sudoers file");
      continue;
    }
    if (clean === "/proc/sysrq-trigger") {
      add("shutdown_reboot", "critical", "writes the kernel sysrq trigger");
      continue;
    }
    if (dev === "other" || systemArea(clean) === "tree" || isRootPath(clean)) {
      if (inv.name !== "dd") add("dangerous_redirect", "high", `writes the system path ${clean}`);
      continue;
    }
    if (isSecretPath(clean) || homeRelative(clean) === ".ssh")
      add("credential_exfiltration", "medium", `overwrites the credential file ${clean}`);
  }
}
