import express from 'express';
import { listenOnFreePort } from './http-server';

type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
interface KeyValue {
  key: string;
  value: AnyValue;
}

/** One span as an OTLP/HTTP JSON export carries it (ids in hex), with the service that sent it. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean | undefined>;
  /** 0 unset, 1 ok, 2 error. */
  status: { code?: number; message?: string };
}

const valueOf = (v: AnyValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
const attributesOf = (list: KeyValue[] = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/**
 * An OpenTelemetry collector in memory: accepts `POST /v1/traces` as OTLP/HTTP JSON (what
 * @opentelemetry/exporter-trace-otlp-http sends by default), keeps every span and every body as received.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** The request bodies, as text: what left the processes, to search for what must not. */
  readonly bodies: string[] = [];
  /** Requests that were not OTLP JSON (their content types). */
  readonly refused: string[] = [];
  url = '';
  private close?: () => Promise<void>;

  async start(): Promise<string> {
    const app = express();
    app.post('/v1/traces', express.raw({ type: () => true, limit: '20mb' }), (req, res) => {
      // express.raw has inflated a gzip body already.
      const bytes = req.body as Buffer;
      if (!req.header('content-type')?.startsWith('application/json')) {
        this.refused.push(req.header('content-type') ?? 'none');
        res.status(415).end();
        return;
      }
      const text = bytes.toString('utf8');
      this.bodies.push(text);
      const body = JSON.parse(text) as {
        resourceSpans?: {
          resource?: { attributes?: KeyValue[] };
          scopeSpans?: {
            spans?: (Omit<ReceivedSpan, 'attributes' | 'service' | 'status'> & {
              attributes?: KeyValue[];
              status?: ReceivedSpan['status'];
            })[];
          }[];
        }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            this.spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              attributes: attributesOf(s.attributes),
              status: s.status ?? {},
            });
      }
      res.json({ partialSuccess: {} });
    });
    const listening = await listenOnFreePort(app);
    this.url = listening.url;
    this.close = listening.close;
    return this.url;
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  async stop(): Promise<void> {
    await this.close?.();
  }
}
