// Canonical addresses from the literals of a test, through the one constructor (internal/core/ip.ts
// canonicalIP). A literal that is no address is a bug in the test: thrown, not skipped.
import { canonicalIP, type CanonicalIP } from '../../internal/core/ip.js'

export function ip(text: string): CanonicalIP {
  const c = canonicalIP(text)
  if (!c.ok) throw new Error(`test literal: ${c.reason}`)
  return c.value
}

export function ips(...texts: readonly string[]): CanonicalIP[] {
  return texts.map(ip)
}
