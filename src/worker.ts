import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { EndpointGate } from './activities/endpoint-gate';
import { loadConfig, type Config } from './config';
import { limitHeapGrowth } from './heap-growth';
import type { LookupFn } from './events/callback-url';
import { logger } from './logger';
import { serveWorkerMetrics } from './metrics/server';
import { sdkMetricsExporter } from './metrics/sdk';
import { loadSealer } from './secrets/sealer';
import { connectionSecurity } from './temporal/connection';
import { dataConverterFor } from './temporal/data-converter';
import { installTemporalLogger } from './temporal/logging';
import { ensureSearchAttributes } from './temporal/register-search-attributes';
import { startTracing } from './tracing/tracing';
import { workflowClientInterceptors } from './tracing/client-interceptors';
import { workerTracingOptions } from './tracing/worker-options';

export async function createWorker(
  config: Config,
  address: string,
  /** Tests resolve callback hosts with a stub of their own. */
  opts: { lookup?: LookupFn } = {},
): Promise<{ worker: Worker; close(): Promise<void> }> {
  // The SDK's metrics exporter only when configured: tests create workers in-process, many per run.
  installTemporalLogger(logger, { metrics: sdkMetricsExporter(config) });
  const connection = await NativeConnection.connect({ address, ...connectionSecurity(config) });
  // The workflows set these; a namespace without them fails every instance start, so the worker says so first.
  const { created } = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  if (created.length) logger.info({ namespace: config.TEMPORAL_NAMESPACE, created }, 'search attributes created');
  // Activities start delivery workflows. A client on the worker's own connection can start them
  // eagerly: the server hands the first workflow task straight back to this worker.
  // Tracing (OTEL_EXPORTER_OTLP_ENDPOINT set): the delivery workflows' starts carry the trace on.
  const tracing = startTracing(config, 'worker');
  // One data converter for both: the workflows' payloads and those the activities' client writes are encrypted alike.
  const dataConverter = dataConverterFor(config);
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter,
    interceptors: { workflow: workflowClientInterceptors(tracing) },
  });
  // Held here so that its last outcome reports settle before the connection closes (EndpointGate.settled).
  const endpointGate = new EndpointGate(client);
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
      tracer: tracing?.tracer,
      endpointGate,
    }),
    ...workerTracingOptions(tracing),
  });
  return {
    worker,
    async close() {
      await endpointGate.settled();
      await connection.close();
      await tracing?.shutdown();
    },
  };
}

async function main() {
  const config = loadConfig();
  // Before the worker starts its workflow threads, so that it holds for them too.
  limitHeapGrowth(config.WORKER_HEAP_GROWING_PERCENT);
  const address = config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
  const { worker, close } = await createWorker(config, address);
  const metricsServer = await serveWorkerMetrics(config, logger);
  logger.info(
    {
      address,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      metricsPort: config.WORKER_METRICS_PORT,
      sdkMetricsPort: config.TEMPORAL_SDK_METRICS_PORT,
    },
    'worker started',
  );
  await worker.run(); // the SDK shuts the worker down on SIGINT/SIGTERM
  metricsServer?.close();
  await close();
}

if (require.main === module) {
  main().catch((err) => {
    logger.fatal({ err }, 'worker failed');
    process.exit(1);
  });
}
