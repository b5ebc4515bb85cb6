// Who is calling, as the login limiter counts it. Behind a trusted proxy the client is the first
// address of X-Forwarded-For (read right to left) that is not itself a trusted proxy; from anyone
// else the header is ignored (it is the caller's to forge). IPv6 sources are counted per /64, the
// block one subscriber usually holds, so hopping addresses inside it does not reset the count.

import net from "node:net";

/** Matcher for the configured trusted proxies (addresses or CIDR blocks, IPv4 or IPv6). */
export function trustedProxyList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const raw of entries) {
    const [addr, bits] = raw.split("/");
    const type = net.isIP(addr ?? "");
    if (!type) throw new Error(`trusted proxy: ${raw} is not an IP address or CIDR block`);
    const family = type === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(addr!, family);
    else list.addSubnet(addr!, Number(bits), family);
  }
  return list;
}

function plain(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
}

/** Is the socket's peer one of the trusted proxies? */
export function isTrustedPeer(list: net.BlockList, peer: string): boolean {
  return isTrusted(list, plain(peer));
}

function isTrusted(list: net.BlockList, address: string): boolean {
  const type = net.isIP(address);
  return type !== 0 && list.check(address, type === 6 ? "ipv6" : "ipv4");
}

/**
 * The client's address: the socket's peer, or — when that peer is a trusted proxy — the nearest
 * untrusted hop of X-Forwarded-For (a malformed hop ends the walk at the last trusted one).
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trusted: net.BlockList | null): string {
  let client = plain(peer);
  if (!trusted || forwardedFor === undefined || !isTrusted(trusted, client)) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",").map((h) => plain(h.trim()));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!net.isIP(hop)) break;
    client = hop;
    if (!isTrusted(trusted, hop)) break;
  }
  return client;
}

/** The limiter's key for an address: IPv4 as is, IPv6 by its /64 prefix. */
export function sourceKey(address: string): string {
  const a = plain(address);
  if (net.isIP(a) !== 6) return a;
  const [head, tail] = a.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups.
  const count = (g: string[]) => g.reduce((n, x) => n + (x.includes(".") ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array(8 - count(left) - count(right)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(":")}::/64`;
}
