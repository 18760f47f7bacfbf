import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Config } from '../config';
import { RedactingExporter } from './redacting-exporter';

/** Which process a span comes from: its `service.name` unless OTEL_SERVICE_NAME names it. */
export type TracingRole = 'api' | 'worker';

/** A process's tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
export interface Tracing {
  role: TracingRole;
  tracer: Tracer;
  /** Where spans go: the worker hands it the spans its workflows make (they are made inside the sandbox). */
  processor: SpanProcessor;
  resource: Resource;
  /** Sends what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

export type TracingConfig = Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>;

const started = new Map<TracingRole, Tracing>();

/**
 * The tracing of this process's API or worker, started on first use: an OTLP/HTTP exporter (JSON) to
 * `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`, batched. Unset endpoint: undefined, and nothing of
 * OpenTelemetry is installed, so no interceptor runs and no header or field is added anywhere.
 * `npm start` runs both in one process: each has its own provider (and service name), and the
 * context and W3C propagator, which must be process-wide for the SDK's interceptors, are set once.
 */
export function startTracing(config: TracingConfig, role: TracingRole): Tracing | undefined {
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  const running = started.get(role);
  if (running) return running;
  const resource = new Resource({ 'service.name': config.OTEL_SERVICE_NAME ?? `element-events-${role}` });
  const exporter = new OTLPTraceExporter({ url: `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` });
  const processor = new BatchSpanProcessor(new RedactingExporter(exporter));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The first one in the process installs the context manager and propagator (and is the global provider).
  if (!started.size) provider.register({ propagator: new W3CTraceContextPropagator() });
  const tracing: Tracing = {
    role,
    tracer: provider.getTracer('element-events'),
    processor,
    resource,
    async shutdown() {
      started.delete(role);
      await provider.shutdown();
      if (!started.size) {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
  started.set(role, tracing);
  return tracing;
}
