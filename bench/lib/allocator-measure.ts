// The allocator bench's measurements (bench/allocator.ts runs each in its own process, through
// allocator-child.ts). See bench/allocator.ts for what is measured and why.
import { Allocator } from '../../controller/core/allocator.js'
import type { AllocationRequest } from '../../controller/core/allocation-request.js'
import type { IP, IPFamily } from '../../internal/core/ip.js'
import { parsePoolConfig } from '../../internal/core/pool-config.js'

/** A timed pattern stops after this many pairs or this much time, whichever comes first. */
const MAX_PAIRS = 1_000_000
const MAX_MS = 2_000
const ROUNDS = 5
/** Pairs run before timing, so the timed code is the optimised code. */
const WARM_UP_PAIRS = 200_000
/** Distinct new Services the goal pairs cycle through. */
const NEW_SERVICES = 65_536

// Parts every bench Service has in common are shared, so the heap holds what the allocator holds and not a
// million copies of the same request fields.
const SHARING = { sharingKey: null, backendKey: '', ports: [{ protocol: 'TCP' as const, port: 80 }] }
const FAMILIES = { IPv4: ['IPv4' as const], IPv6: ['IPv6' as const] }
const LABELS = {}
const NONE: readonly IP[] = []

function request(key: string, family: IPFamily, requested: readonly IP[]): AllocationRequest {
  return {
    key,
    namespace: 'bench',
    labels: LABELS,
    requested,
    pool: null,
    families: FAMILIES[family],
    dualStack: 'single',
    sharing: SHARING,
    statusIPs: NONE,
  }
}

/** A full collection, when the process runs with --expose-gc (the bench starts its children so). */
function fullGC(): void {
  const gc: unknown = Reflect.get(globalThis, 'gc')
  if (typeof gc === 'function') gc()
}

/** A deterministic xorshift sequence, so every run does the same work. */
function randomIndices(count: number, bound: number, seed: number): Uint32Array {
  const out = new Uint32Array(count)
  let x = seed >>> 0 || 1
  for (let i = 0; i < count; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x % bound
  }
  return out
}

/**
 * Best pairs per CPU-second over ROUNDS rounds of `pair(k)` for k = 0, 1, 2, ...: per CPU-second of this
 * process (all its threads, GC included), because the machine is shared and wall time would measure the
 * others' load as much as ours; best of several, because other work only ever makes a round slower.
 */
function timed(label: string, pair: (k: number) => void, log: (l: string) => void): number {
  for (let k = 0; k < WARM_UP_PAIRS; k++) pair(k)
  let best = 0
  let offset = WARM_UP_PAIRS
  for (let round = 0; round < ROUNDS; round++) {
    let done = 0
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    let now = start
    while (done < MAX_PAIRS / ROUNDS && now - start < MAX_MS / ROUNDS) {
      for (let k = 0; k < 2_000; k++) pair(offset + done + k)
      done += 2_000
      now = performance.now()
    }
    offset += done
    const cpu = process.cpuUsage(cpu0)
    const perSecond = done / ((cpu.user + cpu.system) / 1e6)
    const perWallSecond = (done / (now - start)) * 1000
    log(`${label} round ${round + 1}: ${done} pairs, ${Math.round(perSecond)} per CPU-second, ${Math.round(perWallSecond)} per wall second`)
    if (perSecond > best) best = perSecond
  }
  return best
}

export interface Measured {
  readonly pairs: number
  readonly random: number | null
  readonly randomMapBaseline: number | null
}

