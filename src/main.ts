// `npm start`: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), a worker and the API.
import { CODEC_PATH } from './api/codec-server';
import { listen } from './api/main';
import { accountsProblem, loadConfig } from './config';
import { limitHeapGrowth } from './heap-growth';
import { logger } from './logger';
import { connectClient } from './temporal/connection';
import { dataConverterFor } from './temporal/data-converter';
import { startDevServer, type DevServer } from './temporal/dev-server';
import { startTracing } from './tracing/tracing';
import { workflowClientInterceptors } from './tracing/client-interceptors';
import { createWorker } from './worker';

async function main() {
  const config = loadConfig();
  // Refused before anything starts: an API that would let nobody in (or anybody) is a mistake.
  const noAccount = accountsProblem(config);
  if (noAccount) throw new Error(noAccount);
  // The API shares this process with the worker here: its heap is held to the same growth.
  limitHeapGrowth(config.WORKER_HEAP_GROWING_PERCENT);
  let devServer: DevServer | undefined;
  if (!config.TEMPORAL_ADDRESS) {
    logger.info({ dataDir: config.DATA_DIR }, 'starting the embedded Temporal dev server');
    devServer = await startDevServer({
      port: config.TEMPORAL_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      dataDir: config.DATA_DIR,
      namespace: config.TEMPORAL_NAMESPACE,
      // The UI decodes through the API's codec server (operators only: docs/operations.md), called
      // from the operator's browser: localhost, the same site as the UI's localhost, so its cookie goes along.
      codecEndpoint: config.OPERATOR_TOKEN ? `http://localhost:${config.PORT}${CODEC_PATH}` : undefined,
    });
    logger.info({ address: devServer.address, ui: devServer.uiUrl }, 'Temporal dev server ready');
  }
  const address = config.TEMPORAL_ADDRESS ?? devServer!.address;
  // Tracing (OTEL_EXPORTER_OTLP_ENDPOINT): the API's client carries each request's trace into Temporal.
  const tracing = startTracing(config, 'api');
  const client = await connectClient(address, config.TEMPORAL_NAMESPACE, {
    access: config,
    workflowInterceptors: workflowClientInterceptors(tracing),
    dataConverter: dataConverterFor(config),
  });
  const { worker, close } = await createWorker(config, address);
  const running = worker.run();
  const server = await listen(client, config);
  logger.info({ api: `http://localhost:${config.PORT}/elements/api-v2`, ui: devServer?.uiUrl }, 'element-events is up');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    // The SDK reacts to SIGINT/SIGTERM itself and may already be draining.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch((err) => logger.error({ err }, 'worker stopped with an error'));
    await close();
    await server.settled();
    await client.connection.close();
    await tracing?.shutdown();
    await devServer?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  // The SDK's own signal handling also shuts the worker down; ours orders the rest around it.
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  running.catch((err) => {
    logger.fatal({ err }, 'worker failed');
    void stop('worker-failure');
  });
}

main().catch((err) => {
  logger.fatal({ err }, 'element-events failed to start');
  process.exit(1);
});
