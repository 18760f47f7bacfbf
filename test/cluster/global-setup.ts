import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBinaries } from '../../src/stack/binaries';
import { DEFAULT_RETENTION, parseRetention } from '../../src/stack/namespace';
import { startStack, type RunningStack } from '../../src/stack/stack';
import { stackPorts } from './ports';

/**
 * `npm run test:cluster`: one cluster for the whole run (PostgreSQL, the Temporal server built from
 * the Go module proxy, schemas by the SQL tool, the namespace with its retention, the search
 * attributes). Suites that reuse the integration harness run their workers and APIs against it
 * (TEST_TEMPORAL_ADDRESS); the fault suite starts a stack of its own, which it breaks.
 */
export default async function globalSetup(): Promise<void> {
  process.env.LOG_LEVEL ??= 'warn';
  const started = Date.now();
  const binaries = ensureBinaries((msg) => process.stdout.write(`${msg}\n`));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'element-events-cluster-'));
  const stack = await startStack(
    {
      dataDir: dir,
      ports: await stackPorts(),
      workers: 0,
      apis: 0,
      ui: false,
      namespace: 'default',
      retentionSeconds: parseRetention(DEFAULT_RETENTION),
      appEnv: {},
      log: () => undefined,
    },
    binaries,
  ).catch((err: unknown) => {
    // The stack stopped what it had started; its folder (and the server's log) would be left behind.
    process.stdout.write(`cluster start failed; its logs: ${dir}/logs (kept)\n`);
    throw err;
  });
  process.stdout.write(
    `\ncluster for the run: Temporal ${stack.temporalAddress} on PostgreSQL ${stack.postgres.address}, up in ${Date.now() - started} ms\n`,
  );
  process.env.TEST_TEMPORAL_ADDRESS = stack.temporalAddress;
  process.env.TEST_DATA_DIR = dir;
  process.env.WORKFLOW_BUNDLE_PATH = path.join(dir, 'workflow-bundle.js');
  process.env.CLUSTER_TEST_RUN = '1';
  (globalThis as { __cluster?: RunningStack }).__cluster = stack;
}
