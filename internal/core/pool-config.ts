// The pool ConfigMap (`l2lb-system/config`, key `config`), parsed strictly into a value. The format is
// MetalLB's up to v0.12 (docs/reference.md, "Pool ConfigMap") plus l2lb's extensions: per pool `namespaces`,
// `service-selectors` and `priority` (MetalLB's later serviceAllocation), and a top-level
// `l2-advertisements` list (MetalLB's L2Advertisement). Every problem found is reported, not only the first,
// each with where it is and how to fix it; the function never throws.
import { load } from 'js-yaml'
import {
  formatRange,
  parseAddressBlock,
  reservedIn,
  type IPFamily,
  type IPRange,
} from './ip.js'

export interface LabelSelectorRequirement {
  readonly key: string
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'
  readonly values: readonly string[]
}

/** A Kubernetes label selector; the empty selector matches everything. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>
  readonly matchExpressions: readonly LabelSelectorRequirement[]
}

export interface PoolRange extends IPRange {
  /** The entry as written, for messages. */
  readonly source: string
}

export interface Pool {
  readonly name: string
  readonly protocol: 'layer2'
  readonly ranges: readonly PoolRange[]
  readonly families: readonly IPFamily[]
  readonly autoAssign: boolean
  readonly avoidBuggyIPs: boolean
  /** null: every namespace. */
  readonly namespaces: readonly string[] | null
  /** null: every Service; otherwise the Service's labels must match at least one selector. */
  readonly serviceSelectors: readonly LabelSelector[] | null
  /** Lower is tried first; pools without a priority come after those with one. */
  readonly priority: number | null
}

export interface L2Advertisement {
  /** Pool names; empty means every pool. */
  readonly ipAddressPools: readonly string[]
  /** Empty means every node; otherwise a node must match at least one. */
  readonly nodeSelectors: readonly LabelSelector[]
  /** Empty means every eligible interface. */
  readonly interfaces: readonly string[]
}

export interface PoolConfig {
  readonly pools: readonly Pool[]
  readonly l2Advertisements: readonly L2Advertisement[]
}

export interface ConfigError {
  /** Where, e.g. `address-pools[default].addresses[1]`. */
  readonly path: string
  /** What is wrong. */
  readonly message: string
  /** How to fix it. */
  readonly fix: string
}

export type ConfigResult =
  | { readonly ok: true; readonly config: PoolConfig }
  | { readonly ok: false; readonly errors: readonly ConfigError[] }

export function formatConfigError(e: ConfigError): string {
  return `${e.path}: ${e.message} (${e.fix})`
}

/**
 * Bounds on what one ConfigMap may ask of either program, so that no input can block the event loop long
 * enough to miss a Lease renewal or take more memory than the manifests allow. A ConfigMap holds at most
 * 1 MiB anyway (the API server's limit); the counts are far above any real site's and well inside what the
 * parser, the overlap check and the allocator do in a fraction of a second (`npm run bench -- config`).
 */
export const CONFIG_LIMITS = {
  /** Characters of the `config` text. */
  bytes: 1024 * 1024,
  /** YAML values visited, aliases counted each time they are used: a billion-laughs bomb stops here. */
  yamlValues: 400_000,
  pools: 10_000,
  /** `addresses` entries over all pools. */
  addressEntries: 100_000,
  l2Advertisements: 10_000,
  /** Problems listed; the rest are counted in one last entry. */
  reportedErrors: 50,
} as const

const POOL_KEYS = [
  'name',
  'protocol',
  'addresses',
  'auto-assign',
  'avoid-buggy-ips',
  'namespaces',
  'service-selectors',
  'priority',
] as const
const TOP_KEYS = ['address-pools', 'l2-advertisements'] as const
const ADV_KEYS = ['ip-address-pools', 'node-selectors', 'interfaces'] as const
const SELECTOR_KEYS = ['matchLabels', 'matchExpressions'] as const
const EXPR_KEYS = ['key', 'operator', 'values'] as const
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const

// Kubernetes' own syntax rules, so a selector that could never match a real label is caught here.
const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/
const LABEL_VALUE = /^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

