import express from 'express';
import type { Notification } from '../../src/events/notification';
import { listenOnFreePort } from './http-server';

export interface Received {
  at: number;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  body: Notification & {
    message: { raw: { objectType?: string; objects?: Record<string, unknown>[] } & Record<string, unknown> };
  };
  answered: number;
}

/** A real HTTP receiver for notifications: records every request and answers as told. */
export class CallbackSink {
  readonly received: Received[] = [];
  url = '';
  private plan: (number | { status: number; headers: Record<string, string> })[] = [];
  /** While set, every request is answered with this status (a callback that is down), the plan untouched. */
  down?: number;
  /** How long each answer is held back (ms), so that requests a sender makes at once overlap here. */
  holdMs = 0;
  /** Requests being answered now, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  private close?: () => Promise<void>;

  /** The next requests answer these statuses (optionally with headers), in order; afterwards 200. */
  answerNext(...answers: (number | { status: number; headers: Record<string, string> })[]): void {
    this.plan.push(...answers);
  }

  /** Requests answered 2xx. */
  accepted(): Received[] {
    return this.received.filter((r) => r.answered >= 200 && r.answered < 300);
  }

  /** Every event in accepted notifications, with its notification's eventId. */
  acceptedEvents() {
    return this.accepted().flatMap((r) => r.body.message.events.map((e) => ({ ...e, eventId: r.body.message.eventId })));
  }

  async waitFor(predicate: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async start(port = 0): Promise<string> {
    const app = express();
    app.post('/callback', express.text({ type: '*/*', limit: '10mb' }), async (req, res) => {
      this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
      if (this.holdMs) await new Promise((r) => setTimeout(r, this.holdMs));
      this.inFlight--;
      const answer = this.down ?? this.plan.shift() ?? 200;
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      this.received.push({ at: Date.now(), headers: req.headers, rawBody: req.body, body: JSON.parse(req.body), answered: status });
      res
        .status(status)
        .set(headers)
        .json({ ok: status < 300 });
    });
    const listening = await listenOnFreePort(app, port);
    this.close = listening.close;
    this.url = `${listening.url}/callback`;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.close?.();
  }
}

/** Runs `fn` with a sink of its own (so no other traffic takes its planned answers), then stops it. */
export async function withSink(fn: (sink: CallbackSink) => Promise<void>): Promise<void> {
  const sink = new CallbackSink();
  await sink.start();
  try {
    await fn(sink);
  } finally {
    await sink.stop();
  }
}
