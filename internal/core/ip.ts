// IP addresses as plain values: a family and a bigint. Parsing goes through the `ip-address` package (so
// the accepted syntax is that package's, minus zones and leading zeros); formatting is done here because it
// sits on the allocator's hot path and the canonical form is small: dotted quad for IPv4, RFC 5952 for IPv6
// (lowercase, longest run of two or more zero groups compressed, leftmost on a tie).
//
// An address as text travels as CanonicalIP: made once where text comes in (canonicalIP, for a Service's
// status, an annotation, a request), where a value is formatted (formatValue, formatIP) or where bytes come
// off the wire (speaker/core/arp.ts ipv4At, speaker/core/ipv6.ts ipv6At, through joinIpv6Groups), and never
// parsed again: consumers compare it, hash it, and read its family (familyOf) or value (ipOf) without
// checking it a second time.
import { Address6 } from 'ip-address'
import type { IPFamily } from './views.js'

export type { IPFamily }

export interface IP {
  readonly family: IPFamily
  readonly value: bigint
}

/** An inclusive range of addresses of one family; `start <= end` always holds. */
export interface IPRange {
  readonly family: IPFamily
  readonly start: bigint
  readonly end: bigint
}

declare const canonicalBrand: unique symbol
/**
 * The canonical text of one address: IPv4 a dotted quad (decimal octets, no leading zeros), IPv6 RFC 5952
 * §4 (lowercase, no leading zeros in a group, the longest run of two or more zero groups as '::', leftmost on
 * a tie; an IPv4-mapped address in hex groups, `::ffff:c000:201`, not §5's mixed form, so that the text made
 * from a Service's status equals the text read off the wire). No zone, no prefix length. Two addresses are
 * equal exactly when their CanonicalIP strings are. A string, so it goes wherever text goes; only the
 * functions named at the top of this file make one.
 */
export type CanonicalIP = string & { readonly [canonicalBrand]: 'CanonicalIP' }

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string }

const V4_MAX = (1n << 32n) - 1n
const V6_MAX = (1n << 128n) - 1n

export function maxValue(family: IPFamily): bigint {
  return family === 'IPv4' ? V4_MAX : V6_MAX
}

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value }
}
function bad<T>(reason: string): Parsed<T> {
  return { ok: false, reason }
}

/** Parse one address (no prefix length). IPv4 needs four decimal octets without leading zeros. */
export function parseIP(text: string): Parsed<IP> {
  const s = text.trim()
  if (s === '') return bad('empty address')
  if (s.includes('/')) return bad(`"${s}" is a CIDR, expected a single address`)
  const zone = s.indexOf('%')
  if (zone >= 0) {
    // A zone (RFC 6874 §1, RFC 4007 §11) names an interface of one host; a Service address is the same on
    // every node and every interface.
    return bad(`"${s}" carries a zone (${s.slice(zone)}), which a Service address cannot have: write ${s.slice(0, zone)}`)
  }
  if (s.includes(':')) {
    if (!Address6.isValid(s)) return bad(`"${s}" is not a valid IPv6 address`)
    return ok({ family: 'IPv6', value: new Address6(s).bigInt() })
  }
  const v4 = dottedQuad(s)
  if (v4 < 0) {
    // Octal to inet_aton(3), decimal to Go before 1.17 (CVE-2021-29923): refused rather than guessed.
    if (/(^|\.)0\d/.test(s)) return bad(`"${s}" has an IPv4 octet with a leading zero, which parsers read as octal or decimal: write each octet without leading zeros`)
    return bad(`"${s}" is not a valid IPv4 address`)
  }
  return ok({ family: 'IPv4', value: BigInt(v4) })
}

/**
 * The value of a dotted quad (four decimal octets 0-255, no leading zeros, nothing else: the syntax
 * ip-address's Address4 accepts), or -1. Written out because a pool of 55,000 entries parses every one of
 * them, and Address4 costs several objects and a regular expression per address.
 */
function dottedQuad(s: string): number {
  let value = 0
  let octet = -1 // -1: no digit yet in this octet
  let dots = 0
  let leadingZero = false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) { // '.'
      if (octet < 0 || dots === 3) return -1
      value = value * 256 + octet
      octet = -1
      dots++
    } else if (c >= 48 && c <= 57) {
      if (leadingZero) return -1
      if (octet < 0) {
        octet = c - 48
        leadingZero = octet === 0
      } else {
        octet = octet * 10 + (c - 48)
        if (octet > 255) return -1
      }
    } else return -1
    if (c === 46) leadingZero = false
  }
  if (octet < 0 || dots !== 3) return -1
  return value * 256 + octet
}

