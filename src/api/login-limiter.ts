import ipaddr from 'ipaddr.js';
import { tooMany } from '../errors';
import { MinuteCounts } from './minute-counts';

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

/**
 * Counts failed logins per client address in one-minute windows. An address over the limit is
 * answered 429 before its secrets are even compared, until its window ends.
 */
export class LoginLimiter {
  private readonly failures: MinuteCounts;

  constructor(
    private readonly perMinute: number,
    now: () => number = Date.now,
  ) {
    this.failures = new MinuteCounts(100_000, now);
  }

  /** Throws the 429 when `address` has used up its failures for this window. */
  check(address: string): void {
    if (this.failures.count(address) >= this.perMinute) {
      const waitS = this.failures.secondsLeft(address);
      throw tooMany(
        `Too many failed logins from this address: at most ${this.perMinute} a minute (AUTH_FAILURES_PER_MINUTE); try again in ${Math.ceil(waitS)} s`,
        waitS,
      );
    }
  }

  failed(address: string): void {
    this.failures.add(address);
  }
}
