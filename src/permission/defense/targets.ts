import { posix } from "node:path";

/** Classifiers for paths that appear as command arguments or redirect targets. */

/** Collapses `//`, resolves `.` and `..` in absolute paths, strips trailing `/` (keeping `/` itself). */
export function cleanPath(p: string): string {
  let out = p.replace(/\/{2,}/g, "/");
  if (out.startsWith("/")) out = posix.normalize(out);
  while (out.length > 1 && (out.endsWith("/") || out.endsWith("/.")))
    out = out.endsWith("/.") ? out.slice(0, -2) || "/" : out.slice(0, -1);
  return out;
}

const HOME_PREFIX =
  /^(?:~[A-Za-z0-9_.-]*|\$HOME|\$\{HOME(?:[:?+=-][^}]*)?\}|\/root|\/home\/[^/]+|\/Users\/[^/]+)(?=\/|$)/;

/** The part of `p` below a home directory (`~/.ssh/id_rsa` -> `.ssh/id_rsa`; `~` -> ``), or undefined. */
export function homeRelative(p: string): string | undefined {
  const m = HOME_PREFIX.exec(p);
  if (!m) return undefined;
  return cleanPath(p.slice(m[0].length)).replace(/^\/+/, "");
}

/** `/`, `/*`, `/.`, `/..` and the like: the filesystem root. */
export function isRootPath(p: string): boolean {
  const c = cleanPath(p);
  return c === "/" || /^\/(?:\*|\.\.?|\.\*)?$/.test(c) || /^\/(?:\.\.\/?)+\*?$/.test(c);
}

/** A home directory itself or everything in it (`~`, `~/`, `~/*`, `$HOME`, `/home/alice`). */
export function isHomePath(p: string): boolean {
  const rel = homeRelative(p);
  return rel !== undefined && (rel === "" || rel === "*" || rel === ".*" || rel === ".");
}

/** Directories whose contents are the operating system. */
const SYSTEM_TREES = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/sbin",
  "/usr",
  "/sys",
  "/proc",
  "/System",
  "/Library",
  "/private/etc",
  // Logs, package and service state: truncating or rewriting them tampers with the record.
  "/var/log",
  "/var/lib",
  "/var/spool",
  "/var/mail",
  "/var/backups",
  "/var/db",
];
/** Directories that are dangerous to remove wholesale, though their contents are often fine. */
const SYSTEM_ROOTS = [
  "/var",
  "/opt",
  "/srv",
  "/home",
  "/root",
  "/mnt",
  "/media",
  "/snap",
  "/Applications",
  "/Users",
  "/private",
  "/run",
  "/tmp",
];

/**
 * The system area `p` is in: `tree` when under an OS directory (`/etc/hosts`, `/usr/lib`),
 * `root` when it is a top-level directory such as `/var` or `/home` itself (or its `*`),
 * else undefined.
 */
export function systemArea(p: string): "tree" | "root" | undefined {
  const c = cleanPath(p).replace(/\/\*$/, "");
  for (const dir of SYSTEM_TREES) if (c === dir || c.startsWith(`${dir}/`)) return "tree";
  for (const dir of SYSTEM_ROOTS) if (c === dir) return "root";
  return undefined;
}

const BENIGN_DEVICES =
  /^\/dev\/(?:null|zero|u?random|full|stdin|stdout|stderr|tty|ptmx|pts\/.*|fd\/.*|shm\/.*|console)$/;
const DISK_DEVICES =
  /^\/dev\/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|disk\d|rdisk\d|md\d|dm-\d|loop\d|mapper\/|sr\d|fd\d|mem$|kmem$|port$)/;

/** Device kind of a `/dev/...` path: `disk` (block devices, memory), `benign` (null, tty...) or `other`. */
export function deviceKind(p: string): "disk" | "benign" | "other" | undefined {
  const c = cleanPath(p);
  if (!c.startsWith("/dev/")) return undefined;
  if (BENIGN_DEVICES.test(c)) return "benign";
  if (DISK_DEVICES.test(c)) return "disk";
  return "other";
}

