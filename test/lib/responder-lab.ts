// What the ARP and NDP responder integration tests share: a test file that is also its own two children
// (a responder in namespace A, a packet-socket capture in namespace B, both speaking json-agent.ts's JSON
// lines), the skip when the machine cannot run it, and the set-up of the veth pair and both children with
// their teardown. Each test keeps its own frames, tools and assertions.
import type { Logger } from 'pino'
import type { Test } from 'tap'
import { serveCapture, serveResponder, startInNetns, type Agent, type DrivenResponder } from './json-agent.js'
import { ADDON_PATH } from '../../native/index.js'
import { netnsSkipReason, type VethPair } from './netns.js'

// The children's environment: which role, on which interface, announcing what.
const ROLE = 'L2LB_TRESP_ROLE'
const IFACE = 'L2LB_TRESP_IF'
const IPS = 'L2LB_TRESP_IPS'

export interface ResponderTestFile {
  /** The capture child's protocol (ETHERTYPE_ARP, ETHERTYPE_IPV6). */
  ethertype: number
  /** The responder child's responder on `iface`; imported lazily so the capture child does not load it. */
  responder(iface: string, log: Logger): Promise<DrivenResponder>
  /** The parent: the test itself. */
  test(): Promise<void>
}

/** Runs the file as what its environment says it is: the responder child, the capture child, or the test. */
export async function runResponderTestFile(f: ResponderTestFile): Promise<void> {
  const role = process.env[ROLE]
  const iface = process.env[IFACE] ?? ''
  if (role === 'responder') {
    const { pino } = await import('pino')
    // stdout carries the JSON lines: the responder logs to stderr, which Agent keeps for its errors.
    serveResponder(await f.responder(iface, pino({ level: 'warn' }, process.stderr)), process.env[IPS] ?? '')
  } else if (role === 'capture') {
    serveCapture(iface, f.ethertype)
  } else {
    await f.test()
  }
}

/**
 * Ends `t` with no tests when the machine cannot run `what` (netnsSkipReason: Linux, root, `ip netns`, the
 * built addon, `tools`), printing the reason; true when it did.
 */
export async function skipWithoutNetns(t: Test, what: string, tools: ReadonlyArray<readonly [cmd: string, install: string]>): Promise<boolean> {
  const reason = await netnsSkipReason(ADDON_PATH, tools)
  if (reason === null) return false
  t.comment(`skipping ${what}: ${reason}`)
  t.plan(0, reason)
  return true
}

export interface ResponderLab {
  /** The capture child on B's interface, ready. */
  readonly cap: Agent
  /** The capture's MAC (B's interface), for frames it forges. */
  readonly capMac: Buffer
  /** The responder child on A's interface, ready, announcing the addresses it was started with. */
  readonly resp: Agent
  /** The responder's MAC as it reported it, hex without colons. */
  readonly mac: string
  /** Another capture child on B's interface, ready (a capture goes deaf when the pair is re-created). */
  capture(): Promise<Agent>
  /** Sends `frames` from the capture child, in order; resolves once all went out, with when the last did. */
  send(...frames: Buffer[]): Promise<number>
  /** The responder's counters (its stats()) now. */
  stats(): Promise<unknown>
  /** Has the responder announce exactly `ips`; resolves once it does. */
  announce(ips: string[]): Promise<void>
}

/**
 * Parent side: creates `pair`, then starts the capture child in B and, once it listens, the responder child
 * in A announcing `ips`. The pair and every child are torn down with `t`.
 */
export async function startResponderLab(t: Test, fileUrl: string, pair: VethPair, ips: readonly string[]): Promise<ResponderLab> {
  await pair.create()
  t.teardown(pair.drop)
  const start = (ns: string, env: Record<string, string>): Agent => {
    const agent = startInNetns(fileUrl, ns, env)
    t.teardown(() => agent.kill())
    return agent
  }
  const capture = async (): Promise<Agent> => {
    const agent = start(pair.nsB, { [ROLE]: 'capture', [IFACE]: pair.ifB })
    await agent.next('ready')
    return agent
  }
  const cap = await capture()
  const capMac = Buffer.from(String((await cap.next('ready', 0)).mac), 'hex')
  const resp = start(pair.nsA, { [ROLE]: 'responder', [IFACE]: pair.ifA, [IPS]: ips.join(',') })
  const mac = String((await resp.next('ready')).mac)
  let id = 0
  return {
    cap, capMac, resp, mac, capture,
    send: async (...frames) => {
      for (const f of frames) cap.send({ cmd: 'send', hex: f.toString('hex'), id: id++ })
      let at = NaN
      for (const _ of frames) at = (await cap.next('sent')).at
      return at
    },
    stats: async () => {
      resp.send({ cmd: 'stats', id: id++ })
      return (await resp.next('stats')).stats
    },
    announce: async ips => {
      resp.send({ cmd: 'announce', ips, id: id++ })
      await resp.next('announced')
    },
  }
}
