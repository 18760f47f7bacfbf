import fc from 'fast-check';
import {
  advance,
  alreadyReported,
  initialOverlap,
  MAX_SEEN_PER_RESOURCE,
  rereadStartMs,
  seenCap,
  toRemember,
  type OverlapState,
  type SeenEntry,
} from '../../src/polling/overlap';

const BASE = Date.UTC(2026, 11, 1, 12, 0, 0);
const S = 1000;
const floorToSecond = (ms: number) => Math.floor(ms / S) * S;

/** One written state of a record: its updated date, and when the provider's search starts showing it. */
interface Version {
  id: string;
  updatedMs: number;
  visibleAtMs: number;
}

/**
 * The polls of one resource as the workflow and the activity run them, against a provider whose
 * search shows each record's latest visible state: window ends on whole seconds, the re-read over the
 * overlap, suppression by (id, updated date). Returns every change reported, in order.
 */
function simulate(versions: Version[], pollTimes: number[], overlapMs: number, cap = MAX_SEEN_PER_RESOURCE): SeenEntry[] {
  let watermark = BASE;
  let state: OverlapState = initialOverlap(watermark);
  const reported: SeenEntry[] = [];
  for (const t of pollTimes) {
    const end = floorToSecond(t);
    if (end <= watermark) continue;
    const start = rereadStartMs(state, watermark, overlapMs);
    const shown = new Map<string, Version>();
    for (const v of versions) {
      const prior = shown.get(v.id);
      if (v.visibleAtMs <= t && (!prior || v.updatedMs > prior.updatedMs)) shown.set(v.id, v);
    }
    const seen = new Map(state.seen);
    const fresh = [...shown.values()]
      .filter((v) => v.updatedMs >= start && v.updatedMs < end)
      .filter((v) => !alreadyReported(seen, v.id, v.updatedMs))
      .map((v) => ({ objectId: v.id, updatedMs: v.updatedMs }));
    reported.push(...fresh.map((f): SeenEntry => [f.objectId, f.updatedMs]));
    state = advance(state, toRemember(fresh, end, overlapMs), end, overlapMs, cap);
    watermark = end;
  }
  return reported;
}

const MAX_INTERVAL = 3 * S;

/**
 * Records changed at whole seconds (several in the same second), each state shown by search up to
 * `maxLagMs` after its updated date; a record's next state comes only after a poll could show the
 * one before (search shows the latest state, so a state replaced unseen is never a change to report).
 */
const scenario = (maxLagMs: number) =>
  fc
    .record({
      records: fc.array(
        fc.record({
          second: fc.integer({ min: 0, max: 40 }),
          lags: fc.array(fc.integer({ min: 0, max: maxLagMs }), { minLength: 1, maxLength: 3 }),
          gaps: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 3, maxLength: 3 }),
        }),
        { minLength: 1, maxLength: 30 },
      ),
      intervals: fc.array(fc.integer({ min: 200, max: MAX_INTERVAL }), { minLength: 5, maxLength: 40 }),
    })
    .map(({ records, intervals }) => {
      const versions: Version[] = [];
      records.forEach((r, i) => {
        let updatedMs = BASE + r.second * S;
        r.lags.forEach((lag, j) => {
          versions.push({ id: String(1000 + i), updatedMs, visibleAtMs: updatedMs + lag });
          const shownUntilPolled = Math.max(updatedMs + lag, updatedMs + S) + MAX_INTERVAL + 1;
          updatedMs = Math.ceil(shownUntilPolled / S) * S + r.gaps[j]! * S;
        });
      });
      const pollTimes: number[] = [];
      let t = BASE;
      for (const dt of intervals) pollTimes.push((t += dt));
      // Polls go on until every state was shown and its window closed.
      const last = Math.max(...versions.map((v) => Math.max(v.visibleAtMs, v.updatedMs + S))) + MAX_INTERVAL;
      while (t <= last) pollTimes.push((t += MAX_INTERVAL));
      return { versions, pollTimes };
    });

const key = ([id, ms]: SeenEntry) => `${id}@${ms}`;
const counts = (entries: SeenEntry[]) => {
  const m = new Map<string, number>();
  for (const e of entries) m.set(key(e), (m.get(key(e)) ?? 0) + 1);
  return m;
};

