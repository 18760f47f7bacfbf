import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

// Cloud instance metadata services: never a callback, whatever the deployment allows.
const METADATA_V6 = ipaddr.parse('fd00:ec2::254');

/** Why a callback may not be sent to this address, or undefined when it may. */
export function addressProblem(address: string, publicOnly: boolean): string | undefined {
  if (!ipaddr.isValid(address)) return `"${address}" is not an IP address`;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const range = ip.range();
  if (range === 'linkLocal') return `${address} is a link-local address (cloud metadata services live there)`;
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).toNormalizedString() === METADATA_V6.toNormalizedString()) {
    return `${address} is a cloud metadata address`;
  }
  if (publicOnly && range !== 'unicast') return `${address} is a ${range} address, refused for callbacks here`;
  return undefined;
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
  if (publicOnly && (host === 'localhost' || host.endsWith('.localhost'))) return `${host} is a loopback name, refused for callbacks here`;
  return undefined;
}

/** Checks every address the callback's host resolves to, just before a delivery. */
export async function resolvedCallbackProblem(raw: string, publicOnly: boolean): Promise<string | undefined> {
  const early = callbackUrlProblem(raw, publicOnly);
  if (early) return early;
  const host = hostOf(new URL(raw));
  if (ipaddr.isValid(host)) return undefined;
  const addresses = await lookup(host, { all: true });
  for (const { address } of addresses) {
    const problem = addressProblem(address, publicOnly);
    if (problem) return `${host} resolves to ${problem}`;
  }
  return undefined;
}
