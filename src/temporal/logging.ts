import { DefaultLogger, Runtime, type LogLevel, type LogMetadata, type MetricsExporterConfig } from '@temporalio/worker';
import type { Logger } from '../logger';

const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

/**
 * Routes the SDK's logs (workflow and activity `log` calls included) into the app's pino logger, and
 * turns on the SDK's metrics exporter when given one. The SDK's Runtime is installed once per process,
 * before its first NativeConnection: the first call decides.
 */
export function installTemporalLogger(logger: Logger, opts: { metrics?: MetricsExporterConfig } = {}): void {
  if (installed) {
    if (opts.metrics) logger.warn("the Temporal SDK's runtime was installed already: its metrics exporter stays as it was");
    return;
  }
  installed = true;
  Runtime.install({
    logger: new DefaultLogger('INFO', ({ level, message, meta }) => {
      logger[levels[level]]({ ...(meta as LogMetadata) }, message);
    }),
    // The SDK's native side (connection retries and the like) logs through pino too, not to the console.
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    },
  });
}
