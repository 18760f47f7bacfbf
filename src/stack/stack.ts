import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { CODEC_PATH } from '../api/codec-server';
import { loadSealer } from '../secrets/sealer';
import { TRACING_WORKFLOW_MODULES } from '../tracing/worker-options';
import { FAILURE_CONVERTER_PATH } from '../temporal/data-converter';
import { appProcess, projectRoot, waitForApi, waitForWorker } from './apps';
import { ensureBinaries, type StackBinaries } from './binaries';
import { ensureNamespace } from './namespace';
import { Postgres } from './postgres';
import { ManagedProcess } from './process';
import { RoundRobinProxy } from './proxy';
import { setupSchemas, temporalServerProcess, waitForFrontend, type TemporalPorts } from './temporal-server';
import { uiServerProcess } from './ui-server';

export interface StackPorts {
  postgres: number;
  temporal: TemporalPorts;
  ui: number;
  /** The round-robin proxy: the API's one address. */
  proxy: number;
  /** API process n (from 1) listens on apiBase + n - 1. */
  apiBase: number;
}

/** The documented ports: Temporal's usual ones, the UI where `npm start` puts it, the API on PORT and the next ones. */
export function defaultPorts(env: NodeJS.ProcessEnv = process.env): StackPorts {
  const port = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  const proxy = port('PORT', 3000);
  const frontend = port('TEMPORAL_PORT', 7233);
  return {
    postgres: port('STACK_POSTGRES_PORT', 55432),
    temporal: {
      frontend,
      history: frontend + 1,
      matching: frontend + 2,
      worker: frontend + 6,
      frontendHttp: frontend + 10,
      membershipBase: port('STACK_MEMBERSHIP_PORT', 6933),
    },
    ui: port('TEMPORAL_UI_PORT', 8233),
    proxy,
    apiBase: proxy + 1,
  };
}

export interface StackOptions {
  /** Everything the stack keeps: PostgreSQL's cluster, configs, the app's key, every log. */
  dataDir: string;
  /** Start clean: the data folder is deleted first. */
  reset?: boolean;
  ports: StackPorts;
  workers: number;
  apis: number;
  namespace: string;
  retentionSeconds: number;
  taskQueue?: string;
  /** The environment of the workers and API processes (the stack sets Temporal's address and ports over it). */
  appEnv: NodeJS.ProcessEnv;
  /** Start the Temporal UI server (default true). */
  ui?: boolean;
  log?: (msg: string) => void;
}

export interface RunningStack {
  dataDir: string;
  logDir: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  apiUrl: string;
  uiUrl?: string;
  postgres: Postgres;
  temporal: ManagedProcess;
  ui?: ManagedProcess;
  workers: ManagedProcess[];
  apis: ManagedProcess[];
  apiPorts: number[];
  proxy: RoundRobinProxy;
  /** The account the API accepts when none was configured (generated once, kept in the data folder). */
  account?: { user: string; organization: string };
  /** A client connection to the cluster, for checks (closed by stop). */
  connection: Connection;
  /** Waits until this worker polls again (after a restart). */
  workerReady(worker: ManagedProcess): Promise<void>;
  /** Waits until this API answers its health check. */
  apiReady(api: ManagedProcess): Promise<void>;
  /** Stops the Temporal server (SIGTERM, or SIGKILL), starts it on the same database, waits for its frontend. */
  restartTemporal(signal?: NodeJS.Signals): Promise<void>;
  /** PostgreSQL: `pg_ctl stop -m fast`, then start again. */
  restartPostgres(): Promise<void>;
  /** Stops everything in order: proxy, APIs, workers, UI, Temporal, PostgreSQL. */
  stop(): Promise<void>;
}