class Collector {
  readonly errors: ConfigError[] = []
  /** Problems found beyond CONFIG_LIMITS.reportedErrors: counted, not kept. */
  unreported = 0
  get count(): number {
    return this.errors.length + this.unreported
  }
  add(path: string, message: string, fix: string): void {
    if (this.errors.length < CONFIG_LIMITS.reportedErrors) this.errors.push({ path, message, fix })
    else this.unreported++
  }
  /** The errors, with one last entry for those not listed. */
  result(): ConfigError[] {
    if (this.unreported === 0) return this.errors
    return [...this.errors, { path: 'config', message: `and ${this.unreported} more problems not listed`, fix: 'fix the ones above first; the rest are often the same mistake' }]
  }
  unknownKeys(path: string, o: Obj, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        const bgp = k.startsWith('bgp')
        this.add(
          `${path}.${k}`,
          bgp ? `"${k}" is a BGP setting; l2lb is layer-2 only` : `unknown key "${k}"`,
          bgp ? 'remove it: l2lb announces with ARP/NDP only' : `remove it; allowed keys here: ${allowed.join(', ')}`,
        )
      }
    }
  }
}

/**
 * Whether the parsed YAML has at most `budget` values, aliases counted at every use. Stops as soon as the
 * budget is spent, so it costs O(budget) whatever the document expands to.
 */
function withinValueBudget(doc: unknown, budget: number): boolean {
  let left = budget
  const stack: unknown[] = [doc]
  while (stack.length > 0) {
    const v = stack.pop()
    if (--left < 0) return false
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i])
      if (stack.length > left) return false
    } else if (isObj(v)) {
      for (const k in v) stack.push(v[k])
      if (stack.length > left) return false
    }
  }
  return true
}

function tooLarge(what: string, fix: string): ConfigResult {
  return { ok: false, errors: [{ path: 'config', message: `too large: ${what}`, fix }] }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return `${typeof v} ${JSON.stringify(v)}`
}

function stringList(c: Collector, path: string, v: unknown, what: string): string[] | null {
  if (!Array.isArray(v)) {
    c.add(path, `expected a list of ${what}, got ${describe(v)}`, `write it as a YAML list, e.g. [${what === 'strings' ? '"a"' : what}]`)
    return null
  }
  const out: string[] = []
  v.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '') {
      c.add(`${path}[${i}]`, `expected a non-empty string, got ${describe(item)}`, 'quote the value')
    } else out.push(item.trim())
  })
  return out
}

