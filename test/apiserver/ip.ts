// Address helpers over node:net only (the stand-in may import nothing but node built-ins).
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net'

export { isIP, isIPv4, isIPv6 }

/** RFC 5952 text of an IPv6 address, through the WHATWG URL parser's canonical host serialisation. */
export function canonicalIPv6 (ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.replace(/^\[|\]$/g, '')
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