/** Files whose content is a credential or shell history (relative to a home directory). */
const SECRET_IN_HOME = [
  /^\.ssh(?:$|\/(?!config$|known_hosts|authorized_keys$|.*\.pub$))/,
  /^\.aws\/(credentials|config)/,
  /^\.config\/gcloud(\/|$)/,
  /^\.azure(\/|$)/,
  /^\.kube\/config/,
  /^\.docker\/config\.json/,
  /^\.netrc$/,
  /^\.pgpass$/,
  /^\.git-credentials$/,
  /^\.npmrc$/,
  /^\.pypirc$/,
  /^\.gnupg(\/|$)/,
  /^\.password-store(\/|$)/,
  /^\.aws$/,
  /^\.vault-token$/,
  /^\.terraform\.d\/credentials/,
  /^\.config\/gh\/hosts\.yml/,
  /^\.(bash|zsh|sh|python|mysql|psql|node_repl|sqlite|lesshst|rediscli)_?history$/,
  /^\.history$/,
  /^\.local\/share\/fish\/fish_history/,
  /^\.mozilla\/firefox\//,
  /^\.config\/(google-chrome|chromium|BraveSoftware)\//,
  /^Library\/(Keychains|Application Support\/Google\/Chrome)\//,
];
const SECRET_SYSTEM =
  /^\/(?:etc\/(?:shadow|gshadow|sudoers|master\.passwd|ssh\/ssh_host_.*_key)$|proc\/[^/]+\/environ$|var\/lib\/.*\/secrets?\/)/;

/** True when the path is a credential store, private key or shell history. */
export function isSecretPath(p: string): boolean {
  const rel = homeRelative(p);
  if (rel !== undefined) return SECRET_IN_HOME.some((re) => re.test(rel));
  return SECRET_SYSTEM.test(cleanPath(p));
}

/** Files that run at login, shell start or boot (relative to a home directory, or absolute). */
const STARTUP_IN_HOME =
  /^(?:\.(?:bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zshenv|zprofile|zlogin|kshrc|cshrc|tcshrc|xinitrc|xprofile|xsession|inputrc)|\.config\/fish\/config\.fish|\.config\/(?:autostart|systemd)\/|\.ssh\/(?:authorized_keys2?|rc)$|Library\/LaunchAgents\/|\.local\/bin\/|bin\/)/;
const STARTUP_SYSTEM =
  /^\/(?:etc\/(?:profile|bash\.bashrc|bashrc|zsh\/|zshrc|environment|rc\.local|init\.d\/|rc\d\.d\/|cron|anacrontab|systemd\/|ld\.so\.preload|update-motd\.d\/|xdg\/autostart\/)|var\/spool\/cron|(?:usr\/)?lib\/systemd\/|Library\/(?:LaunchAgents|LaunchDaemons)\/)/;

/** True when writing the path makes something run at login, shell start or boot. */
export function isStartupPath(p: string): boolean {
  // Git runs hooks, and a repository's config can name programs, on later git commands.
  if (/(^|\/)\.git\/(hooks\/[^/]+|config)$/.test(cleanPath(p))) return true;
  const rel = homeRelative(p);
  if (rel !== undefined && STARTUP_IN_HOME.test(rel)) return true;
  return STARTUP_SYSTEM.test(cleanPath(p));
}

/** Directories whose contents are keys and credentials (relative to a home directory). */
const CREDENTIAL_DIRS = /^\.(ssh|gnupg|aws|kube|docker|azure|password-store|config\/gcloud|config\/gh)(\/|$)/;

/** True when deleting the path destroys keys or credentials. */
export function isCredentialStore(p: string): boolean {
  const rel = homeRelative(p);
  return (rel !== undefined && CREDENTIAL_DIRS.test(rel)) || isSecretPath(p);
}
