import { ensureBinaries } from '../../src/stack/binaries';
import { DEFAULT_RETENTION, parseRetention } from '../../src/stack/namespace';
import { startStack, type RunningStack } from '../../src/stack/stack';
import { stackPorts } from './ports';

/**
 * The cluster alone (PostgreSQL, the Temporal server, the default namespace with its retention, the
 * search attributes): no workers, APIs or UI, for a test run or a benchmark that brings its own app.
 */
export async function startBareCluster(
  dataDir: string,
  log: (msg: string) => void,
  /** Where the build of missing binaries reports (default: `log`). */
  buildLog: (msg: string) => void = log,
): Promise<RunningStack> {
  const binaries = ensureBinaries(buildLog);
  return startStack(
    {
      dataDir,
      ports: await stackPorts(),
      workers: 0,
      apis: 0,
      ui: false,
      namespace: 'default',
      retentionSeconds: parseRetention(DEFAULT_RETENTION),
      appEnv: {},
      log,
    },
    binaries,
  );
}
