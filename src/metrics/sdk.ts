import type { MetricsExporterConfig } from '@temporalio/worker';
import type { Config } from '../config';

/**
 * The Temporal SDK's own worker metrics (task slots, poll and schedule-to-start latencies, sticky
 * cache, activity and workflow task outcomes), served by the SDK's native Prometheus exporter on a
 * port of its own: TEMPORAL_SDK_METRICS_PORT, on loopback unless TEMPORAL_SDK_METRICS_HOST says
 * otherwise. That exporter takes no credential, so it is off unless set, and should stay on loopback
 * or a network only Prometheus reaches. Names follow Prometheus' conventions (`_total`, `_seconds`).
 *
 * It is part of the SDK's Runtime, which a process installs once, before its first NativeConnection:
 * see installTemporalLogger.
 */
export function sdkMetricsExporter(
  config: Pick<Config, 'TEMPORAL_SDK_METRICS_PORT' | 'TEMPORAL_SDK_METRICS_HOST'>,
): MetricsExporterConfig | undefined {
  if (config.TEMPORAL_SDK_METRICS_PORT === undefined) return undefined;
  const host = config.TEMPORAL_SDK_METRICS_HOST.includes(':') ? `[${config.TEMPORAL_SDK_METRICS_HOST}]` : config.TEMPORAL_SDK_METRICS_HOST;
  return {
    prometheus: {
      bindAddress: `${host}:${config.TEMPORAL_SDK_METRICS_PORT}`,
      countersTotalSuffix: true,
      unitSuffix: true,
      useSecondsForDurations: true,
    },
  };
}