interface Pids {
  stack: number;
  processes: { name: string; pid: number; command: string }[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The command line of a live process (Linux), to tell a PID of ours from a reused one. */
function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
}

/**
 * A stack killed without its Ctrl-C (SIGKILL, a crash) leaves its processes running: this one's
 * record names them, and those still running the same command are stopped, by PID.
 */
async function reapLeftovers(file: string, log: (msg: string) => void): Promise<void> {
  if (!existsSync(file)) return;
  const pids = JSON.parse(readFileSync(file, 'utf8')) as Pids;
  if (pids.stack !== process.pid && alive(pids.stack) && (commandOf(pids.stack) ?? '').includes('node')) {
    throw new Error(`a stack (PID ${pids.stack}) already runs on this data folder: stop it first (Ctrl-C in its terminal)`);
  }
  for (const p of pids.processes.reverse()) {
    if (!alive(p.pid) || commandOf(p.pid) !== p.command) continue;
    log(`stopping ${p.name} (PID ${p.pid}), left running by an earlier stack`);
    process.kill(p.pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(p.pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }
}

/** The default account's secrets: the environment's, else generated once and kept in the data folder. */
function accountEnv(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): { env: NodeJS.ProcessEnv; generated?: { user: string; organization: string } } {
  if (env.ELEMENTS_ACCOUNTS || (env.ELEMENTS_USER_SECRET && env.ELEMENTS_ORGANIZATION_SECRET)) return { env };
  const file = path.join(dataDir, 'account.json');
  if (!existsSync(file)) {
    const account = { user: randomBytes(18).toString('base64url'), organization: randomBytes(18).toString('base64url') };
    writeFileSync(file, JSON.stringify(account, null, 2), { mode: 0o600 });
  }
  const account = JSON.parse(readFileSync(file, 'utf8')) as { user: string; organization: string };
  return { env: { ...env, ELEMENTS_USER_SECRET: account.user, ELEMENTS_ORGANIZATION_SECRET: account.organization }, generated: account };
}

export async function startStack(opts: StackOptions, binaries: StackBinaries = ensureBinaries(opts.log)): Promise<RunningStack> {
  const log = opts.log ?? ((msg: string) => console.error(msg));
  const dataDir = path.resolve(opts.dataDir);
  const logDir = path.join(dataDir, 'logs');
  const pidFile = path.join(dataDir, 'stack.json');
  const { ports, namespace } = opts;
  if (ports.temporal.membershipBase + 3 > 32_767)
    throw new Error('Temporal membership ports must be under 32768 (PostgreSQL keeps them as smallint)');
  const taskQueue = opts.taskQueue ?? opts.appEnv.TEMPORAL_TASK_QUEUE ?? 'element-events';

  await reapLeftovers(pidFile, log);
  const postgres = new Postgres({
    dataDir: path.join(dataDir, 'postgres'),
    port: ports.postgres,
    logFile: path.join(logDir, 'postgres.log'),
  });
  if (opts.reset && existsSync(dataDir)) {
    postgres.stop('fast');
    rmSync(dataDir, { recursive: true, force: true });
    log(`--reset: deleted ${dataDir}`);
  }
  mkdirSync(logDir, { recursive: true });
  // PostgreSQL runs as its own user (when the stack runs as root): it must get through to its folder.
  chmodSync(dataDir, 0o755);
  const started: ManagedProcess[] = [];
  const record = () =>
    writeFileSync(
      pidFile,
      JSON.stringify(
        {
          stack: process.pid,
          processes: started.filter((p) => p.pid).map((p) => ({ name: p.spec.name, pid: p.pid!, command: p.spec.command })),
        } satisfies Pids,
        null,
        2,
      ),
    );
  record();

  // 1. PostgreSQL
  let t = Date.now();
  const fresh = postgres.init();
  if (postgres.running()) postgres.stop('fast'); // left by a stack that did not stop
  postgres.start();
  postgres.createTemporalUser();
  log(`PostgreSQL on ${postgres.address} (PID ${postgres.pid()}, ${fresh ? 'new' : 'existing'} cluster) in ${Date.now() - t} ms`);

  const stopped: { done?: Promise<void> } = {};
  let connection: Connection | undefined;
  const proxy = new RoundRobinProxy([], (msg) => log(`proxy: ${msg}`));
  const workers: ManagedProcess[] = [];
  const apis: ManagedProcess[] = [];
  let temporal: ManagedProcess | undefined;
  let ui: ManagedProcess | undefined;
  const stop = async () => {
    stopped.done ??= (async () => {
      await proxy.close();
      await Promise.all(apis.map((p) => p.stop('SIGTERM', 15_000)));
      // The SDK drains a worker on SIGTERM: activities in flight finish or are handed back.
      await Promise.all(workers.map((p) => p.stop('SIGTERM', 30_000)));
      await ui?.stop();
      await connection?.close().catch(() => undefined);
      await temporal?.stop('SIGTERM', 20_000);
      postgres.stop('fast');
      rmSync(pidFile, { force: true });
    })();
    await stopped.done;
  };

  try {
    // 2. Schemas, 3. the Temporal server
    t = Date.now();
    setupSchemas(binaries.sql, { host: '127.0.0.1', port: ports.postgres }, fresh, () => undefined);
    log(`schemas applied with temporal-sql-tool in ${Date.now() - t} ms`);
    t = Date.now();
    const temporalAddress = `127.0.0.1:${ports.temporal.frontend}`;
    temporal = temporalServerProcess({
      binary: binaries.server,
      configDir: path.join(dataDir, 'temporal'),
      postgres: postgres.address,
      ports: ports.temporal,
      logFile: path.join(logDir, 'temporal-server.log'),
    }).start();
    started.push(temporal);
    record();
    const server = temporal;
    const serverState = () => (server.running ? '' : `exited with ${server.exitDescription}; see ${server.spec.logFile}`);
    await waitForFrontend(temporalAddress, 120_000, serverState);
    log(`Temporal server ${temporalAddress} (PID ${temporal.pid}) in ${Date.now() - t} ms`);

    // 4. The namespace, its retention and the search attributes
    t = Date.now();
    connection = await Connection.connect({ address: temporalAddress });
    const { created } = await ensureNamespace(connection, namespace, opts.retentionSeconds);
    log(
      `namespace ${namespace} (${created ? 'created' : 'existing'}), retention ${opts.retentionSeconds / 86_400} days, search attributes in ${Date.now() - t} ms`,
    );

    // 5. The UI
    if (opts.ui ?? true) {
      ui = uiServerProcess({
        binary: binaries.ui,
        rootDir: path.join(dataDir, 'ui'),
        temporalAddress,
        port: ports.ui,
        namespace,
        // The APIs' codec server, through the proxy; localhost, the UI's own site, so the operator's cookie goes along.
        codecEndpoint: `http://localhost:${ports.proxy}${CODEC_PATH}`,
        logFile: path.join(logDir, 'temporal-ui.log'),
      }).start();
      started.push(ui);
      record();
    }

    // 6. Workers and APIs, sharing one workflow bundle and one secrets key
    t = Date.now();
    const appData = path.join(dataDir, 'app');
    mkdirSync(appData, { recursive: true });
    const bundlePath = path.join(dataDir, 'workflow-bundle.js');
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(projectRoot, 'src', 'workflows'),
      // Traced workers need the workflow interceptors in their bundle (the worker cannot add them to one).
      ...(opts.appEnv.OTEL_EXPORTER_OTLP_ENDPOINT ? { workflowInterceptorModules: TRACING_WORKFLOW_MODULES } : {}),
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    writeFileSync(bundlePath, code);
    const { env: withAccount, generated } = accountEnv(opts.appEnv, dataDir);
    // Written before any process starts, so that they all read the same key.
    if (!withAccount.SECRETS_KEY) loadSealer({ dataDir: appData });
    const apiPorts = Array.from({ length: opts.apis }, (_, i) => ports.apiBase + i);
    const apiUrl = `http://127.0.0.1:${ports.proxy}`;
    const appEnv: NodeJS.ProcessEnv = {
      ...withAccount,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATA_DIR: appData,
      WORKFLOW_BUNDLE_PATH: withAccount.WORKFLOW_BUNDLE_PATH ?? bundlePath,
      PUBLIC_URL: withAccount.PUBLIC_URL ?? apiUrl,
      // The UI the console links to, and the one origin the codec server answers cross-origin calls from.
      TEMPORAL_UI_URL: withAccount.TEMPORAL_UI_URL ?? `http://localhost:${ports.ui}`,
      // The APIs see the proxy's connections: it passes the client's address on.
      TRUST_PROXY: withAccount.TRUST_PROXY ?? 'loopback',
    };
    for (let n = 1; n <= opts.workers; n++) workers.push(appProcess('worker', n, appEnv, logDir).start());
    for (const [i, port] of apiPorts.entries()) {
      apis.push(appProcess('api', i + 1, { ...appEnv, PORT: String(port), HOST: '127.0.0.1' }, logDir).start());
    }
    started.push(...workers, ...apis);
    record();
    const conn = connection;
    const workerReady = (w: ManagedProcess) => waitForWorker(conn, namespace, taskQueue, w);
    const apiReady = (a: ManagedProcess) => waitForApi(apiPorts[apis.indexOf(a)]!, a);
    await Promise.all(workers.map(workerReady));
    await Promise.all(apis.map(apiReady));
    proxy.backends.push(...apiPorts);
    if (apiPorts.length) await proxy.listen(ports.proxy);
    log(`${workers.length} workers and ${apis.length} APIs ready in ${Date.now() - t} ms`);

    return {
      dataDir,
      logDir,
      temporalAddress,
      namespace,
      taskQueue,
      apiUrl,
      uiUrl: ui ? `http://localhost:${ports.ui}` : undefined,
      postgres,
      temporal,
      ui,
      workers,
      apis,
      apiPorts,
      proxy,
      account: generated,
      connection,
      workerReady,
      apiReady,
      async restartTemporal(signal: NodeJS.Signals = 'SIGTERM') {
        await server.stop(signal);
        server.start();
        record();
        await waitForFrontend(temporalAddress, 120_000, serverState);
        await waitForNamespaceServed(conn, namespace);
      },
      async restartPostgres() {
        postgres.stop('fast');
        postgres.start();
        await waitForNamespaceServed(conn, namespace);
      },
      stop,
    };
  } catch (err) {
    log(`start failed: ${(err as Error).message}; stopping what started`);
    await stop();
    throw err;
  }
}

/** Until the frontend serves the namespace again (describe-namespace reads PostgreSQL). */
async function waitForNamespaceServed(connection: Connection, namespace: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const { namespaceInfo } = await connection.withDeadline(Date.now() + 5000, () =>
        connection.workflowService.describeNamespace({ namespace }),
      );
      if (namespaceInfo?.name === namespace) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
