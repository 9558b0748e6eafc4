// Address helpers over node:net only (the stand-in may import nothing but node built-ins), and a port of
// Go's net/netip address parsing: the real server's warnings quote its errors and its canonical text.
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net'
import { goQuote } from './gofmt.js'

export { isIP, isIPv4, isIPv6 }

/** A parsed netip.Addr: 4 bytes for IPv4, 16 for IPv6 (with an optional zone). */
export interface NetipAddr { readonly bytes: readonly number[], readonly zone: string }

export type ParseAddrResult = { readonly ok: true, readonly addr: NetipAddr } | { readonly ok: false, readonly error: string }

function addrError (input: string, msg: string, at = ''): ParseAddrResult {
  return { ok: false, error: `ParseAddr(${goQuote(input)}): ${msg}${at === '' ? '' : ` (at ${goQuote(at)})`}` }
}


function parseIPv4 (s: string): ParseAddrResult {
  const fields: number[] = []
  let val = 0
  let digLen = 0
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? ''
    if (c >= '0' && c <= '9') {
      if (digLen === 1 && val === 0) return addrError(s, 'IPv4 field has octet with leading zero')
      val = val * 10 + Number(c)
      digLen++
      if (val > 255) return addrError(s, 'IPv4 field has value >255')
    } else if (c === '.') {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') return addrError(s, 'IPv4 field must have at least one digit', s.slice(i))
      if (fields.length === 3) return addrError(s, 'IPv4 address too long')
      fields.push(val)
      val = 0
      digLen = 0
    } else {
      return addrError(s, 'unexpected character', s.slice(i))
    }
  }
  if (fields.length < 3) return addrError(s, 'IPv4 address too short')
  fields.push(val)
  return { ok: true, addr: { bytes: fields, zone: '' } }
}

function parseIPv6 (input: string): ParseAddrResult {
  let s = input
  let zone = ''
  const pct = s.indexOf('%')
  if (pct !== -1) {
    zone = s.slice(pct + 1)
    s = s.slice(0, pct)
    if (zone === '') return addrError(input, 'zone must be a non-empty string')
  }
  const ip = new Array<number>(16).fill(0)
  let ellipsis = -1
  if (s.length >= 2 && s[0] === ':' && s[1] === ':') {
    ellipsis = 0
    s = s.slice(2)
    if (s.length === 0) return { ok: true, addr: { bytes: ip, zone } }
  }
  let i = 0
  while (i < 16) {
    let off = 0
    let acc = 0
    for (; off < s.length; off++) {
      const c = s[off] ?? ''
      const d = /^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : -1
      if (d < 0) break
      acc = acc * 16 + d
      if (acc > 0xffff) return addrError(input, 'IPv6 field has value >=2^16', s)
    }
    if (off === 0) return addrError(input, 'each colon-separated field must have at least one digit', s)
    if (off < s.length && s[off] === '.') {
      if (ellipsis < 0 && i !== 12) return addrError(input, 'embedded IPv4 address must replace the final 2 fields of the address', s)
      if (i + 4 > 16) return addrError(input, 'too many hex fields to fit an embedded IPv4 at the end of the address', s)
      const v4 = parseIPv4(s)
      if (!v4.ok) return addrError(input, v4.error, s)
      v4.addr.bytes.forEach((b, j) => { ip[i + j] = b })
      s = ''
      i += 4
      break
    }
    ip[i] = acc >> 8
    ip[i + 1] = acc & 0xff
    i += 2
    s = s.slice(off)
    if (s.length === 0) break
    if (s[0] !== ':') return addrError(input, 'unexpected character, want colon', s)
    if (s.length === 1) return addrError(input, 'colon must be followed by more characters', s)
    s = s.slice(1)
    if (s[0] === ':') {
      if (ellipsis >= 0) return addrError(input, 'multiple :: in address', s)
      ellipsis = i
      s = s.slice(1)
      if (s.length === 0) break
    }
  }
  if (s.length !== 0) return addrError(input, 'trailing garbage after address', s)
  if (i < 16) {
    if (ellipsis < 0) return addrError(input, 'address string too short')
    const n = 16 - i
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j] ?? 0
    for (let j = ellipsis + n - 1; j >= ellipsis; j--) ip[j] = 0
  } else if (ellipsis >= 0) {
    return addrError(input, 'the :: must expand to at least one field of zeros')
  }
  return { ok: true, addr: { bytes: ip, zone } }
}

