import type { Invocation } from "./commands.ts";
import { cleanPath, deviceKind, isCredentialStore, isHomePath, isRootPath, systemArea } from "./targets.ts";
import type { DefenseCategory, DefenseSeverity } from "./types.ts";

/** Records a finding about `part` (default: the invocation's text). */
export type Add = (
  category: DefenseCategory,
  severity: DefenseSeverity,
  reason: string,
  part?: string,
) => void;

/** Short flags (`-rf` -> r, f) and long options (`--force`) of an argument list, up to `--`. */
export function optionsOf(args: readonly string[]): { short: Set<string>; long: Set<string> } {
  const short = new Set<string>();
  const long = new Set<string>();
  for (const a of args) {
    if (a === "--") break;
    if (a.startsWith("--")) long.add(a.split("=")[0] as string);
    else if (a.startsWith("-") && a.length > 1) for (const ch of a.slice(1)) short.add(ch);
  }
  return { short, long };
}

/** Arguments that are not options (everything after `--` counts). */
export function operands(args: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const a of args) {
    if (rest) out.push(a);
    else if (a === "--") rest = true;
    else if (!a.startsWith("-") || a === "-") out.push(a);
  }
  return out;
}

function describeTarget(p: string): string | undefined {
  if (isRootPath(p)) return "the filesystem root";
  if (isHomePath(p)) return "a home directory";
  const area = systemArea(p);
  if (area) return `the system path ${cleanPath(p)}`;
  return undefined;
}

/**
 * True when `target` is a word the analysis could not know in full that starts at the root
 * or a home directory (`/{}` from `xargs -I{}`, `~/../$USER`).
 */
function unknownAnchored(inv: Invocation, target: string): boolean {
  if (!target.startsWith("/") && !target.startsWith("~")) return false;
  const home = inv.command.argv.find((f) => !f.known && f.text === target);
  return home !== undefined || (/\$|…/.test(target) && inv.command.argv.some((f) => !f.known));
}

/** rm, unlink, shred, find -delete, mv and recursive chmod/chown on the root, homes or system paths. */
export function destructive(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  const opts = optionsOf(args);
  if (name === "rm") {
    const recursive = opts.short.has("r") || opts.short.has("R") || opts.long.has("--recursive");
    if (opts.long.has("--no-preserve-root"))
      add("destructive_delete", "critical", "rm with --no-preserve-root");
    for (const target of operands(args)) {
      const what = describeTarget(target);
      if (what && (recursive || isRootPath(target) || systemArea(target) === "tree")) {
        add("destructive_delete", "critical", `deletes ${what}${recursive ? " recursively" : ""}`);
        break;
      }
      if (
        recursive &&
        /^(?:"?\$\{?\w+\}?"?\/?\*?|\$\(…\)\/?\*?)$/.test(target) &&
        !/^\$\{?(TMPDIR|PWD)\}?/.test(target)
      ) {
        add(
          "destructive_delete",
          "medium",
          `deletes a path given only by ${target}, which is dangerous when it is empty`,
        );
        continue;
      }
      if (recursive && /^"?\$/.test(target) && !/^"?\$\{?(TMPDIR|PWD)\}?/.test(target)) {
        // `${x}etc`, `"$DIR"/etc`, `${HOME:0:1}etc`: what it names depends on a value the line
        // does not know (an empty or sliced one makes it `/etc`).
        add(
          "destructive_delete",
          "medium",
          `deletes a path that starts with ${target.split("/")[0]}, which could name anything`,
        );
        continue;
      }
      const clean = cleanPath(target);
      if (recursive && unknownAnchored(inv, target)) {
        add("destructive_delete", "medium", `deletes ${target}, a path with a part only known at run time`);
        continue;
      }
      if (recursive && inv.command.dirs.unknown && !target.startsWith("/") && !target.startsWith("~")) {
        add(
          "destructive_delete",
          "medium",
          `deletes ${target} after a cd to a directory only known at run time`,
        );
        continue;
      }
      if (recursive && (clean === inv.cwd || inv.cwd.startsWith(`${clean}/`))) {
        add("destructive_delete", "medium", `deletes the directory it runs in (${target})`);
        continue;
      }
      if (recursive && /^(?:\.{1,2}\/?|\.\/\*|\*|\.\.\/(?:\.\.\/?)*\*?)$/.test(target)) {
        add(
          "destructive_delete",
          "medium",
          `deletes the whole ${target.startsWith("..") ? "parent" : "current"} directory (${target})`,
        );
      }
    }
  }
  if (/^(rm|shred|unlink|truncate|srm|wipe)$/.test(name)) {
    const store = operands(args).find(
      (t) => isCredentialStore(t) && !/\.pub$|known_hosts$|\.ssh\/config$/.test(t),
    );
    if (store) add("destructive_delete", "high", `${name} destroys keys or credentials (${store})`);
  }
  if (name === "unlink" || name === "shred") {
    for (const target of operands(args)) {
      if (deviceKind(target) === "disk") continue; // disk rules report devices
      if (systemArea(target) === "tree" || isRootPath(target))
        add("destructive_delete", "high", `${name} on the system file ${target}`);
    }
  }
  if (name === "find") {
    const start = operands(args.slice(0, firstExpression(args)));
    const deletes =
      args.includes("-delete") || /-exec(dir)?\s+(\S*\/)?(rm|shred|unlink)\b/.test(args.join(" "));
    const filtered = args.some((a) =>
      /^-(i?name|i?path|i?regex|type|mtime|mmin|atime|newer|size|user|empty)$/.test(a),
    );
    // A filtered clean-up of /tmp or /var is routine; the root, homes and OS trees are not.
    const risky = start.filter(
      (p) => isRootPath(p) || isHomePath(p) || systemArea(p) === "tree" || (!filtered && systemArea(p)),
    );
    const what = risky.map(describeTarget).find((w) => w !== undefined);
    if (deletes && what) add("destructive_delete", "critical", `find deletes files under ${what}`);
    else if (deletes && !filtered && start.some((p) => /^\.{1,2}\/?$/.test(p)))
      add("destructive_delete", "medium", "find deletes everything under the current directory");
  }
  if (name === "mv") {
    const ops = operands(args);
    for (const source of ops.slice(0, -1)) {
      if (isCredentialStore(source)) {
        add("destructive_delete", "high", `moves the credentials ${cleanPath(source)} away`);
        return;
      }
      const what = describeTarget(source);
      if (what && (isRootPath(source) || isHomePath(source) || systemArea(source) !== undefined)) {
        add("destructive_delete", "high", `moves ${what} away`);
        return;
      }
    }
  }
  if (
    (name === "chmod" || name === "chown" || name === "chgrp") &&
    (opts.short.has("R") || opts.long.has("--recursive"))
  ) {
    const what = operands(args)
      .slice(1)
      .map(describeTarget)
      .find((w) => w !== undefined);
    if (what) add("destructive_delete", "critical", `recursive ${name} on ${what}`);
  }
}

