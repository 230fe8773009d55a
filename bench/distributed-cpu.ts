// CPU accounting for the distributed bench: per process from /proc, the machine from /proc/stat,
// PostgreSQL backends of the bench's database from pg_stat_activity.
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";

const TICK_MS = 10; // USER_HZ 100 on Linux

export function procCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** CPU time (ms) of every process named `name` on this machine (other users' included). */
export function cpuOfNamed(name: string): number {
  let sum = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) sum += procCpuMs(Number(entry));
    } catch {}
  }
  return sum;
}

/** Machine-wide busy and total CPU time (ms, all cores) from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0) * TICK_MS;
  const idle = ((f[3] ?? 0) + (f[4] ?? 0)) * TICK_MS;
  return { busy: total - idle, total };
}

export interface CpuSnap {
  workers: number;
  bench: number;
  redis: number;
  postgres: number;
  machine: { busy: number; total: number };
}

/** CPU ms of each PostgreSQL backend serving this bench's database right now. */
export async function postgresBackends(databaseUrl: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
  );
  await client.end();
  return new Map(rows.map((r) => [r.pid, procCpuMs(r.pid)]));
}

/** CPU ms the backends of `after` used since `before` (a backend new since then: all of it). */
export function backendsDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

export function cpuSnap(pids: number[]): CpuSnap {
  const u = process.cpuUsage();
  return {
    workers: pids.reduce((a, pid) => a + procCpuMs(pid), 0),
    bench: (u.user + u.system) / 1000,
    redis: process.env.TAIFENG_BENCH_REDIS_PID
      ? procCpuMs(Number(process.env.TAIFENG_BENCH_REDIS_PID))
      : cpuOfNamed("redis-server"),
    postgres: cpuOfNamed("postgres"),
    machine: machineCpu(),
  };
}