function parseSelector(c: Collector, path: string, v: unknown): LabelSelector | null {
  if (!isObj(v)) {
    c.add(path, `expected a label selector mapping, got ${describe(v)}`, 'write {matchLabels: {...}} and/or {matchExpressions: [...]}')
    return null
  }
  const before = c.count
  c.unknownKeys(path, v, SELECTOR_KEYS)
  const matchLabels: Record<string, string> = {}
  if (v.matchLabels !== undefined) {
    if (!isObj(v.matchLabels)) {
      c.add(`${path}.matchLabels`, `expected a mapping of label to value, got ${describe(v.matchLabels)}`, 'write e.g. {team: a}')
    } else {
      for (const [k, val] of Object.entries(v.matchLabels)) {
        if (!LABEL_NAME.test(k)) c.add(`${path}.matchLabels.${k}`, `"${k}" is not a valid label key`, 'use a Kubernetes label key like team or example.com/team')
        if (val === null || val === undefined) {
          // `team:` with nothing after it: YAML reads null, which is no label value.
          c.add(`${path}.matchLabels.${k}`, `label ${k} has no value`, `write the value after "${k}:", or ${k}: "" to match the empty value`)
        } else if (typeof val !== 'string' || !LABEL_VALUE.test(val)) {
          c.add(`${path}.matchLabels.${k}`, `${describe(val)} is not a valid label value`, 'quote it; at most 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit')
        } else matchLabels[k] = val
      }
    }
  }
  const matchExpressions: LabelSelectorRequirement[] = []
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) {
      c.add(`${path}.matchExpressions`, `expected a list, got ${describe(v.matchExpressions)}`, 'write a list of {key, operator, values}')
    } else {
      v.matchExpressions.forEach((e, i) => {
        const p = `${path}.matchExpressions[${i}]`
        if (!isObj(e)) {
          c.add(p, `expected {key, operator, values}, got ${describe(e)}`, 'write e.g. {key: team, operator: In, values: [a]}')
          return
        }
        c.unknownKeys(p, e, EXPR_KEYS)
        const key = e.key
        const op = OPERATORS.find(o => o === e.operator)
        if (key === undefined || key === null) c.add(`${p}.key`, 'the expression has no key', 'add key: <label key>, e.g. {key: team, operator: In, values: [a]}')
        else if (typeof key !== 'string' || !LABEL_NAME.test(key)) c.add(`${p}.key`, `${describe(key)} is not a valid label key`, 'use a Kubernetes label key like team or example.com/team')
        if (op === undefined) c.add(`${p}.operator`, `operator ${describe(e.operator)} is not one of ${OPERATORS.join(', ')}`, 'use In, NotIn, Exists or DoesNotExist')
        let values: string[] = []
        if (e.values !== undefined) values = stringList(c, `${p}.values`, e.values, 'strings') ?? []
        if ((op === 'In' || op === 'NotIn') && values.length === 0) {
          c.add(`${p}.values`, `operator ${op} needs at least one value`, 'list the values')
        }
        if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
          c.add(`${p}.values`, `operator ${op} takes no values`, 'remove values')
        }
        if (typeof key === 'string' && op !== undefined) matchExpressions.push({ key, operator: op, values })
      })
    }
  }
  return c.count === before ? { matchLabels, matchExpressions } : null
}

function selectorList(c: Collector, path: string, v: unknown): LabelSelector[] {
  if (!Array.isArray(v)) {
    c.add(path, `expected a list of label selectors, got ${describe(v)}`, 'write e.g. [{matchLabels: {team: a}}]')
    return []
  }
  const out: LabelSelector[] = []
  v.forEach((s, i) => {
    const sel = parseSelector(c, `${path}[${i}]`, s)
    if (sel) out.push(sel)
  })
  return out
}

/**
 * A pool as parsed: the pool when it has no error, and in any case the address entries that parsed, so that
 * their overlaps with other pools are reported together with the pool's other errors.
 */
interface ParsedPool {
  readonly pool: Pool | null
  /** How messages name the pool: `address-pools[name]`, or `address-pools[index]` without a usable name. */
  readonly path: string
  readonly ranges: readonly PoolRange[]
  /** Each range's index in `addresses` as written (entries with errors are not in ranges). */
  readonly indexes: readonly number[]
}

