const WINDOW_MS = 60_000;

/**
 * Events per key in one-minute windows, each starting at the key's first event: the login limiter
 * and the receiver's verification allowance both count with it. Keys kept at once are bounded (the
 * oldest forgotten first), so a spray of keys costs bounded memory.
 */
export class MinuteCounts {
  private readonly windows = new Map<string, { startMs: number; n: number }>();

  constructor(
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Events of `key` in its current window. */
  count(key: string): number {
    return this.current(key)?.n ?? 0;
  }

  add(key: string): void {
    const w = this.current(key);
    if (w) {
      w.n++;
      return;
    }
    if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(key, { startMs: this.now(), n: 1 });
  }

  /** Seconds until `key`'s window ends (0 when it has none). */
  secondsLeft(key: string): number {
    const w = this.current(key);
    return w ? (w.startMs + WINDOW_MS - this.now()) / 1000 : 0;
  }

  private current(key: string) {
    const w = this.windows.get(key);
    if (w && this.now() - w.startMs >= WINDOW_MS) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }
}
