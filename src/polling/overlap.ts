// The overlap re-read of a polled resource. A provider's search may show a record seconds after its
// updated date (index lag, clock skew), when the window holding that date is already closed. So each
// poll reads again the last `pollOverlap` seconds behind its watermark, and skips what it already
// reported by (objectId, updated date). Pure and free of clocks: the workflow and the poll activity
// share it, and a replayed or retried poll decides exactly as the first did.

import type { PollResource } from '../elements/element';

/** A change already reported: [objectId, its updated date in epoch ms]. Pairs, not an object: ids are provider data. */
export type SeenEntry = [objectId: string, updatedMs: number];

/** What a resource's next poll must know to re-read its overlap without reporting anything twice. */
export interface OverlapState {
  /**
   * The re-read never starts before this (epoch ms): from here to the watermark `seen` holds every
   * change reported. It is where watching started, and rises with the watermark, so a larger overlap
   * set later, or a fresh start, never re-reads changes that `seen` no longer (or never did) hold.
   */
  fromMs: number;
  /** Changes reported with updated dates in [max(fromMs, watermark − overlap), watermark); oldest first. */
  seen: SeenEntry[];
}

/**
 * Entries kept per resource, and per instance (shared among its resources): each poll's activity
 * input carries its resource's entries, and up to 100 polls are scheduled in one workflow task.
 */
export const MAX_SEEN_PER_RESOURCE = 5_000;
export const MAX_SEEN_PER_INSTANCE = 20_000;

export const seenCap = (resources: number): number =>
  Math.min(MAX_SEEN_PER_RESOURCE, Math.floor(MAX_SEEN_PER_INSTANCE / Math.max(1, resources)));

export const overlapMsOf = (resource: PollResource): number => Math.max(0, (resource.pollOverlap ?? 0) * 1000);

/** A resource that starts watching (or starts again) at its watermark: nothing before it is re-read. */
export const initialOverlap = (watermarkMs: number): OverlapState => ({ fromMs: watermarkMs, seen: [] });

/** Where a poll starts reading: `overlapMs` behind the watermark, but never before `fromMs`. */
export const rereadStartMs = (state: OverlapState, watermarkMs: number, overlapMs: number): number =>
  Math.min(watermarkMs, Math.max(watermarkMs - overlapMs, state.fromMs));

/**
 * Whether a change read again was reported already: the same record at the same updated date (or an
 * older one: a stale copy in the provider's index). A newer updated date is a new change. A record
 * without an updated date cannot be told apart, so it is never suppressed.
 */
export function alreadyReported(seen: ReadonlyMap<string, number>, objectId: string, updatedMs: number | undefined): boolean {
  if (updatedMs === undefined) return false;
  const reported = seen.get(objectId);
  return reported !== undefined && updatedMs <= reported;
}

/** Of a poll's reported changes, those a later poll can read again: dated within the overlap behind the window's end. */
export function toRemember(
  reported: readonly { objectId: string; updatedMs?: number }[],
  windowEndMs: number,
  overlapMs: number,
): SeenEntry[] {
  const keepFromMs = windowEndMs - overlapMs;
  return reported.flatMap((r) => (r.updatedMs !== undefined && r.updatedMs >= keepFromMs ? [[r.objectId, r.updatedMs] as SeenEntry] : []));
}

const oldestFirst = (a: SeenEntry, b: SeenEntry) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * The state after a poll whose window ended at `windowEndMs` (the new watermark) reported `reported`:
 * entries older than the next re-read are dropped, and at most `cap` are kept.
 */
export function advance(
  state: OverlapState,
  reported: readonly SeenEntry[],
  windowEndMs: number,
  overlapMs: number,
  cap: number,
): OverlapState {
  const keepFromMs = windowEndMs - overlapMs;
  const latest = new Map<string, number>();
  for (const [objectId, updatedMs] of [...state.seen, ...reported]) {
    const known = latest.get(objectId);
    if (known === undefined || updatedMs > known) latest.set(objectId, updatedMs);
  }
  let seen = [...latest].filter(([, updatedMs]) => updatedMs >= keepFromMs).sort(oldestFirst);
  // Over the cap the oldest go. A dropped change, read again, is reported again (by a later poll, so
  // under another eventId): a repeat, never a loss, because the re-read still starts where it would have.
  if (seen.length > cap) seen = seen.slice(seen.length - cap);
  return { fromMs: Math.max(state.fromMs, keepFromMs), seen };
}
