import ipaddr from 'ipaddr.js';
import { tooMany } from '../errors';

/**
 * Whom failures are counted against: an IPv4 address, or an IPv6 /64 (one client usually holds a
 * whole /64, and could otherwise try from a fresh address each time).
 */
export function clientKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address); // IPv4-mapped IPv6 becomes IPv4
  if (ip.kind() === 'ipv4') return ip.toString();
  return `${(ip as ipaddr.IPv6).parts
    .slice(0, 4)
    .map((p) => p.toString(16))
    .join(':')}::/64`;
}

const WINDOW_MS = 60_000;
/** Addresses tracked at once; past it the oldest windows are forgotten, so a spray of addresses costs bounded memory. */
const MAX_ADDRESSES = 100_000;

/**
 * Counts failed logins per client address in one-minute windows. An address over the limit is
 * answered 429 before its secrets are even compared, until its window ends.
 */
export class LoginLimiter {
  private readonly windows = new Map<string, { startMs: number; failures: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws the 429 when `address` has used up its failures for this window. */
  check(address: string): void {
    const w = this.current(address);
    if (w && w.failures >= this.perMinute) {
      const waitS = (w.startMs + WINDOW_MS - this.now()) / 1000;
      throw tooMany(
        `Too many failed logins from this address: at most ${this.perMinute} a minute (AUTH_FAILURES_PER_MINUTE); try again in ${Math.ceil(waitS)} s`,
        waitS,
      );
    }
  }

  failed(address: string): void {
    const w = this.current(address);
    if (w) {
      w.failures++;
      return;
    }
    if (this.windows.size >= MAX_ADDRESSES) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(address, { startMs: this.now(), failures: 1 });
  }

  private current(address: string) {
    const w = this.windows.get(address);
    if (w && this.now() - w.startMs >= WINDOW_MS) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }
}
