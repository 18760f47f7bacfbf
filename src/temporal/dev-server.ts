import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
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
  /** Dynamic config values over DEV_SERVER_DYNAMIC_CONFIG (numbers and booleans: the CLI reads each as JSON). */
  dynamicConfig?: Record<string, number | boolean>;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The dev server's dynamic config: the stack's (`DYNAMIC_CONFIG` in src/stack/temporal-server.ts) as flags. */
export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, number | boolean> = {
  // Delivery batches start eagerly on the worker that asks (see activities/dispatch.ts), and an
  // activity goes straight back to the worker whose workflow task scheduled it when it has a slot.
  'system.enableEagerWorkflowStart': true,
  'system.enableActivityEagerExecution': true,
  // Queries of one instance that meet while its workflow task is out (the receiver's state read and a
  // hand-off's read of its webhooks) wait in a buffer of 1 by default; the next one is refused
  // RESOURCE_EXHAUSTED and retried after about 1 s, which was the 1 s hand-off behind most of the
  // webhook tail at 1,000/s (docs/benchmarks.md).
  'history.maxBufferedQueryCount': 100,
};

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
    ...Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...opts.dynamicConfig }).flatMap(([key, value]) => [
      '--dynamic-config-value',
      `${key}=${value}`,
    ]),
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
  const logStart = statSync(logFile).size;
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
      const log = readFileSync(logFile).subarray(logStart).toString('utf8');
      const message = `temporal server exited with code ${exited} while starting; see ${logFile}`;
      throw log.includes('address already in use') ? new PortTakenError(`${message}: ${lastLine(log)}`) : new Error(message);
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

/** A port the server was given (or picked for itself) was taken by the time it bound it. */
export class PortTakenError extends Error {
  override name = 'PortTakenError';
}

function lastLine(log: string): string {
  return log.trim().split('\n').pop() ?? '';
}

/** A loopback port the OS had free a moment ago; someone else may take it before it is bound. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/**
 * Starts a dev server on ports free just before. On a shared machine a port can be taken between the
 * check and the bind (by another test's listener, or by the server's own pick of its internal ports), so
 * a start that fails on a taken port is tried again on new ports; any other failure is thrown at once.
 */
export async function startDevServerOnFreePorts(opts: Omit<DevServerOptions, 'port' | 'uiPort'>, tries = 3): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    const [port, uiPort] = [await freePort(), opts.headless ? 0 : await freePort()];
    try {
      return await startDevServer({ ...opts, port, uiPort });
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= tries) throw err;
    }
  }
}
