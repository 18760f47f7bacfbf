import type { Client } from '@temporalio/client';
import { instanceWorkflowId } from '../workflows/ids';
import { endpointGateQuery, endpointOutcomesSignal, endpointProbeUpdate } from '../workflows/messages';
import type { EndpointGateState, EndpointOutcomes } from '../workflows/types';

/** A recovering endpoint's backlog drains at `maxRate`, or at this many POSTs a second when it has none. */
export const DEFAULT_DRAIN_RATE = 10;
/** The instance's endpoint state is read at most this often per instance (a query)... */
const READ_EVERY_MS = 1000;
/**
 * ...but only this often for a first attempt when it was healthy and this worker saw no failure of
 * its callback lately: the hot path of healthy instances costs a query per 30 s, not per second.
 */
const READ_HEALTHY_EVERY_MS = 30_000;
const SUSPECT_AFTER_FAILURE_MS = 3_600_000;
/** Outcomes go to the instance at most this often per instance (a signal), gathered meanwhile. */
const REPORT_EVERY_MS = 1000;
/** The first outcome waits this long for others of the same moment (a batch's attempts) before it is reported. */
const GATHER_MS = 100;
/** Others wait this long after a probe was granted, for its outcome, before asking again. */
const PROBE_SETTLE_MS = 2000;
/** A held attempt asks again after this long at least. */
const MIN_HOLD_MS = 500;
const MAX_FAILED_IDS = 5;