describe('overlap re-read: suppression by (objectId, updated date)', () => {
  test('the same updated date is reported already; a newer one is a new change; an older one is a stale copy', () => {
    const seen = new Map([['7', BASE]]);
    expect(alreadyReported(seen, '7', BASE)).toBe(true);
    expect(alreadyReported(seen, '7', BASE + S)).toBe(false);
    expect(alreadyReported(seen, '7', BASE - S)).toBe(true);
    expect(alreadyReported(seen, '8', BASE)).toBe(false);
    // Without an updated date a record cannot be told apart from its earlier states.
    expect(alreadyReported(seen, '7', undefined)).toBe(false);
  });

  test('ids are data: "__proto__" and "constructor" are remembered like any other', () => {
    const state = advance(
      initialOverlap(BASE),
      [
        ['__proto__', BASE],
        ['constructor', BASE],
      ],
      BASE + S,
      60 * S,
      10,
    );
    const seen = new Map(state.seen);
    expect(alreadyReported(seen, '__proto__', BASE)).toBe(true);
    expect(alreadyReported(seen, 'constructor', BASE)).toBe(true);
  });

  test('the re-read starts the overlap behind the watermark, never before where watching started', () => {
    const fresh = initialOverlap(BASE);
    expect(rereadStartMs(fresh, BASE + 90 * S, 60 * S)).toBe(BASE + 30 * S);
    expect(rereadStartMs(fresh, BASE + 10 * S, 60 * S)).toBe(BASE);
    expect(rereadStartMs(fresh, BASE + 10 * S, 0)).toBe(BASE + 10 * S);
  });

  test('only the overlap zone is remembered, and entries older than the next re-read are dropped', () => {
    const reported = [
      { objectId: '1', updatedMs: BASE + 5 * S },
      { objectId: '2', updatedMs: BASE + 50 * S },
      { objectId: '3', updatedMs: undefined },
    ];
    expect(toRemember(reported, BASE + 60 * S, 10 * S)).toEqual([['2', BASE + 50 * S]]);
    expect(toRemember(reported, BASE + 60 * S, 0)).toEqual([]);
    const state = advance({ fromMs: BASE, seen: [['1', BASE + 5 * S]] }, [['2', BASE + 50 * S]], BASE + 60 * S, 10 * S, 100);
    expect(state).toEqual({ fromMs: BASE + 50 * S, seen: [['2', BASE + 50 * S]] });
  });

  test('over the cap the oldest entries go', () => {
    const reported: SeenEntry[] = [4, 1, 3, 2].map((n) => [String(n), BASE + n * S]);
    expect(advance(initialOverlap(BASE), reported, BASE + 10 * S, 60 * S, 2).seen).toEqual([
      ['3', BASE + 3 * S],
      ['4', BASE + 4 * S],
    ]);
    expect(seenCap(4)).toBe(MAX_SEEN_PER_RESOURCE);
    expect(seenCap(100) * 100).toBeLessThanOrEqual(20_000);
  });

  test('a larger overlap set later does not re-read changes no longer remembered', () => {
    // Polled with a 10 s overlap up to BASE+60 s: what is remembered covers [BASE+50 s, BASE+60 s).
    const state = advance(initialOverlap(BASE), [['1', BASE + 20 * S]], BASE + 60 * S, 10 * S, 100);
    expect(rereadStartMs(state, BASE + 60 * S, 60 * S)).toBe(BASE + 50 * S);
  });

  test('search lagging up to the overlap: every change reported exactly once (property)', () => {
    const overlapMs = 10 * S;
    fc.assert(
      fc.property(scenario(overlapMs), ({ versions, pollTimes }) => {
        const reported = counts(simulate(versions, pollTimes, overlapMs));
        const expected = counts(versions.map((v): SeenEntry => [v.id, v.updatedMs]));
        expect(reported).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  test('a cap too small for the overlap can only repeat a change, never lose one (property)', () => {
    const overlapMs = 10 * S;
    fc.assert(
      fc.property(scenario(overlapMs), fc.integer({ min: 0, max: 3 }), ({ versions, pollTimes }, cap) => {
        const reported = counts(simulate(versions, pollTimes, overlapMs, cap));
        for (const v of versions) expect(reported.get(key([v.id, v.updatedMs]))).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  test('without an overlap, changes the search shows late are missed', () => {
    // Dated in the first second, shown 3 s later; polls every 1.2 s have closed that second by then.
    const versions: Version[] = [1, 2, 3].map((n) => ({ id: String(n), updatedMs: BASE, visibleAtMs: BASE + 3 * S }));
    const pollTimes = Array.from({ length: 10 }, (_, i) => BASE + (i + 1) * 1200);
    expect(simulate(versions, pollTimes, 0)).toEqual([]);
    expect(simulate(versions, pollTimes, 10 * S)).toHaveLength(3);
  });
});