/** Goal pairs at `assigned`; with `random`, the random-release pairs and their Map baseline too. */
export function measure(family: IPFamily, assigned: number, random: boolean, log: (l: string) => void): Measured {
  // Data only, nothing is sent: the project never writes private ranges, so the IPv4 /8 is 198.0.0.0/8
  // (it holds the benchmarking range 198.18.0.0/15), and the IPv6 /64 is documentation space.
  const cidr = family === 'IPv4' ? '198.0.0.0/8' : '2001:db8::/64'
  const parsed = parsePoolConfig(`address-pools: [{name: bench, protocol: layer2, addresses: ["${cidr}"]}]`)
  if (!parsed.ok) throw new Error('bench pool refused')
  const a = new Allocator()
  a.setConfig(parsed.config)
  a.restore([])
  // N Services on every other address (each asks for its address, as after a restore): N held, N gaps.
  const base = family === 'IPv4' ? 0xc6000000n : 0x20010db8n << 96n // 198.0.0.0, 2001:db8::
  const held: AllocationRequest[] = []
  const t0 = performance.now()
  for (let i = 0; i < assigned; i++) {
    const key = `bench/svc-${i}`
    if (!a.assign(request(key, family, [{ family, value: base + 2n * BigInt(i) }])).ok) throw new Error('setup allocation failed')
    held.push(request(key, family, NONE)) // the same Service, re-assigned automatically by random pairs
  }
  const setupMs = performance.now() - t0
  const fresh: AllocationRequest[] = []
  for (let j = 0; j < NEW_SERVICES; j++) fresh.push(request(`bench/new-${j}`, family, NONE))
  const check = (): void => {
    const inUse = a.usage()[0]?.inUse ?? 0n
    if (inUse !== BigInt(assigned)) throw new Error(`in use ${inUse} != ${assigned}`)
  }
  // Collect the setup's garbage before timing, so a round does not pay for building the state; the
  // collections the pairs themselves cause stay in the figures.
  fullGC()

  const pairs = timed(`${family} assigned ${assigned}, new Service`, k => {
    const r = fresh[k % NEW_SERVICES]
    if (r === undefined) return
    if (!a.assign(r).ok) throw new Error('pool exhausted during the bench')
    a.release(r.key)
  }, log)
  check()
  log(`${family} assigned ${assigned}: setup ${(setupMs / 1000).toFixed(1)} s, best ${Math.round(pairs)} pairs/s (new Service)`)
  if (!random) return { pairs, random: null, randomMapBaseline: null }

  const victims = randomIndices(MAX_PAIRS + WARM_UP_PAIRS, held.length, 0x9e3779b9 ^ assigned)
  const victim = (k: number): AllocationRequest | undefined => held[victims[k % victims.length] ?? 0]
  const randomPairs = timed(`${family} assigned ${assigned}, random release`, k => {
    const r = victim(k)
    if (r === undefined) return
    a.release(r.key)
    if (!a.assign(r).ok) throw new Error('pool exhausted during the bench')
  }, log)
  check()
  // The baseline: the same keys, in the same order, through a plain Map holding N entries.
  const map = new Map<string, AllocationRequest>()
  for (const r of held) map.set(r.key, r)
  const randomMapBaseline = timed(`Map with ${assigned} keys, get+delete+set`, k => {
    const r = victim(k)
    if (r === undefined) return
    const v = map.get(r.key)
    map.delete(r.key)
    if (v !== undefined) map.set(r.key, v)
  }, log)
  log(`${family} assigned ${assigned}: random release ${Math.round(randomPairs)} pairs/s, plain Map ${Math.round(randomMapBaseline)}/s`)
  return { pairs, random: randomPairs, randomMapBaseline }
}

/**
 * Run both families' code paths on a small allocator before anything is timed, so that every measuring
 * process enters its timing with the same compiled code, whichever family and size it measures: the
 * allocator serves both families in one controller, and a process that had seen only one would be measured
 * on code specialised for it.
 */
export function prime(): void {
  for (const family of ['IPv4', 'IPv6'] as const) measureQuietly(family)
}

function measureQuietly(family: IPFamily): void {
  const parsed = parsePoolConfig(`address-pools: [{name: prime, protocol: layer2, addresses: ["198.18.0.0/20", "2001:db8:1::/64"]}]`)
  if (!parsed.ok) throw new Error('priming pool refused')
  const a = new Allocator()
  a.setConfig(parsed.config)
  a.restore([])
  const reqs: AllocationRequest[] = []
  // The paths the setup and the pairs take: a requested address (as the setup claims each), then automatic.
  const base = family === 'IPv4' ? 0xc6120000n : (0x20010db8n << 96n) | (1n << 80n) // 198.18.0.0, 2001:db8:1::
  for (let i = 0; i < 1000; i++) {
    const r = request(`prime/fixed-${i}`, family, [{ family, value: base + 2n * BigInt(i) }])
    if (!a.assign(r).ok) throw new Error('priming allocation failed')
  }
  for (let i = 0; i < 1000; i++) reqs.push(request(`prime/svc-${i}`, family, NONE))
  for (let round = 0; round < 30; round++) {
    for (const r of reqs) if (!a.assign(r).ok) throw new Error('priming allocation failed')
    for (let i = round % 2; i < reqs.length; i += 2) a.release(reqs[i]?.key ?? '')
  }
}