const HEALTHY: EndpointGateState = { state: 'healthy' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Go: the attempt may POST now. Held (by an open circuit, or a rate slot too far off): not attempted; ask again at `heldUntilMs`. */
export type GateDecision = { go: true; probe?: boolean } | { go: false; heldUntilMs: number; by?: 'circuit' | 'rate' };

/**
 * The worker's side of endpoint health, per instance: a cache of the instance's endpoint state (read
 * at most once a second), the gate every attempt passes (circuit open: held but for one probe per
 * probe interval; recovering: spaced at the drain rate; `maxRate`: spaced at it), and the aggregator
 * that reports attempt outcomes to the instance, at most one signal a second. All of it holds per
 * worker process: two workers each space their own POSTs at `maxRate`.
 */
export class EndpointGate {
  private readonly read = new Map<number, { gate: EndpointGateState; atMs: number }>();
  private readonly reading = new Map<number, Promise<EndpointGateState>>();
  private readonly probing = new Map<number, Promise<boolean>>();
  private readonly nextSlotMs = new Map<number, number>();
  /** When the gate last let an attempt at the instance go: no two go closer than 1/rate. */
  private readonly lastGoMs = new Map<number, number>();
  private readonly pending = new Map<number, EndpointOutcomes>();
  private readonly reportTimers = new Map<number, NodeJS.Timeout>();
  /** Reports under way (a signal may sit in the client's retry backoff): see `settled`. */
  private readonly reporting = new Set<Promise<void>>();
  private readonly lastReportMs = new Map<number, number>();
  /** When this worker last saw an attempt at the instance's callback fail. */
  private readonly lastFailureMs = new Map<number, number>();

  constructor(private readonly client: Client) {}

  private handle(instanceId: number) {
    return this.client.workflow.getHandle(instanceWorkflowId(instanceId));
  }

  /**
   * The instance's endpoint state, at most a second old (`fresh`: read now; `relaxed`: up to 30 s old
   * while healthy and with no failure seen here lately).
   */
  async state(instanceId: number, fresh = false, relaxed = false): Promise<EndpointGateState> {
    const cached = this.read.get(instanceId);
    const ageMs = cached ? Date.now() - cached.atMs : Infinity;
    const trusted =
      relaxed &&
      cached?.gate.state === 'healthy' &&
      ageMs < READ_HEALTHY_EVERY_MS &&
      Date.now() - (this.lastFailureMs.get(instanceId) ?? -Infinity) > SUSPECT_AFTER_FAILURE_MS;
    if (!fresh && cached && (ageMs < READ_EVERY_MS || trusted)) return cached.gate;
    const inFlight = this.reading.get(instanceId);
    if (inFlight) return inFlight;
    const reading = this.handle(instanceId)
      .query(endpointGateQuery)
      // Unreadable (deleted, or run by a worker without endpoint health): the attempt goes on as before.
      .catch(() => cached?.gate ?? HEALTHY)
      .then((gate) => {
        this.remember(instanceId, gate);
        return gate;
      })
      .finally(() => this.reading.delete(instanceId));
    this.reading.set(instanceId, reading);
    return reading;
  }

  private remember(instanceId: number, gate: EndpointGateState) {
    if (this.read.size > 10_000) {
      const old = Date.now() - 60_000;
      for (const [id, r] of this.read) if (r.atMs < old) this.read.delete(id);
      for (const [id, at] of this.nextSlotMs) if (at < old) this.nextSlotMs.delete(id);
      for (const [id, at] of this.lastGoMs) if (at < old) this.lastGoMs.delete(id);
      for (const [id, at] of this.lastFailureMs) if (at < Date.now() - SUSPECT_AFTER_FAILURE_MS) this.lastFailureMs.delete(id);
    }
    this.read.set(instanceId, { gate, atMs: Date.now() });
  }

  /**
   * Before an attempt: go, or hold until when to ask again. Waits for a rate slot up to `budgetMs`
   * (what the attempt's activity can spare); a later slot holds the attempt instead.
   */
  async admit(instanceId: number, budgetMs: number, opts: { relaxed?: boolean } = {}): Promise<GateDecision> {
    let gate = await this.state(instanceId, false, opts.relaxed);
    if (gate.state === 'open') {
      if (Date.now() >= (gate.nextProbeAtMs ?? 0)) {
        if (await this.probe(instanceId)) return { go: true, probe: true };
        gate = await this.state(instanceId);
      }
      if (gate.state === 'open') return { go: false, heldUntilMs: heldUntil(gate), by: 'circuit' };
    }
    const rate = gate.state === 'recovering' ? (gate.maxRate ?? DEFAULT_DRAIN_RATE) : gate.maxRate;
    return rate ? this.slot(instanceId, rate, budgetMs) : { go: true };
  }

  /** Asks the instance for the probe; one request at a time per instance. True: this attempt is the probe. */
  private probe(instanceId: number): Promise<boolean> {
    const inFlight = this.probing.get(instanceId);
    // Another attempt is asking: it gets the probe (or nobody does); this one waits for the next.
    if (inFlight) return inFlight.then(() => false);
    const asking = this.handle(instanceId)
      .executeUpdate(endpointProbeUpdate)
      .then((gate) => {
        this.remember(instanceId, gate);
        return true;
      })
      .catch(async () => {
        // Not due (another worker probed), or the instance is unreadable: read again.
        await this.state(instanceId, true);
        return false;
      })
      .finally(() => this.probing.delete(instanceId));
    this.probing.set(instanceId, asking);
    return asking;
  }

  /** Spaces POSTs `1/rate` s apart (per instance, in this process). */
  private async slot(instanceId: number, rate: number, budgetMs: number): Promise<GateDecision> {
    const now = Date.now();
    const at = Math.max(now, this.nextSlotMs.get(instanceId) ?? 0);
    if (at - now > budgetMs) return { go: false, heldUntilMs: at, by: 'rate' };
    const interval = 1000 / rate;
    this.nextSlotMs.set(instanceId, at + interval);
    if (at > now) await sleep(at - now);
    // A timer that fired late must not bring this one closer than the interval to the one before.
    for (let wait = (this.lastGoMs.get(instanceId) ?? 0) + interval - Date.now(); wait > 0;) {
      await sleep(wait);
      wait = (this.lastGoMs.get(instanceId) ?? 0) + interval - Date.now();
    }
    this.lastGoMs.set(instanceId, Date.now());
    return { go: true };
  }

  /**
   * An attempt's outcome, for the instance's endpoint health. Failures are always reported;
   * successes only while the endpoint is not known healthy (they are what ends a failure).
   */
  record(instanceId: number, eventId: string, accepted: boolean): void {
    const now = Date.now();
    if (accepted && (this.read.get(instanceId)?.gate.state ?? 'healthy') === 'healthy' && !this.pending.get(instanceId)?.failures) return;
    const o = this.pending.get(instanceId) ?? { failures: 0, successes: 0, failedEventIds: [] };
    if (accepted) {
      o.successes++;
      o.lastSuccessMs = now;
    } else {
      o.failures++;
      this.lastFailureMs.set(instanceId, now);
      o.firstFailureMs ??= now;
      o.lastFailureMs = now;
      if (o.failedEventIds.length < MAX_FAILED_IDS && !o.failedEventIds.includes(eventId)) o.failedEventIds.push(eventId);
    }
    this.pending.set(instanceId, o);
    if (this.reportTimers.has(instanceId)) return;
    const delay = Math.max(GATHER_MS, (this.lastReportMs.get(instanceId) ?? 0) + REPORT_EVERY_MS - now);
    const timer = setTimeout(() => this.startReport(instanceId), delay);
    timer.unref();
    this.reportTimers.set(instanceId, timer);
  }

  /**
   * Sends what is gathered at once and resolves when every report has settled. A report's signal left
   * in the client's retry backoff makes a call when its timer fires, and throws if the connection was
   * closed by then: so whoever closes the connection waits for this first.
   */
  async settled(): Promise<void> {
    for (const [instanceId, timer] of this.reportTimers) {
      clearTimeout(timer);
      this.startReport(instanceId);
    }
    while (this.reporting.size) await Promise.allSettled([...this.reporting]);
  }

  private startReport(instanceId: number): void {
    const reporting = this.report(instanceId);
    this.reporting.add(reporting);
    void reporting.finally(() => this.reporting.delete(reporting));
  }

  private async report(instanceId: number): Promise<void> {
    this.reportTimers.delete(instanceId);
    const o = this.pending.get(instanceId);
    this.pending.delete(instanceId);
    if (!o) return;
    this.lastReportMs.set(instanceId, Date.now());
    if (this.lastReportMs.size > 10_000)
      for (const [id, at] of this.lastReportMs) if (at < Date.now() - 60_000) this.lastReportMs.delete(id);
    try {
      await this.handle(instanceId).signal(endpointOutcomesSignal, o);
      // What the instance made of it (opened, recovered) applies to the next attempt at once.
      await this.state(instanceId, true);
    } catch {
      // The instance is gone (deleted): nothing to tell.
    }
  }
}

/** Until when an attempt held by an open circuit waits: a granted probe's outcome, or the next probe. */
function heldUntil(gate: EndpointGateState): number {
  const now = Date.now();
  const settling = gate.probeGrantedAtMs !== undefined && now - gate.probeGrantedAtMs < PROBE_SETTLE_MS;
  const at = settling ? gate.probeGrantedAtMs! + PROBE_SETTLE_MS : (gate.nextProbeAtMs ?? now);
  return Math.max(at, now + MIN_HOLD_MS);
}
