// Reads the interfaces of this network namespace from /sys for the pure choice in speaker/core/interfaces.ts.
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import type { InterfaceInfo } from './core/interfaces.js'

const IFF_UP = 0x1
const IFF_NOARP = 0x80

/** Reads the interfaces of the current network namespace from /sys/class/net. */
export function readInterfaces(sysNet = '/sys/class/net'): InterfaceInfo[] {
  const read = (name: string, file: string): string => {
    try { return readFileSync(`${sysNet}/${name}/${file}`, 'utf8').trim() } catch { return '' }
  }
  return readdirSync(sysNet).map(name => {
    const flags = Number.parseInt(read(name, 'flags') || '0', 16)
    return {
      name,
      up: (flags & IFF_UP) !== 0 && read(name, 'operstate') !== 'down',
      noArp: (flags & IFF_NOARP) !== 0,
      enslaved: existsSync(`${sysNet}/${name}/master`),
      mac: read(name, 'address'),
    }
  })
}
