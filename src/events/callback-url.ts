import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/** Every address a name resolves to. */
export type LookupFn = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface CallbackPolicy {
  /** Refuse every address that is not public unicast (loopback, private, CGNAT, ULA...). */
  publicOnly: boolean;
  /** How callback hosts are resolved; the system resolver by default. */
  lookup?: LookupFn;
}

const systemLookup: LookupFn = (hostname) => dns.lookup(hostname, { all: true });

/** The `code` of the connect error raised when a callback host resolves to a forbidden address. */
export const CALLBACK_ADDRESS_REFUSED = 'ECALLBACKADDRESS';

// Cloud instance metadata services: never a callback, whatever the deployment allows.
// AWS (IPv4, ECS task metadata, IPv6), Alibaba, Azure wireserver, Oracle, GCP IPv6.
const METADATA = new Set(
  ['169.254.169.254', '169.254.170.2', '100.100.100.200', '168.63.129.16', '192.0.0.192', 'fd00:ec2::254', 'fd20:ce::254'].map((a) =>
    ipaddr.parse(a).toNormalizedString(),
  ),
);

const v4From = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);

/**
 * The IPv4 address an IPv6 address carries, for the forms that reach it: IPv4-mapped (::ffff:a.b.c.d),
 * SIIT (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d, the ::/96 block but :: and ::1), NAT64
 * (64:ff9b::/96, and the last 32 bits of 64:ff9b:1::/48) and 6to4 (2002:AABB:CCDD::/48).
 */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const [p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0] = ip.parts;
  const range = ip.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145' || range === 'rfc6052') return v4From(p6, p7);
  if (range === '6to4') return v4From(p1, p2);
  if (p0 === 0 && p1 === 0 && p2 === 0 && p3 === 0 && p4 === 0 && p5 === 0 && !(p6 === 0 && p7 <= 1)) return v4From(p6, p7);
  return undefined;
}

/** What makes an address unfit for callbacks ('metadata', 'link-local' or an ipaddr.js range), or undefined. */
function forbiddenKind(address: string, publicOnly: boolean): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  const ip = ipaddr.parse(address);
  const v4 = ip.kind() === 'ipv6' ? embeddedIPv4(ip as ipaddr.IPv6) : undefined;
  const both = v4 ? [ip, v4] : [ip];
  if (both.some((a) => METADATA.has(a.toNormalizedString()))) return 'metadata';
  if (both.some((a) => a.range() === 'linkLocal')) return 'link-local';
  if (!publicOnly) return undefined;
  if (!v4) return ip.range() === 'unicast' ? undefined : ip.range();
  // An IPv4-mapped address is its IPv4 address; every other IPv6 form carrying one is refused here,
  // named after what it carries when that is not public.
  if (ip.range() === 'ipv4Mapped') return v4.range() === 'unicast' ? undefined : v4.range();
  if (v4.range() !== 'unicast') return v4.range();
  return ip.range() === 'unicast' ? 'IPv4-compatible' : ip.range();
}

const clip = (text: string, max = 100) => (text.length > max ? `${text.slice(0, max)}…` : text);
const article = (word: string) => (/^[aeiouAEIOU]/.test(word) ? 'an' : 'a');

function describe(kind: string): string {
  if (kind === 'metadata') return 'a cloud metadata address';
  if (kind === 'link-local') return 'a link-local address';
  if (kind === 'invalid') return 'not an IP address';
  return `${article(kind)} ${kind} address, refused for callbacks here`;
}

