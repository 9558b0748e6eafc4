// One case of `npm run bench -- config` in a fresh process (so memory figures are this case's alone):
// `node --import tsx bench/lib/config-child.ts CASE PATH` with PATH one of
//   yaml        js-yaml's load of the text alone (the floor any parser of this format pays),
//   controller  what the controller does with a new ConfigMap (applyConfig: parse, then the allocator takes the
//               pools while 64 Services hold addresses of the last good config),
//   speaker     what a speaker does (parse on its config thread, speaker/config-parser.ts, then the
//               advertisement of each of those 64 addresses on the main thread); CPU and memory count both
//               threads, the block the main thread's (the one that answers ARP).
// Prints one JSON line: outcome, CPU ms, wall ms, longest event-loop block ms, extra peak RSS MiB.
import { load } from 'js-yaml'
import { CONFIG_CASES } from './config-cases.js'
import { parsePoolConfig } from '../../internal/core/pool-config.js'
import { Allocator } from '../../controller/core/allocator.js'
import { applyConfig } from '../../controller/core/reconcile.js'
import { requestFromService } from '../../controller/core/allocation-request.js'
import { advertisementOf } from '../../speaker/core/advertisement.js'
import { ConfigParser } from '../../speaker/config-parser.js'
import type { ServiceView } from '../../internal/core/views.js'
import type { CanonicalIP } from '../../internal/core/ip.js'
import { ip as canonical } from '../../test/lib/canonical-ip.js'

const [caseName, path] = process.argv.slice(2)
const c = CONFIG_CASES.find(x => x.name === caseName)
if (c === undefined || !['yaml', 'controller', 'speaker'].includes(path ?? '')) {
  process.stderr.write(`usage: config-child.ts CASE yaml|controller|speaker (cases: ${CONFIG_CASES.map(x => x.name).join(', ')})\n`)
  process.exit(2)
}

const GOOD = 'address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.0/25, "2001:db8:0:1::/120"]\n'
const service = (i: number): ServiceView => ({
  key: `default/s${i}`, namespace: 'default', name: `s${i}`, uid: `u${i}`, resourceVersion: '1', creationTimestamp: '2026-11-30T00:00:00Z',
  type: 'LoadBalancer', isLoadBalancer: true, loadBalancerClass: null, loadBalancerIP: null, annotations: {}, labels: {},
  selector: { app: 'x' }, externalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', clusterIPs: [],
  ports: [{ name: 'http', protocol: 'TCP', port: 80 }], ingressIPs: [], badIngressIPs: [],
})

const text = c.text()
const allocator = new Allocator()
applyConfig(allocator, GOOD, [], null)
const services = Array.from({ length: 64 }, (_, i) => service(i))
const held: CanonicalIP[] = []
for (const s of services) {
  const r = requestFromService(s)
  if (!r.ok) throw new Error('bad fixture')
  const a = allocator.assign(r.request)
  if (a.ok) held.push(...a.assignment.texts.map(canonical)) // as views.ts reads them back from the status
}
const withStatus = services.map((s, i) => ({ ...s, ingressIPs: held[i] !== undefined ? [held[i]] : [] }))

// Warm the code paths on the small config so that JIT compilation is not counted against the case.
for (let i = 0; i < 20; i++) { parsePoolConfig(GOOD); load(GOOD) }
global.gc?.()

// The longest event-loop block: the largest gap between ticks of a 1 ms interval, less the interval. A renewal
// timer (the speaker's Lease, the controller's leader election) is late by exactly that much.
let last = performance.now()
let maxBlockMs = 0
const ticker = setInterval(() => {
  const now = performance.now()
  maxBlockMs = Math.max(maxBlockMs, now - last - 1)
  last = now
}, 1)
await new Promise(resolve => setTimeout(resolve, 10))
const rssBefore = process.resourceUsage().maxRSS
const cpu0 = process.cpuUsage()
const t0 = performance.now()
let outcome = ''
if (path === 'speaker') {
  // As shipped: the bundled worker (`npm run bench` builds first); from source it would also load tsx and
  // compile TypeScript.
  const parser = new ConfigParser({ workerUrl: new URL('../../dist/speaker/config-parse-worker.js', import.meta.url) })
  const p = await parser.parse(text)
  await parser.close()
  if (p === null) outcome = 'superseded'
  else if (p.ok) {
    let announced = 0
    for (const ip of held) if (advertisementOf(ip, p.index) !== null) announced++
    outcome = `accepted, ${announced} of ${held.length} held IPs still advertised`
  } else outcome = `refused, ${p.errors.length} errors: ${p.errors[0]?.message.slice(0, 80) ?? ''}`
} else {
  await new Promise<void>(resolve => setImmediate(() => {
    if (path === 'yaml') {
      try { load(text); outcome = 'loaded' } catch { outcome = 'yaml error' }
    } else {
      const o = applyConfig(allocator, text, withStatus, null)
      outcome = o.accepted ? `accepted, ${o.cleared.length} cleared` : `refused, ${o.errors.length} errors: ${o.errors[0]?.message.slice(0, 80) ?? ''}`
    }
    resolve()
  }))
}
await new Promise(resolve => setTimeout(resolve, 20))
const wallMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
clearInterval(ticker)
const extraMiB = (process.resourceUsage().maxRSS - rssBefore) / 1024
process.stdout.write(JSON.stringify({
  case: caseName, path, outcome, cpuMs: (cpu.user + cpu.system) / 1000, wallMs, maxBlockMs, extraPeakRssMiB: extraMiB, textBytes: text.length,
}) + '\n')
