import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** A status message that is only a failure's type name (what our own spans set), not free text. */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,99}$/;

/**
 * What leaves the process keeps failures' types and drops their text. The SDK's interceptors put an
 * error's message in the span status and its message and stack in an `exception` event, and an
 * activity's error may quote a provider's answer (a customer record): history encrypts failure
 * messages for that reason, and traces must not carry them in clear either.
 */
export function redacted(span: ReadableSpan): ReadableSpan {
  const message = span.status.message && TYPE_NAME.test(span.status.message) ? span.status.message : undefined;
  const events = span.events.map((e) =>
    e.name === 'exception' ? { ...e, attributes: { 'exception.type': e.attributes?.['exception.type'] ?? 'Error' } } : e,
  );
  // The span itself stays the prototype: the exporter reads its other fields and calls its methods.
  return Object.create(span, {
    status: { value: { code: span.status.code, ...(message ? { message } : {}) } },
    events: { value: events },
  }) as ReadableSpan;
}

export class RedactingExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans.map(redacted), resultCallback);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