/** netip.ParseAddr: IPv4 dotted decimal (no leading zeros), IPv6, IPv6 with a zone; Go's error text. */
export function parseAddr (s: string): ParseAddrResult {
  for (const c of s) {
    if (c === '.') return parseIPv4(s)
    if (c === ':') return parseIPv6(s)
    if (c === '%') return addrError(s, 'missing IPv6 address')
  }
  return addrError(s, 'unable to parse IP')
}

/** netip.Addr.String: dotted IPv4, `::ffff:a.b.c.d` for IPv4-mapped, RFC 5952 IPv6, then `%zone`. */
export function addrString (a: NetipAddr): string {
  const b = a.bytes
  if (b.length === 4) return b.join('.')
  const zone = a.zone === '' ? '' : `%${a.zone}`
  if (b.slice(0, 10).every(x => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${b.slice(12).join('.')}${zone}`
  const words = Array.from({ length: 8 }, (_, i) => ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0))
  // The longest run of two or more zero words becomes `::` (the first such run on a tie).
  let zeroStart = -1
  let zeroLen = 0
  for (let i = 0; i < 8; i++) {
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i >= 2 && j - i > zeroLen) { zeroStart = i; zeroLen = j - i }
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === zeroStart) {
      out += '::'
      i += zeroLen - 1
      continue
    }
    if (i > 0 && !out.endsWith(':')) out += ':'
    out += (words[i] ?? 0).toString(16)
  }
  return out + zone
}

/**
 * netutils.ParseIPSloppy, what the real server's IP validation accepts: net.ParseIP (no zones) but with
 * IPv4 octets allowed leading zeros. Returns the family (4 or 6), or 0 when it is not an address.
 */
export function parseIPSloppy (s: string): 0 | 4 | 6 {
  if (s.includes('%')) return 0
  const strict = parseAddr(s)
  if (strict.ok) return strict.addr.bytes.length === 4 ? 4 : 6
  if (/^\d+\.\d+\.\d+\.\d+$/.test(s) && s.split('.').every(p => Number(p) <= 255)) return 4
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (tail !== null && parseIPSloppy(tail[2] ?? '') === 4) {
    const padded = parseAddr(`${tail[1] ?? ''}${(tail[2] ?? '').split('.').map(Number).join('.')}`)
    if (padded.ok) return 6
  }
  return 0
}

/** RFC 5952 text of an IPv6 address, as netip.Addr.String writes it. */
export function canonicalIPv6 (ip: string): string {
  const r = parseAddr(ip)
  return r.ok ? addrString(r.addr) : ip
}

export interface ServiceCidr {
  readonly family: 'IPv4' | 'IPv6'
  readonly contains: (ip: string) => boolean
  /** The address at `offset` from the network address. */
  readonly at: (offset: number) => string
  /** Highest usable offset; offset 0 (the network address) and, for IPv4, the broadcast are never used. */
  readonly last: number
  readonly text: string
}

export function serviceCidrV4 (base: string, prefix: number): ServiceCidr {
  const list = new BlockList()
  list.addSubnet(base, prefix, 'ipv4')
  const parts = base.split('.').map(Number)
  const start = (((parts[0] ?? 0) << 24) >>> 0) + ((parts[1] ?? 0) << 16) + ((parts[2] ?? 0) << 8) + (parts[3] ?? 0)
  return {
    family: 'IPv4',
    contains: ip => isIPv4(ip) && list.check(ip, 'ipv4'),
    at: offset => {
      const n = start + offset
      return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
    },
    last: 2 ** (32 - prefix) - 2,
    text: `${base}/${prefix}`
  }
}

/** An IPv6 service CIDR of at most 32 host bits whose base ends in `::` (e.g. 2001:db8:0:200::/108). */
export function serviceCidrV6 (base: string, prefix: number): ServiceCidr {
  const list = new BlockList()
  list.addSubnet(base, prefix, 'ipv6')
  const head = base.replace(/::$/, '')
  return {
    family: 'IPv6',
    contains: ip => isIPv6(ip) && list.check(ip, 'ipv6'),
    at: offset => canonicalIPv6(`${head}::${(offset >>> 16).toString(16)}:${(offset & 0xffff).toString(16)}`),
    last: 2 ** (128 - prefix) - 1,
    text: `${base}/${prefix}`
  }
}
