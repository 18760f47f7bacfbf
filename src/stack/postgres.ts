import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Temporal's login in the stack's own PostgreSQL (loopback only, so a fixed development password). */
export const TEMPORAL_DB_USER = 'temporal';
export const TEMPORAL_DB_PASSWORD = 'temporal';

/** PostgreSQL's programs: Debian's newest `/usr/lib/postgresql/<n>/bin`, else PATH. */
function pgBin(program: string): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const p = path.join(root, v, 'bin', program);
      if (existsSync(p)) return p;
    }
  }
  if (spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0) return program;
  throw new Error(`PostgreSQL's ${program} was not found: install PostgreSQL (Debian: apt-get install -y postgresql)`);
}

/** PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user. */
function asServerUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error("running as root, PostgreSQL needs a `postgres` user (Debian's postgresql package creates it)");
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function run(program: string, args: string[], opts: { asServer?: boolean; allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  const bin = pgBin(program);
  const user = opts.asServer ? asServerUser() : undefined;
  // In a session of its own: the terminal's Ctrl-C reaches the stack, which stops PostgreSQL last.
  const r = spawnSync('setsid', ['-w', bin, ...args], { encoding: 'utf8', uid: user?.uid, gid: user?.gid, cwd: '/' });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(
      `${program} ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`,
    );
  }
  return r;
}

export interface PostgresOptions {
  /** The cluster's folder (created, and owned by the server's user). */
  dataDir: string;
  port: number;
  logFile: string;
}

/**
 * The stack's PostgreSQL: Debian's server, its data in a folder of the project, listening on
 * 127.0.0.1 only (and a Unix socket inside its data folder, not /var/run). Started and stopped with
 * pg_ctl, which signals the postmaster by the PID in its own postmaster.pid.
 */
export class Postgres {
  constructor(readonly opts: PostgresOptions) {}

  get address(): string {
    return `127.0.0.1:${this.opts.port}`;
  }

  /** Creates the cluster and Temporal's login the first time; returns whether it was new. */
  init(): boolean {
    const { dataDir, logFile } = this.opts;
    const user = asServerUser();
    mkdirSync(path.dirname(logFile), { recursive: true });
    if (user) {
      // The log is written by the server; the folders above the data must let it through.
      if (!existsSync(logFile)) spawnSync('touch', [logFile]);
      chownSync(logFile, user.uid, user.gid);
    }
    if (existsSync(path.join(dataDir, 'PG_VERSION'))) return false;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (user) chownSync(dataDir, user.uid, user.gid);
    run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], { asServer: true });
    return true;
  }

  running(): boolean {
    return run('pg_ctl', ['-D', this.opts.dataDir, 'status'], { asServer: true, allowFail: true }).status === 0;
  }

  /** The postmaster's PID, from its own pid file (for messages). */
  pid(): number | undefined {
    try {
      return Number(readFileSync(path.join(this.opts.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  }

  start(): void {
    const { dataDir, port, logFile } = this.opts;
    // Temporal's services hold up to ~40 connections each at peak; 200 leaves room for restarts.
    const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dataDir} -c max_connections=200`;
    run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions, 'start'], { asServer: true });
  }

  /** Creates Temporal's login once (trust auth on loopback: no password is checked, one is still set). */
  createTemporalUser(): void {
    const sql = `do $$ begin if not exists (select from pg_roles where rolname = '${TEMPORAL_DB_USER}') then create role ${TEMPORAL_DB_USER} login createdb password '${TEMPORAL_DB_PASSWORD}'; end if; end $$;`;
    run('psql', ['-h', '127.0.0.1', '-p', String(this.opts.port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', sql]);
  }

  /** `mode` fast: clients are disconnected and open transactions rolled back, as in a planned restart. */
  stop(mode: 'smart' | 'fast' | 'immediate' = 'fast'): void {
    if (!this.running()) return;
    run('pg_ctl', ['-D', this.opts.dataDir, '-m', mode, '-w', '-t', '60', 'stop'], { asServer: true });
  }
}
