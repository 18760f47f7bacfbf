import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { resolveTemporalTool, TEMPORAL_CLI } from './cli';
import { searchAttributeFlags } from './search-attributes';

export interface DevServerOptions {
  port: number;
  uiPort: number;
  dataDir: string;
  namespace: string;
  /** Where the server's own log goes; it is noisy, so it is kept out of the app's log. */
  logFile?: string;
  headless?: boolean;
  /** The codec server the UI decodes payloads with (the API's `/codec`); the UI calls it from the browser. */
  codecEndpoint?: string;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function devServerArgs(opts: DevServerOptions): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--db-filename',
    path.resolve(opts.dataDir, 'temporal.db'),
    // WAL lets visibility reads run beside history writes; NORMAL sync is safe with WAL and much faster.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    // Delivery batches start eagerly on the worker that asks (see activities/dispatch.ts), and an
    // activity goes straight back to the worker whose workflow task scheduled it when it has a slot.
    '--dynamic-config-value',
    'system.enableEagerWorkflowStart=true',
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    '--log-level',
    'warn',
    ...searchAttributeFlags.flatMap((f) => ['--search-attribute', f]),
  ];
  if (opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.codecEndpoint && !opts.headless) args.push('--ui-codec-endpoint', opts.codecEndpoint);
  return args;
}

/** Starts `temporal server start-dev` with a persistent database and waits until its frontend answers. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  mkdirSync(opts.dataDir, { recursive: true });
  const binary = resolveTemporalTool(TEMPORAL_CLI);
  const logFile = opts.logFile ?? path.resolve(opts.dataDir, 'temporal-server.log');
  const out = openSync(logFile, 'a');
  const child = spawn(binary, devServerArgs(opts), { stdio: ['ignore', out, out] });
  const address = `127.0.0.1:${opts.port}`;

  let exited: number | null | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exited = code;
      resolve();
    });
  });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      throw new Error(`temporal server exited with code ${exited} while starting; see ${logFile}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal server did not answer on ${address} within the start timeout; see ${logFile}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  return {
    address,
    uiUrl: opts.headless ? undefined : `http://localhost:${opts.uiPort}`,
    process: child,
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}