/** Canonical text of a raw value of a family. */
export function formatValue(family: IPFamily, v: bigint): CanonicalIP {
  if (family === 'IPv4') {
    const n = Number(v)
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}` as CanonicalIP
  }
  // One toString over the whole value is cheaper than eight bigint shifts; plain loops, no closures (tsx
  // wraps every function created at run time in a __name() call, which showed up in profiles).
  const hex = v.toString(16).padStart(32, '0')
  const groups: string[] = []
  for (let i = 0; i < 32; i += 4) {
    let j = i
    while (j < i + 3 && hex.charCodeAt(j) === 48) j++ // drop leading zeros, keep the last digit
    groups.push(hex.slice(j, i + 4))
  }
  return joinIpv6Groups(groups)
}

/**
 * RFC 5952 §4: the text of an IPv6 address from its eight groups, each lower-case hex without leading zeros
 * ('0' for zero): joined with ':', the longest run of two or more zero groups written '::', the leftmost on a
 * tie. The one definition of the compression: formatValue and the wire reader (speaker/core/ipv6.ts, ipv6At)
 * both end here, so that an address read off the wire compares equal to the same address from a Service.
 * The groups must be eight, each as described: that is what makes the result a CanonicalIP.
 */
export function joinIpv6Groups(groups: readonly string[]): CanonicalIP {
  let bestStart = -1
  let bestLen = 1 // RFC 5952 4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  if (bestStart < 0) return groups.join(':') as CanonicalIP
  let out = ''
  for (let i = 0; i < bestStart; i++) out += i === 0 ? groups[i] : `:${groups[i]}`
  out += '::'
  for (let i = bestStart + bestLen; i < 8; i++) out += i === bestStart + bestLen ? groups[i] : `:${groups[i]}`
  return out as CanonicalIP
}

export function formatIP(ip: IP): CanonicalIP {
  return formatValue(ip.family, ip.value)
}

/**
 * The one constructor of a CanonicalIP from text: any address parseIP accepts (surrounding spaces, upper
 * case, leading zeros in IPv6 groups, uncompressed or mixed IPv6 forms), or why not (a zone, a prefix
 * length, a leading zero in an IPv4 octet, anything else).
 */
export function canonicalIP(text: string): Parsed<CanonicalIP> {
  const p = parseIP(text)
  return p.ok ? ok(formatIP(p.value)) : p
}

/** The family of a canonical address: IPv6 text always holds a ':', a dotted quad never does. No parsing. */
export function familyOf(ip: CanonicalIP): IPFamily {
  return ip.includes(':') ? 'IPv6' : 'IPv4'
}

/**
 * The value of a canonical address: formatValue read backwards, without checking anything (the type says it
 * was checked where it was made). For the consumers that need numbers: a pool lookup, a kernel filter.
 */
export function ipOf(ip: CanonicalIP): IP {
  if (!ip.includes(':')) return { family: 'IPv4', value: BigInt(dottedQuad(ip)) }
  const gap = ip.indexOf('::')
  const head = gap < 0 ? ip : ip.slice(0, gap)
  const tail = gap < 0 ? '' : ip.slice(gap + 2)
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  let value = 0n
  for (const g of h) value = (value << 16n) | BigInt(parseInt(g, 16))
  value <<= 16n * BigInt(8 - h.length - t.length)
  for (const g of t) value = (value << 16n) | BigInt(parseInt(g, 16))
  return { family: 'IPv6', value }
}

export function parseCIDR(text: string): Parsed<IPRange> {
  const s = text.trim()
  const slash = s.indexOf('/')
  if (slash < 0) return bad(`"${s}" has no prefix length`)
  const addr = parseIP(s.slice(0, slash))
  if (!addr.ok) return bad(addr.reason)
  const lenText = s.slice(slash + 1)
  const bits = addr.value.family === 'IPv4' ? 32 : 128
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits) {
    return bad(`"${s}": prefix length must be 0..${bits}`)
  }
  const hostBits = BigInt(bits - Number(lenText))
  const hostMask = (1n << hostBits) - 1n
  const { family, value } = addr.value
  if ((value & hostMask) !== 0n) {
    const net = formatValue(family, value & ~hostMask)
    return bad(
      `"${s}" has host bits set: write ${net}/${lenText} for the whole block, or ` +
        `${formatValue(family, value)}/${bits} for one address`,
    )
  }
  return ok({ family, start: value, end: value | hostMask })
}

/** `a-b`, spaces around '-' allowed; both ends of one family and `a <= b`. */
export function parseRange(text: string): Parsed<IPRange> {
  const s = text.trim()
  const parts = s.split('-')
  if (parts.length !== 2) return bad(`"${s}" is not a range "start-end"`)
  const [a, b] = parts.map(p => parseIP(p ?? ''))
  if (a === undefined || b === undefined) return bad(`"${s}" is not a range "start-end"`)
  if (!a.ok) return bad(`range "${s}": start ${a.reason}`)
  if (!b.ok) return bad(`range "${s}": end ${b.reason}`)
  if (a.value.family !== b.value.family) return bad(`range "${s}" mixes IPv4 and IPv6`)
  if (a.value.value > b.value.value) return bad(`range "${s}" starts after it ends: swap the two addresses`)
  return ok({ family: a.value.family, start: a.value.value, end: b.value.value })
}

/** A pool `addresses` entry: a CIDR or a range. A bare address is refused with the /32 or /128 hint. */
export function parseAddressBlock(text: string): Parsed<IPRange> {
  const s = text.trim()
  // A range never holds '/', so anything with one is a CIDR (`203.0.113.0/-1` is a bad prefix, not a range).
  if (s.includes('/')) return parseCIDR(s)
  if (s.includes('-')) return parseRange(s)
  const single = parseIP(s)
  if (!single.ok) return bad(`"${s}" is neither a CIDR nor a range "start-end"`)
  const bits = single.value.family === 'IPv4' ? 32 : 128
  return bad(`"${s}" is a single address: write ${formatIP(single.value)}/${bits}`)
}

export function rangeSize(r: IPRange): bigint {
  return r.end - r.start + 1n
}

export function formatRange(r: IPRange): string {
  return r.start === r.end
    ? formatValue(r.family, r.start)
    : `${formatValue(r.family, r.start)}-${formatValue(r.family, r.end)}`
}

export function rangesOverlap(a: IPRange, b: IPRange): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end
}

export function rangeContains(r: IPRange, ip: IP): boolean {
  return r.family === ip.family && r.start <= ip.value && ip.value <= r.end
}

/** IPv4 addresses ending in .0 or .255, which some old firmware takes for network/broadcast addresses. */
export function isBuggyIPv4(v: bigint): boolean {
  const last = Number(v & 255n)
  return last === 0 || last === 255
}

/** Address blocks a pool never yields: no host on a LAN can reach a Service there. */
export interface ReservedBlock extends IPRange {
  readonly cidr: string
  readonly what: string
}

function block(cidr: string, what: string): ReservedBlock {
  const r = parseCIDR(cidr)
  if (!r.ok) throw new Error(`bad reserved block ${cidr}`)
  return { ...r.value, cidr, what }
}

/**
 * Per family: IPv4 "this network" incl. the unspecified 0.0.0.0 (RFC 1122 §3.2.1.3), loopback (RFC 1122),
 * link-local (RFC 3927), multicast (RFC 5771), reserved incl. limited broadcast (RFC 1112 §4, RFC 919);
 * IPv6 unspecified and loopback (RFC 4291 §2.5.2, §2.5.3), IPv4-mapped (§2.5.5.2), link-local (§2.5.6),
 * multicast (§2.7). Ordered by family, then start.
 */
export const RESERVED_BLOCKS: readonly ReservedBlock[] = [
  block('0.0.0.0/8', 'this network, incl. the unspecified address 0.0.0.0'),
  block('127.0.0.0/8', 'loopback'),
  block('169.254.0.0/16', 'link-local'),
  block('224.0.0.0/4', 'multicast'),
  block('240.0.0.0/4', 'reserved, incl. the broadcast address 255.255.255.255'),
  block('::/128', 'the unspecified address'),
  block('::1/128', 'loopback'),
  block('::ffff:0:0/96', 'IPv4-mapped'),
  block('fe80::/10', 'link-local'),
  block('ff00::/8', 'multicast'),
]

/** The first reserved block a range touches, or null. */
export function reservedIn(r: IPRange): ReservedBlock | null {
  for (const b of RESERVED_BLOCKS) if (rangesOverlap(b, r)) return b
  return null
}
