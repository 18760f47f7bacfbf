import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ManagedProcess, waitFor } from './process';
import { TEMPORAL_DB_PASSWORD, TEMPORAL_DB_USER } from './postgres';

export interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  /** Four consecutive membership (ringpop) ports from this one: frontend, history, matching, worker. */
  membershipBase: number;
}

/**
 * Dynamic config the stack's server runs with, kept beside docker/temporal/dynamicconfig.yaml (the
 * compose file's copy): eager workflow start, which the delivery batches use (activities/dispatch.ts), eager
 * activity execution, and a query buffer for more than one query of an instance at a time.
 */
export const DYNAMIC_CONFIG = `# Read by the Temporal server every 10 s (dynamicConfigClient.pollInterval).
# Delivery batches start eagerly on the worker that starts them (src/activities/dispatch.ts), and an
# activity goes straight back to the worker whose workflow task scheduled it when that worker has a slot.
system.enableEagerWorkflowStart:
  - value: true
system.enableActivityEagerExecution:
  - value: true
# Queries of one instance that meet while its workflow task is out wait in this buffer (default 1); one
# more is refused RESOURCE_EXHAUSTED and retried after about 1 s, a 1 s stall in a webhook hand-off.
history.maxBufferedQueryCount:
  - value: 100
`;

export const DATABASES = { main: 'temporal', visibility: 'temporal_visibility' } as const;

/** The server's static configuration: all four services in one process, PostgreSQL for history and visibility. */
export function serverConfig(opts: { postgres: string; ports: TemporalPorts; dynamicConfigFile: string; logLevel?: string }): string {
  const { ports } = opts;
  const store = (db: string, maxConns: number) => `      sql:
        pluginName: postgres12
        databaseName: ${db}
        connectAddr: "${opts.postgres}"
        connectProtocol: tcp
        user: ${TEMPORAL_DB_USER}
        password: ${TEMPORAL_DB_PASSWORD}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (grpcPort: number, membershipPort: number, extra = '') => `    rpc:
      grpcPort: ${grpcPort}
      membershipPort: ${membershipPort}
      bindOnLocalHost: true${extra}`;
  return `# Written by npm run stack (src/stack/temporal-server.ts) on every start.
log:
  stdout: true
  level: ${opts.logLevel ?? 'warn'}
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
${store(DATABASES.main, 20)}
    postgres-visibility:
${store(DATABASES.visibility, 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
${service(ports.frontend, ports.membershipBase, `\n      httpPort: ${ports.frontendHttp}`)}
  history:
${service(ports.history, ports.membershipBase + 1)}
  matching:
${service(ports.matching, ports.membershipBase + 2)}
  worker:
${service(ports.worker, ports.membershipBase + 3)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.frontend}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${opts.dynamicConfigFile}
  pollInterval: 10s
`;
}

/**
 * Creates Temporal's two databases and their schemas with the SQL tool (the schema files are inside
 * it). On a database that has them, only `update-schema` runs: it applies newer versions, if any.
 */
export function setupSchemas(sqlTool: string, postgres: { host: string; port: number }, fresh: boolean, log: (msg: string) => void): void {
  const env = {
    ...process.env,
    SQL_PLUGIN: 'postgres12',
    SQL_HOST: postgres.host,
    SQL_PORT: String(postgres.port),
    SQL_USER: TEMPORAL_DB_USER,
    SQL_PASSWORD: TEMPORAL_DB_PASSWORD,
  };
  const sql = (args: string[]) => {
    const r = spawnSync(sqlTool, args, { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`temporal-sql-tool ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  };
  for (const [db, schema] of [
    [DATABASES.main, 'postgresql/v12/temporal'],
    [DATABASES.visibility, 'postgresql/v12/visibility'],
  ] as const) {
    if (fresh) {
      sql(['--db', db, 'create-database']);
      sql(['--db', db, 'setup-schema', '-v', '0.0']);
    }
    sql(['--db', db, 'update-schema', '--schema-name', schema]);
    log(`schema ${schema} applied to ${db}`);
  }
}

/** Answers once the frontend serves gRPC and the cluster is healthy. */
export async function waitForFrontend(address: string, timeoutMs: number, explain?: () => string): Promise<void> {
  await waitFor(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    },
    `Temporal frontend on ${address}`,
    timeoutMs,
    explain,
  );
}

export function temporalServerProcess(opts: {
  binary: string;
  configDir: string;
  postgres: string;
  ports: TemporalPorts;
  logFile: string;
  logLevel?: string;
}): ManagedProcess {
  mkdirSync(opts.configDir, { recursive: true });
  const dynamicConfigFile = path.resolve(opts.configDir, 'dynamicconfig.yaml');
  const configFile = path.resolve(opts.configDir, 'temporal.yaml');
  writeFileSync(dynamicConfigFile, DYNAMIC_CONFIG);
  writeFileSync(configFile, serverConfig({ postgres: opts.postgres, ports: opts.ports, dynamicConfigFile, logLevel: opts.logLevel }));
  return new ManagedProcess({
    name: 'temporal-server',
    command: opts.binary,
    args: ['--config-file', configFile, '--allow-no-auth', 'start'],
    logFile: opts.logFile,
  });
}
