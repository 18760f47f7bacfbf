// `npm run stack [-- --reset]`: the production shape on this machine. PostgreSQL, the Temporal server
// (built once from the Go module proxy), its UI, STACK_WORKERS workers and STACK_APIS API processes
// behind a round-robin proxy on PORT. Ctrl-C stops all in order; the next run carries on.
import path from 'node:path';
import { CODEC_PATH } from '../api/codec-server';
import { DEFAULT_RETENTION, parseRetention } from './namespace';
import { projectRoot } from './apps';
import { defaultPorts, startStack } from './stack';

function count(name: string, fallback: number): number {
  const text = process.env[name];
  const n = text ? Number(text) : fallback;
  if (!Number.isInteger(n) || n < 1 || n > 32) throw new Error(`${name}: "${text}" is not a count from 1 to 32`);
  return n;
}

async function main() {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--reset');
  if (unknown.length) throw new Error(`unknown arguments ${unknown.join(' ')}; the only one is --reset`);
  const env = process.env;
  const dataDir = path.resolve(env.STACK_DATA_DIR || path.join(projectRoot, 'data', 'stack'));
  const retentionText = env.TEMPORAL_RETENTION || DEFAULT_RETENTION;
  const namespace = env.TEMPORAL_NAMESPACE || 'default';
  const ports = defaultPorts(env);
  const log = (msg: string) => console.log(`[stack] ${msg}`);
  const stack = await startStack({
    dataDir,
    reset: args.includes('--reset'),
    ports,
    workers: count('STACK_WORKERS', 2),
    apis: count('STACK_APIS', 2),
    namespace,
    retentionSeconds: parseRetention(retentionText),
    appEnv: { ...env, TEMPORAL_ADDRESS: undefined, PORT: undefined },
    log,
  });

  const lines = [
    '',
    `API          ${stack.apiUrl}/elements/api-v2   (round robin over ${stack.apiPorts.map((p) => `:${p}`).join(' ')})`,
    `Temporal     ${stack.temporalAddress}   namespace ${namespace}, retention ${retentionText}`,
    ...(stack.uiUrl ? [`Temporal UI  ${stack.uiUrl}`] : []),
    ...(stack.uiUrl
      ? [`Codec        http://localhost:${ports.proxy}${CODEC_PATH}/sign-in   (operators sign in with OPERATOR_TOKEN; then the UI decodes)`]
      : []),
    `PostgreSQL   ${stack.postgres.address}   (psql -h 127.0.0.1 -p ${ports.postgres} -U temporal temporal)`,
    ...(stack.account
      ? [
          `Account      User ${stack.account.user}, Organization ${stack.account.organization}   (generated: ${path.join(dataDir, 'account.json')})`,
        ]
      : []),
    `Data         ${dataDir}`,
    `Logs         ${stack.logDir}/`,
    ...[stack.temporal, ...(stack.ui ? [stack.ui] : []), ...stack.workers, ...stack.apis].map(
      (p) => `  ${p.spec.name.padEnd(16)} PID ${String(p.pid).padEnd(8)} ${path.basename(p.spec.logFile)}`,
    ),
    `  ${'postgres'.padEnd(16)} PID ${String(stack.postgres.pid()).padEnd(8)} postgres.log`,
    '',
    'Ctrl-C stops everything; `npm run stack` carries on with the same data, `npm run stack -- --reset` starts clean.',
  ];
  console.log(lines.join('\n'));

  let stopping = false;
  // A process that dies on its own is reported (its log says why); the rest keeps running.
  for (const p of [stack.temporal, ...(stack.ui ? [stack.ui] : []), ...stack.workers, ...stack.apis]) {
    void p.exited.then(() => {
      if (!stopping) log(`${p.spec.name} (PID ${p.pid}) exited with ${p.exitDescription}; see ${p.spec.logFile}`);
    });
  }
  const stop = (signal: string) => {
    if (stopping) return log('still stopping (APIs, workers, UI, Temporal, PostgreSQL in that order)');
    stopping = true;
    log(`${signal}: stopping`);
    stack.stop().then(
      () => {
        log('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`[stack] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
