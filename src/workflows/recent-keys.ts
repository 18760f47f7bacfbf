/**
 * Keys seen in the last `windowMs`, at most `max` of them, oldest first. Deterministic (times come
 * from the caller, the workflow clock), and kept as a plain array so it rides continue-as-new.
 * Dropping the oldest key when full can only let a very late repeat through, never lose a first sighting.
 */
export class RecentKeys {
  private readonly seen = new Map<string, number>();

  constructor(
    entries: readonly (readonly [string, number])[],
    private readonly windowMs: number,
    private readonly max: number,
  ) {
    for (const [key, at] of entries) this.seen.set(key, at);
  }

  /** Records `key` as seen at `nowMs`; false when it was already seen within the window. */
  firstSighting(key: string, nowMs: number): boolean {
    this.prune(nowMs);
    if (this.seen.has(key)) return false;
    this.seen.set(key, nowMs);
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value!);
    return true;
  }

  /** Whether `key` was seen within the window before `nowMs` (reads only). */
  seenWithin(key: string, nowMs: number): boolean {
    const at = this.seen.get(key);
    return at !== undefined && at > nowMs - this.windowMs;
  }

  /** Whether every key seen since `sinceMs` is still held: false once a full set has dropped one as new as that. */
  remembersSince(sinceMs: number): boolean {
    if (this.seen.size < this.max) return true;
    const [, oldestAt] = this.seen.entries().next().value!;
    return oldestAt <= sinceMs;
  }

  get size(): number {
    return this.seen.size;
  }

  toJSON(): [string, number][] {
    return [...this.seen];
  }

  private prune(nowMs: number): void {
    for (const [key, at] of this.seen) {
      if (at > nowMs - this.windowMs) break;
      this.seen.delete(key);
    }
  }
}