/** Why a callback may not be sent to this address, or undefined when it may. */
export function addressProblem(address: string, publicOnly: boolean): string | undefined {
  const kind = forbiddenKind(address, publicOnly);
  return kind && `${clip(address, 64)} is ${describe(kind)}`;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Checks a callback URL without the network: scheme, and the host when it is an IP literal. */
export function callbackUrlProblem(raw: string, publicOnly: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an absolute http(s) URL';
  if (url.username || url.password) return 'may not carry credentials';
  const host = hostOf(url);
  if (ipaddr.isValid(host)) return addressProblem(host, publicOnly);
  const name = host.replace(/\.$/, '');
  if (publicOnly && (name === 'localhost' || name.endsWith('.localhost')))
    return `${clip(host)} is a loopback name, refused for callbacks here`;
  return undefined;
}

/**
 * Checks the URL, then every address its host resolves to now (when the API takes the URL). A name
 * that does not resolve is no problem: its host may be set up later. Deliveries check again, on the
 * address they connect to (callbackDispatcher).
 */
export async function resolvedCallbackProblem(raw: string, policy: CallbackPolicy): Promise<string | undefined> {
  const early = callbackUrlProblem(raw, policy.publicOnly);
  if (early) return early;
  const host = hostOf(new URL(raw));
  if (ipaddr.isValid(host)) return undefined;
  let addresses: { address: string }[];
  try {
    addresses = await (policy.lookup ?? systemLookup)(host);
  } catch {
    return undefined;
  }
  for (const { address } of addresses) {
    const kind = forbiddenKind(address, policy.publicOnly);
    // The resolved address itself stays out of the message: it may be an inner one.
    if (kind) return `${clip(host)} resolves to ${kind === 'invalid' ? 'an invalid address' : describe(kind)}`;
  }
  return undefined;
}

const refusedAddress = () => Object.assign(new Error('callback address not allowed'), { code: CALLBACK_ADDRESS_REFUSED });

/**
 * An undici dispatcher whose connections resolve callback hosts themselves and refuse a host when
 * any of its addresses is forbidden, so the address checked is the address connected to (no DNS
 * rebinding between a check and the request). IP-literal hosts are never looked up by net.connect:
 * check them with callbackUrlProblem before the request.
 */
export function callbackDispatcher(policy: CallbackPolicy): Agent {
  const resolve = policy.lookup ?? systemLookup;
  // net.connect's lookup: (hostname, { family, hints, all }, callback); with `all` (autoSelectFamily)
  // the callback takes every address, otherwise one address and its family.
  const lookup: LookupFunction = (hostname, options, callback) => {
    const wanted = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    resolve(hostname).then(
      (found) => {
        if (found.some(({ address }) => forbiddenKind(address, policy.publicOnly))) {
          callback(refusedAddress(), options.all ? [] : '');
          return;
        }
        const addresses: LookupAddress[] = found
          .map(({ address }) => ({ address, family: isIP(address) }))
          .filter(({ family }) => (wanted !== 4 && wanted !== 6 ? true : family === wanted));
        const first = addresses[0];
        if (!first) {
          callback(Object.assign(new Error('callback host has no usable address'), { code: 'ENOTFOUND' }), options.all ? [] : '');
        } else if (options.all) {
          callback(null, addresses);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: NodeJS.ErrnoException) => callback(err, options.all ? [] : ''),
    );
  };
  return new Agent({ connect: { lookup } });
}

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const DNS_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EAI_NODATA',
  'ENODATA',
  'ESERVFAIL',
  'ENONAME',
  'ETIMEOUT',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_)|CERT|^UNABLE_TO_|^EPROTO$/;

/** The error and what it wraps: `cause` chains (undici's fetch) and AggregateError's `errors` (autoSelectFamily). */
function errorChain(err: unknown): { code?: unknown; name?: unknown }[] {
  const out: { code?: unknown; name?: unknown }[] = [];
  const queue = [err];
  while (queue.length && out.length < 20) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || out.includes(e)) continue;
    out.push(e);
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return out;
}

/**
 * A coarse category for an attempt's failure, for the record the customer sees: never an inner
 * address or port (the record would be a port-scan oracle otherwise).
 */
export function attemptErrorCategory(err: unknown): string {
  const chain = errorChain(err);
  const codes = chain.map((e) => (typeof e.code === 'string' ? e.code : ''));
  const names = chain.map((e) => (typeof e.name === 'string' ? e.name : ''));
  if (codes.includes(CALLBACK_ADDRESS_REFUSED)) return 'address not allowed';
  if (names.includes('TimeoutError') || names.includes('AbortError') || codes.some((c) => TIMEOUT_CODES.has(c))) return 'timeout';
  if (codes.includes('ECONNREFUSED')) return 'connection refused';
  if (codes.some((c) => DNS_CODES.has(c))) return 'DNS lookup failed';
  if (codes.some((c) => TLS_CODE.test(c))) return 'TLS error';
  if (codes.some((c) => RESET_CODES.has(c))) return 'connection reset';
  return 'network error';
}