function parsePool(c: Collector, index: number, v: unknown): ParsedPool {
  const anon = `address-pools[${index}]`
  if (!isObj(v)) {
    c.add(anon, `expected a pool mapping, got ${describe(v)}`, 'write {name, protocol: layer2, addresses: [...]}')
    return { pool: null, path: anon, ranges: [], indexes: [] }
  }
  const named = typeof v.name === 'string' && v.name.trim() !== ''
  const path = named ? `address-pools[${String(v.name).trim()}]` : anon
  const before = c.count
  c.unknownKeys(path, v, POOL_KEYS)
  if (v.name === undefined) c.add(`${path}.name`, 'missing name', 'give the pool a unique name')
  else if (!named) c.add(`${path}.name`, `name must be a non-empty string, got ${describe(v.name)}`, 'give the pool a unique name')
  if (v.protocol === undefined) c.add(`${path}.protocol`, 'missing protocol', 'add protocol: layer2')
  else if (v.protocol === 'bgp') c.add(`${path}.protocol`, 'protocol bgp is not supported: l2lb is layer-2 only', 'use protocol: layer2, or MetalLB for BGP')
  else if (v.protocol !== 'layer2') c.add(`${path}.protocol`, `unknown protocol ${describe(v.protocol)}`, 'use protocol: layer2')
  const ranges: PoolRange[] = []
  const indexes: number[] = []
  if (v.addresses === undefined) c.add(`${path}.addresses`, 'missing addresses', 'list CIDRs or ranges start-end')
  else if (!Array.isArray(v.addresses)) c.add(`${path}.addresses`, `expected a list, got ${describe(v.addresses)}`, 'write a YAML list of CIDRs or ranges')
  else {
    if (v.addresses.length === 0) c.add(`${path}.addresses`, 'the list is empty', 'list at least one CIDR or range')
    // A pool may hold tens of thousands of entries: nothing is built per entry but the range itself.
    const addresses: readonly unknown[] = v.addresses
    for (let i = 0; i < addresses.length; i++) {
      const a = addresses[i]
      if (typeof a !== 'string') {
        c.add(`${path}.addresses[${i}]`, `expected a CIDR or range, got ${describe(a)}`, 'quote it, e.g. "192.0.2.240/28"')
        continue
      }
      const r = parseAddressBlock(a)
      if (!r.ok) {
        c.add(`${path}.addresses[${i}]`, r.reason, 'write a CIDR like 192.0.2.240/28 or a range like 192.0.2.240-192.0.2.250')
        continue
      }
      const reserved = reservedIn(r.value)
      if (reserved !== null) {
        c.add(`${path}.addresses[${i}]`, `${a.trim()} includes ${reserved.cidr} (${reserved.what}), which no Service address may be`, `narrow the entry to leave ${reserved.cidr} out`)
        continue
      }
      ranges.push({ family: r.value.family, start: r.value.start, end: r.value.end, source: a.trim() })
      indexes.push(i)
    }
  }
  const bool = (key: 'auto-assign' | 'avoid-buggy-ips', dflt: boolean): boolean => {
    const b = v[key]
    if (b === undefined) return dflt
    if (typeof b === 'boolean') return b
    c.add(`${path}.${key}`, `expected true or false, got ${describe(b)}`, `write ${key}: ${dflt}`)
    return dflt
  }
  const autoAssign = bool('auto-assign', true)
  const avoidBuggyIPs = bool('avoid-buggy-ips', false)
  let namespaces: string[] | null = null
  if (v.namespaces !== undefined) {
    namespaces = stringList(c, `${path}.namespaces`, v.namespaces, 'strings')
    namespaces?.forEach((ns, i) => {
      if (!NAMESPACE.test(ns)) c.add(`${path}.namespaces[${i}]`, `"${ns}" is not a valid namespace name`, 'use a lower-case DNS label')
    })
    if (namespaces && namespaces.length === 0) namespaces = null
  }
  let serviceSelectors: LabelSelector[] | null = null
  if (v['service-selectors'] !== undefined) {
    serviceSelectors = selectorList(c, `${path}.service-selectors`, v['service-selectors'])
    if (serviceSelectors.length === 0) serviceSelectors = null
  }
  // MetalLB's serviceAllocation.priority: a lower value is tried first, and 0 means unset, the lowest
  // (internal/allocator/allocator.go, sortPools: "when no priority (0) set on the pool, then that is
  // considered as lowest priority"). A negative value has no defined place there, so it is refused here.
  let priority: number | null = null
  if (v.priority !== undefined && v.priority !== null) {
    if (typeof v.priority !== 'number' || !Number.isSafeInteger(v.priority)) {
      c.add(`${path}.priority`, `expected an integer, got ${describe(v.priority)}`, 'write e.g. priority: 10 (lower is tried first)')
    } else if (v.priority < 0) {
      c.add(`${path}.priority`, `priority ${v.priority} is negative`, 'write a priority of 1 or more (lower is tried first), or leave it out (0 or absent: tried last, as in MetalLB)')
    } else if (v.priority > 0) priority = v.priority
  }
  if (c.count > before || !named) return { pool: null, path, ranges, indexes }
  const families = (['IPv4', 'IPv6'] as const).filter(f => ranges.some(r => r.family === f))
  const pool: Pool = {
    name: String(v.name).trim(),
    protocol: 'layer2',
    ranges,
    families,
    autoAssign,
    avoidBuggyIPs,
    namespaces,
    serviceSelectors,
    priority,
  }
  return { pool, path, ranges, indexes }
}

