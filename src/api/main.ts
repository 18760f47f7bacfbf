import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import { accountsProblem, loadConfig, type Config } from '../config';
import { logger } from '../logger';
import { loadSealer } from '../secrets/sealer';
import { connectClient } from '../temporal/connection';
import { dataConverterFor } from '../temporal/data-converter';
import { ensureSearchAttributes } from '../temporal/register-search-attributes';
import { startTracing } from '../tracing/tracing';
import { workflowClientInterceptors } from '../tracing/client-interceptors';
import { createApp, type AppDeps } from './app';
import { createLimitedServer, DEFAULT_SERVER_LIMITS, type ServerLimits } from './http-server';
import { answerClientErrorsAsJson } from './errors';

/** The HTTP server's limits on slow and idle clients, from the environment. */
export const serverLimits = (config: Config): ServerLimits => ({
  ...DEFAULT_SERVER_LIMITS,
  headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_SECONDS * 1000,
  requestTimeoutMs: Math.max(config.HTTP_REQUEST_TIMEOUT_SECONDS, config.HTTP_HEADERS_TIMEOUT_SECONDS) * 1000,
  maxConnections: config.HTTP_MAX_CONNECTIONS,
  maxConnectionsPerAddress: config.HTTP_MAX_CONNECTIONS_PER_ADDRESS,
});

/** The API's HTTP server and what it waits for before its Temporal connection may close (`App.settled`). */
export type ApiServer = Server & { settled(): Promise<void> };

/** The API's HTTP server, not yet listening: its limits applied and Node's own refusals answered as JSON. */
export function apiServer(deps: AppDeps): ApiServer {
  const app = createApp(deps);
  const server = createLimitedServer(app.listener, serverLimits(deps.config));
  answerClientErrorsAsJson(server);
  return Object.assign(server, { settled: () => app.settled() });
}

export function listen(client: Client, config: Config): Promise<ApiServer> {
  const sealer = loadSealer({ secretsKey: config.SECRETS_KEY, dataDir: config.DATA_DIR });
  const server = apiServer({
    client,
    config,
    log: logger,
    sealer,
    callbackPolicy: { publicOnly: config.CALLBACK_URLS_PUBLIC_ONLY },
    // The API's tracing: started here, or already by whoever made the client (its interceptors).
    tracer: startTracing(config, 'api')?.tracer,
  });
  return new Promise((resolve, reject) => {
    server.listen(config.PORT, config.HOST, () => resolve(server));
    server.once('error', reject);
  });
}

async function main() {
  const config = loadConfig();
  const noAccount = accountsProblem(config);
  if (noAccount) throw new Error(noAccount);
  const tracing = startTracing(config, 'api');
  const client = await connectClient(config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`, config.TEMPORAL_NAMESPACE, {
    access: config,
    workflowInterceptors: workflowClientInterceptors(tracing),
    dataConverter: dataConverterFor(config),
  });
  // Listing and counting instances query these: refuse to start without them (or say who must create them).
  await ensureSearchAttributes(client.connection, config.TEMPORAL_NAMESPACE);
  const server = await listen(client, config);
  logger.info({ port: config.PORT, publicUrl: config.PUBLIC_URL }, 'API listening');
  const stop = () =>
    server.close(
      () =>
        void server
          .settled()
          .then(() => client.connection.close())
          .then(() => tracing?.shutdown())
          .then(() => process.exit(0)),
    );
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err) => {
    logger.fatal({ err }, 'API failed to start');
    process.exit(1);
  });
}
