// Reads what judgeIpvs (speaker/core/ipvs.ts) needs from the node: kube-ipvs0 in sysfs, arp_ignore and
// arp_announce in procfs (the speaker runs in the host network namespace).
import { existsSync, readFileSync } from 'node:fs'
import type { IpvsFacts } from './core/ipvs.js'

export function readIpvsFacts(sysNet = '/sys/class/net', procNet = '/proc/sys/net/ipv4/conf/all'): IpvsFacts {
  const num = (file: string): number | null => {
    try {
      const n = Number.parseInt(readFileSync(`${procNet}/${file}`, 'utf8').trim(), 10)
      return Number.isNaN(n) ? null : n
    } catch {
      return null
    }
  }
  return { hasKubeIpvs0: existsSync(`${sysNet}/kube-ipvs0`), arpIgnore: num('arp_ignore'), arpAnnounce: num('arp_announce') }
}