function parseAdvertisement(c: Collector, index: number, v: unknown, poolNames: ReadonlySet<string>): L2Advertisement | null {
  const path = `l2-advertisements[${index}]`
  if (!isObj(v)) {
    c.add(path, `expected a mapping, got ${describe(v)}`, 'write {ip-address-pools: [...], node-selectors: [...], interfaces: [...]}')
    return null
  }
  const before = c.count
  c.unknownKeys(path, v, ADV_KEYS)
  let ipAddressPools: string[] = []
  if (v['ip-address-pools'] !== undefined) {
    ipAddressPools = stringList(c, `${path}.ip-address-pools`, v['ip-address-pools'], 'strings') ?? []
    ipAddressPools.forEach((p, i) => {
      if (!poolNames.has(p)) c.add(`${path}.ip-address-pools[${i}]`, `no pool is named "${p}"`, 'name a pool from address-pools, or leave the list out to mean every pool')
    })
  }
  const nodeSelectors = v['node-selectors'] === undefined ? [] : selectorList(c, `${path}.node-selectors`, v['node-selectors'])
  const interfaces = v.interfaces === undefined ? [] : (stringList(c, `${path}.interfaces`, v.interfaces, 'strings') ?? [])
  interfaces.forEach((name, i) => {
    // Linux interface names: at most 15 bytes, no '/', no whitespace (IFNAMSIZ - 1).
    if (name.length > 15 || /[\s/]/.test(name)) c.add(`${path}.interfaces[${i}]`, `"${name}" is not a valid interface name`, 'use a name like eth0 (at most 15 characters)')
  })
  return c.count === before ? { ipAddressPools, nodeSelectors, interfaces } : null
}

/** Parse the text of the ConfigMap's `config` key. */
export function parsePoolConfig(text: string): ConfigResult {
  const c = new Collector()
  if (text.length > CONFIG_LIMITS.bytes) {
    return tooLarge(`${text.length} characters, more than ${CONFIG_LIMITS.bytes}`, 'write fewer, larger entries (a CIDR or a range covers many addresses)')
  }
  let doc: unknown
  try {
    doc = load(text)
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e)
    if (text.trim() === '') return { ok: false, errors: [{ path: 'config', message: 'the config is empty', fix: 'write address-pools: [...]; to remove every pool write address-pools: []' }] }
    return { ok: false, errors: [{ path: 'config', message: `not valid YAML: ${msg}`, fix: 'fix the YAML syntax' }] }
  }
  if (!isObj(doc)) {
    return { ok: false, errors: [{ path: 'config', message: `expected a mapping with address-pools, got ${describe(doc)}`, fix: 'start the config with address-pools:' }] }
  }
  if (!withinValueBudget(doc, CONFIG_LIMITS.yamlValues)) {
    return tooLarge(`more than ${CONFIG_LIMITS.yamlValues} values once YAML aliases are expanded`, 'write each value out, or use fewer aliases')
  }
  const rawPools = doc['address-pools']
  if (Array.isArray(rawPools)) {
    if (rawPools.length > CONFIG_LIMITS.pools) return tooLarge(`${rawPools.length} pools, more than ${CONFIG_LIMITS.pools}`, 'merge pools that share their settings')
    let entries = 0
    for (const p of rawPools) if (isObj(p) && Array.isArray(p.addresses)) entries += p.addresses.length
    if (entries > CONFIG_LIMITS.addressEntries) {
      return tooLarge(`${entries} addresses entries, more than ${CONFIG_LIMITS.addressEntries}`, 'write fewer, larger entries (a CIDR or a range covers many addresses)')
    }
  }
  const rawAdverts = doc['l2-advertisements']
  if (Array.isArray(rawAdverts) && rawAdverts.length > CONFIG_LIMITS.l2Advertisements) {
    return tooLarge(`${rawAdverts.length} l2-advertisements, more than ${CONFIG_LIMITS.l2Advertisements}`, 'merge advertisements that share their settings')
  }
  c.unknownKeys('config', doc, TOP_KEYS)
  const pools: Pool[] = []
  const parsed: ParsedPool[] = []
  const raw = doc['address-pools']
  if (raw === undefined) c.add('config.address-pools', 'missing address-pools', 'add address-pools: [...] (an empty list is allowed)')
  else if (!Array.isArray(raw)) c.add('config.address-pools', `expected a list, got ${describe(raw)}`, 'write a YAML list of pools')
  else {
    raw.forEach((p, i) => {
      const r = parsePool(c, i, p)
      parsed.push(r)
      if (r.pool) pools.push(r.pool)
    })
  }
  // Duplicate names, then overlaps: each pair is reported once, naming both sides.
  const seen = new Map<string, number>()
  if (Array.isArray(raw)) {
    raw.forEach((p, i) => {
      if (!isObj(p) || typeof p.name !== 'string' || p.name.trim() === '') return
      const name = p.name.trim()
      const first = seen.get(name)
      if (first !== undefined) {
        c.add(`address-pools[${i}].name`, `pool name "${name}" is also used by address-pools[${first}]`, 'give every pool a unique name')
      } else seen.set(name, i)
    })
  }
  // Over every entry that parsed, also in pools with other errors: every error is reported at once.
  reportOverlaps(c, parsed)
  const l2Advertisements: L2Advertisement[] = []
  const advRaw = doc['l2-advertisements']
  if (advRaw !== undefined) {
    if (!Array.isArray(advRaw)) c.add('config.l2-advertisements', `expected a list, got ${describe(advRaw)}`, 'write a YAML list')
    else {
      const names = new Set(pools.map(p => p.name))
      advRaw.forEach((a, i) => {
        const adv = parseAdvertisement(c, i, a, names)
        if (adv) l2Advertisements.push(adv)
      })
    }
  }
  if (c.count > 0) return { ok: false, errors: c.result() }
  return { ok: true, config: { pools, l2Advertisements } }
}

