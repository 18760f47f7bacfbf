import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { loadConfig, type Config } from './config';
import type { LookupFn } from './events/callback-url';
import { logger } from './logger';
import { loadSealer } from './secrets/sealer';
import { connectionSecurity } from './temporal/connection';
import { dataConverterFor } from './temporal/data-converter';
import { installTemporalLogger } from './temporal/logging';
import { ensureSearchAttributes } from './temporal/register-search-attributes';

export async function createWorker(
  config: Config,
  address: string,
  /** Tests resolve callback hosts with a stub of their own. */
  opts: { lookup?: LookupFn } = {},
): Promise<{ worker: Worker; close(): Promise<void> }> {
  installTemporalLogger(logger);
  const connection = await NativeConnection.connect({ address, ...connectionSecurity(config) });
  // The workflows set these; a namespace without them fails every instance start, so the worker says so first.
  const { created } = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  if (created.length) logger.info({ namespace: config.TEMPORAL_NAMESPACE, created }, 'search attributes created');
  // Activities start delivery workflows. A client on the worker's own connection can start them
  // eagerly: the server hands the first workflow task straight back to this worker.
  // One data converter for both: the workflows' payloads and those the activities' client writes are encrypted alike.
  const dataConverter = dataConverterFor(config);
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
  const worker = await Worker.create({
    connection,
    dataConverter,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    ...(process.env.WORKFLOW_BUNDLE_PATH
      ? { workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH } }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities({
      client,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      urls: config.providerUrls,
      sealer: loadSealer({ secretsKey: config.SECRETS_KEY, dataDir: config.DATA_DIR }),
      deliverySchedule: { firstRetrySeconds: config.DELIVERY_FIRST_RETRY_SECONDS, maxAttempts: config.DELIVERY_MAX_ATTEMPTS },
      eagerStart: true,
      callbackPolicy: { publicOnly: config.CALLBACK_URLS_PUBLIC_ONLY, lookup: opts.lookup },
      callbackTimeoutMs: config.CALLBACK_TIMEOUT_SECONDS * 1000,
    }),
  });
  return {
    worker,
    async close() {
      await connection.close();
    },
  };
}

async function main() {
  const config = loadConfig();
  const address = config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
  const { worker, close } = await createWorker(config, address);
  logger.info({ address, taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker started');
  await worker.run(); // the SDK shuts the worker down on SIGINT/SIGTERM
  await close();
}

if (require.main === module) {
  main().catch((err) => {
    logger.fatal({ err }, 'worker failed');
    process.exit(1);
  });
}
