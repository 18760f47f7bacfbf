import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';

export interface ProcessSpec {
  /** A short name for messages: `worker-1`, `temporal-server`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
}

/**
 * One process the stack started: stopped, killed or restarted by its own PID only (never by name),
 * with its output appended to its log file.
 */
export class ManagedProcess {
  private child?: ChildProcess;
  private exitedPromise?: Promise<void>;

  constructor(readonly spec: ProcessSpec) {}

  start(): this {
    const out = openSync(this.spec.logFile, 'a');
    try {
      this.child = spawn(this.spec.command, this.spec.args, {
        cwd: this.spec.cwd,
        env: this.spec.env ?? process.env,
        stdio: ['ignore', out, out],
        // Its own process group: Ctrl-C in the terminal reaches the stack, which stops it in order.
        detached: true,
      });
    } finally {
      closeSync(out);
    }
    const child = this.child;
    this.exitedPromise = once(child, 'exit').then(() => undefined);
    // A failed spawn (no such binary) is reported by `running` and the start's wait.
    child.once('error', () => undefined);
    return this;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    const c = this.child;
    return !!c && c.pid !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** How it ended, for messages: `code 1`, `signal SIGKILL`. */
  get exitDescription(): string {
    const c = this.child;
    if (!c) return 'not started';
    if (c.signalCode) return `signal ${c.signalCode}`;
    return c.exitCode === null ? 'running' : `code ${c.exitCode}`;
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL', 0);
  }

  /** Sends `signal`; after `graceMs` without an exit, SIGKILL. Resolves once the process has gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.child!.kill(signal);
    const timer = graceMs > 0 ? setTimeout(() => this.running && this.child!.kill('SIGKILL'), graceMs) : undefined;
    await this.exitedPromise;
    if (timer) clearTimeout(timer);
  }

  /** Starts it again with the same command, environment and log file (appended). */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    this.start();
  }

  get exited(): Promise<void> {
    return this.exitedPromise ?? Promise.resolve();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds; after `timeoutMs`, throws naming `what` (and what `explain` adds). */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs: number, explain?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    const why = explain?.();
    if (Date.now() > deadline || (why && why.startsWith('exited'))) {
      throw new Error(`${what}: not ready within ${Math.round(timeoutMs / 1000)} s${why ? ` (${why})` : ''}`);
    }
    await sleep(200);
  }
}