/**
 * Every entry that overlaps an earlier one (in config order) is reported once, naming the earlier entry and
 * the addresses both hold. Sorted by start and swept, so n entries cost O(n log n), not a check per pair:
 * among the entries that start at or before this one, the one reaching furthest is the one it overlaps if
 * any does.
 */
function reportOverlaps(c: Collector, pools: readonly ParsedPool[]): void {
  interface Entry { readonly pool: string, readonly i: number, readonly order: number, readonly r: PoolRange }
  const all: Entry[] = []
  for (const p of pools) {
    p.ranges.forEach((r, k) => all.push({ pool: p.path, i: p.indexes[k] ?? k, order: all.length, r }))
  }
  all.sort((a, b) => a.r.family !== b.r.family ? (a.r.family < b.r.family ? -1 : 1)
    : a.r.start !== b.r.start ? (a.r.start < b.r.start ? -1 : 1) : a.order - b.order)
  let reach: Entry | undefined // the entry, among those seen in this family, whose end is furthest
  for (const e of all) {
    if (reach === undefined || reach.r.family !== e.r.family || reach.r.end < e.r.start) {
      reach = e
      continue
    }
    // e and reach overlap; the later one in config order is the one to change.
    const [first, later] = reach.order < e.order ? [reach, e] : [e, reach]
    const shared: IPRange = { family: e.r.family, start: e.r.start, end: reach.r.end < e.r.end ? reach.r.end : e.r.end }
    c.add(
      `${later.pool}.addresses[${later.i}]`,
      `${later.r.source} overlaps ${first.r.source} in ${first.pool}.addresses[${first.i}] (both hold ${formatRange(shared)})`,
      'an address may belong to one pool entry only: shrink or remove one of them',
    )
    if (e.r.end > reach.r.end) reach = e
  }
}

export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false
  for (const e of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key)
    const val = labels[e.key]
    switch (e.operator) {
      case 'In':
        if (val === undefined || !e.values.includes(val)) return false
        break
      case 'NotIn':
        if (val !== undefined && e.values.includes(val)) return false
        break
      case 'Exists':
        if (!has) return false
        break
      case 'DoesNotExist':
        if (has) return false
        break
    }
  }
  return true
}
