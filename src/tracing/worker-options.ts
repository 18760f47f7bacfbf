import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import type { Tracing } from './tracing';

/**
 * The SDK's workflow interceptors, updates and queries left untraced (`workflow-interceptors.ts` says
 * why). They run inside the workflow sandbox, so they are a module the bundle includes. A bundle built ahead (WORKFLOW_BUNDLE_PATH) for a traced worker must be built with
 * them: `bundleWorkflowCode({ workflowInterceptorModules: TRACING_WORKFLOW_MODULES, ... })`.
 */
export const TRACING_WORKFLOW_MODULES = [require.resolve('./workflow-interceptors')];

/**
 * What a worker adds for tracing: the workflow interceptors module, an activity span per execution
 * (parented on the span that scheduled it), and the sink through which the workflows' spans leave the
 * sandbox. Nothing when tracing is off.
 */
export function workerTracingOptions(tracing: Tracing | undefined): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing) return {};
  return {
    interceptors: {
      workflowModules: TRACING_WORKFLOW_MODULES,
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: workflowSpanSinks(tracing),
  };
}

/**
 * The sink for workflow spans. The SDK copies the whole workflow info onto every span as attributes,
 * memo and search attributes included; only the workflow's identity is passed on, so what a memo
 * holds never leaves in a trace.
 */
export function workflowSpanSinks(tracing: Tracing): InjectedSinks<OpenTelemetrySinks> {
  const { export: exportSpans } = makeWorkflowExporter(tracing.processor, tracing.resource);
  return {
    exporter: {
      export: {
        ...exportSpans,
        fn: (info, spans) =>
          exportSpans.fn(
            {
              workflowId: info.workflowId,
              runId: info.runId,
              workflowType: info.workflowType,
              taskQueue: info.taskQueue,
              namespace: info.namespace,
            } as typeof info,
            spans,
          ),
      },
    },
  };
}
