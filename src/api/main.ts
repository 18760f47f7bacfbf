import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../config';
import { logger } from '../logger';
import { loadSealer } from '../secrets/sealer';
import { connectClient } from '../temporal/connection';
import { createApp } from './app';
import { answerClientErrorsAsJson } from './errors';

export function listen(client: Client, config: Config): Promise<Server> {
  const app = createApp({ client, config, log: logger, sealer: loadSealer({ secretsKey: config.SECRETS_KEY, dataDir: config.DATA_DIR }) });
  return new Promise((resolve, reject) => {
    const server = app.listen(config.PORT, () => resolve(server));
    answerClientErrorsAsJson(server);
    server.once('error', reject);
  });
}

async function main() {
  const config = loadConfig();
  const client = await connectClient(config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`, config.TEMPORAL_NAMESPACE);
  const server = await listen(client, config);
  logger.info({ port: config.PORT, publicUrl: config.PUBLIC_URL }, 'API listening');
  const stop = () => server.close(() => void client.connection.close().then(() => process.exit(0)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err) => {
    logger.fatal({ err }, 'API failed to start');
    process.exit(1);
  });
}
