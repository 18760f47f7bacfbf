import { context, propagation, ROOT_CONTEXT, trace, type Context, type Link } from '@opentelemetry/api';

/**
 * The W3C `traceparent` of the active span, to carry as plain data where no Temporal header goes
 * along (a webhook waits in the instance's state until its main loop hands it on). Undefined when
 * tracing is off: no propagator is installed then, so nothing is written.
 */
export function activeTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The context a carried `traceparent` names (the root context if it names none), to parent a span on. */
export function contextOf(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** Links to the spans carried `traceparent`s name: a span serving several webhooks points at each. */
export function linksTo(traceparents: readonly (string | undefined)[]): Link[] {
  return traceparents.flatMap((tp) => {
    const span = trace.getSpanContext(contextOf(tp));
    return span ? [{ context: span }] : [];
  });
}