function firstExpression(args: readonly string[]): number {
  const i = args.findIndex((a) => a.startsWith("-") || a === "(" || a === "!");
  return i < 0 ? args.length : i;
}

const MKFS = /^(mkfs(\..+)?|mke2fs|mkswap|mkdosfs|mkntfs|mkfs_.*|newfs(_.*)?|wipefs|blkdiscard)$/;

/** dd to devices, filesystem creation, device wipes. */
export function diskWrite(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  if (MKFS.test(name)) add("disk_write", "critical", `${name} formats or wipes a device`);
  if (name === "dd") {
    const of = args.find((a) => a.startsWith("of="))?.slice(3);
    if (of && deviceKind(of) === "disk") add("disk_write", "critical", `dd writes to the device ${of}`);
    else if (of && (systemArea(of) === "tree" || deviceKind(of) === "other"))
      add("disk_write", "high", `dd overwrites ${of}`);
  }
  if (name === "shred") {
    const device = operands(args).find((a) => deviceKind(a) === "disk");
    if (device) add("disk_write", "critical", `shred wipes the device ${device}`);
  }
  if (
    name === "hdparm" &&
    args.some((a) => /^--(security-erase|trim-sector-ranges|write-sector|make-bad-sector)/.test(a))
  )
    add("disk_write", "critical", "hdparm erases or writes raw sectors");
  if (
    name === "diskutil" &&
    /^(eraseDisk|eraseVolume|zeroDisk|randomDisk|secureErase|reformat|partitionDisk)$/i.test(args[0] ?? "")
  )
    add("disk_write", "critical", `diskutil ${args[0]} erases a disk`);
}

const PARTITION_TOOLS = /^(fdisk|sfdisk|cfdisk|gdisk|sgdisk|cgdisk|parted|partprobe)$/;
const LVM =
  /^(pv|vg|lv)(create|remove|resize|move|extend|reduce|change|rename|convert|split|merge|import|export)$/;

/** Partitioning, LVM, encryption and mount tools. */
export function diskPartition(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  const opts = optionsOf(args);
  if (PARTITION_TOOLS.test(name)) {
    const listOnly =
      opts.short.has("l") ||
      opts.long.has("--list") ||
      args.includes("print") ||
      (name === "sgdisk" && opts.short.has("p"));
    if (!listOnly) add("disk_partition", "high", `${name} changes disk partitions`);
  }
  if (LVM.test(name)) add("disk_partition", "high", `${name} changes LVM volumes`);
  if (
    name === "cryptsetup" &&
    !/^(status|isLuks|luksDump|--version|--help)$/.test(args.find((a) => !a.startsWith("-")) ?? args[0] ?? "")
  )
    add("disk_partition", "high", "cryptsetup changes encrypted volumes");
  if (
    name === "mdadm" &&
    args.some((a) => /^--(create|stop|remove|fail|zero-superblock|grow)|^-[CSrfG]$/.test(a))
  )
    add("disk_partition", "high", "mdadm changes RAID arrays");
  if ((name === "zpool" || name === "zfs") && /^(destroy|create|rollback|labelclear)$/.test(args[0] ?? ""))
    add("disk_partition", "high", `${name} ${args[0]}`);
  if ((name === "mount" || name === "umount") && operands(args).length > 0)
    add("disk_partition", "medium", `${name} changes mounted filesystems`);
  if ((name === "swapon" || name === "swapoff") && !opts.long.has("--show") && !opts.short.has("s"))
    add("disk_partition", "medium", `${name} changes swap`);
  if (name === "losetup" && operands(args).length > 0)
    add("disk_partition", "medium", "losetup attaches loop devices");
  if (/^(fsck(\..+)?|e2fsck|tune2fs|resize2fs|xfs_repair|btrfs)$/.test(name) && !opts.long.has("--help"))
    add("disk_partition", "medium", `${name} modifies a filesystem`);
}

/** shutdown, reboot, halt, init levels, killing PID 1 or every process. */
export function power(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  if (
    /^(shutdown|reboot|halt|poweroff|killall5)$/.test(name) &&
    !args.includes("-c") &&
    !args.includes("--help")
  )
    add("shutdown_reboot", "high", `${name} stops or restarts the machine`);
  if ((name === "init" || name === "telinit") && /^[0-6sS]$/.test(args[0] ?? ""))
    add("shutdown_reboot", "high", `${name} ${args[0]} changes the runlevel`);
  if (
    name === "systemctl" &&
    args.some((a) =>
      /^(poweroff|reboot|halt|suspend|hibernate|hybrid-sleep|kexec|rescue|emergency|soft-reboot|default)$/.test(
        a,
      ),
    )
  )
    add("shutdown_reboot", "high", "systemctl stops, restarts or suspends the machine");
  if (
    name === "loginctl" &&
    /^(poweroff|reboot|suspend|hibernate|terminate-user|kill-user|terminate-session)$/.test(args[0] ?? "")
  )
    add("shutdown_reboot", "high", `loginctl ${args[0]}`);
  if (name === "kill") {
    const pids = killTargets(args);
    if (pids.includes("1")) add("shutdown_reboot", "critical", "kill targets PID 1 (init)");
    else if (pids.includes("-1")) add("shutdown_reboot", "critical", "kill -1 signals every process");
  }
  if (name === "pmset" && args.includes("sleepnow"))
    add("shutdown_reboot", "high", "pmset puts the machine to sleep");
}

/** The pids `kill` is given, after its signal options. */
function killTargets(args: readonly string[]): string[] {
  let i = 0;
  if (args[i] === "-s" || args[i] === "-n") i += 2;
  else if (/^-(\d+|[A-Z][A-Z0-9+-]*)$/.test(args[i] ?? "") && args.length > 1) i += 1;
  if (args[i] === "--") i++;
  return args.slice(i);
}

const CRITICAL_SERVICES =
  /^(ssh|sshd|openssh-server|systemd-\w+|dbus|network|networking|NetworkManager|firewalld|ufw|docker|containerd|kubelet|cron|crond|rsyslog|auditd|polkit|getty@.*|init)(\.service)?$/;

/** Stopping, disabling or masking system services; killing system daemons by name. */
export function services(inv: Invocation, add: Add): void {
  const { name, args } = inv;
  const ops = operands(args);
  const check = (verb: string, units: readonly string[]) => {
    const critical = units.find((u) => CRITICAL_SERVICES.test(u));
    add(
      "service_stop",
      critical ? "high" : "medium",
      `${verb} the service ${critical ?? units[0] ?? "(unnamed)"}`,
    );
  };
  if (name === "systemctl") {
    const verb = ops[0] ?? "";
    if (/^(stop|disable|mask|kill|isolate)$/.test(verb)) check(`systemctl ${verb}s`, ops.slice(1));
  }
  if (name === "service" && /^(stop|disable)$/.test(ops[1] ?? "")) check("service stops", [ops[0] ?? ""]);
  if (/^\/etc\/init\.d\//.test(inv.path) && /^(stop|disable)$/.test(ops[0] ?? ""))
    check("init script stops", [inv.name]);
  if (name === "rc-service" && ops[1] === "stop") check("rc-service stops", [ops[0] ?? ""]);
  if (
    (name === "update-rc.d" && /^(disable|remove)$/.test(ops[1] ?? "")) ||
    (name === "chkconfig" && ops[1] === "off")
  )
    check(`${name} disables`, [ops[0] ?? ""]);
  if (name === "sv" && /^(stop|down|kill|exit)$/.test(ops[0] ?? "")) check("sv stops", ops.slice(1));
  if (name === "launchctl" && /^(unload|bootout|stop|remove|disable|kill)$/.test(ops[0] ?? ""))
    check(`launchctl ${ops[0]}s`, ops.slice(1));
  if (name === "killall" || name === "pkill") {
    const procs = ops.filter(
      (p) =>
        CRITICAL_SERVICES.test(p) ||
        /^(sshd|systemd|init|dockerd|containerd|NetworkManager|dbus-daemon)$/.test(p),
    );
    if (procs.length > 0) add("service_stop", "high", `${name} kills the system daemon ${procs[0]}`);
  }
}
