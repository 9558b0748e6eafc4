// Where the footprint bench's memory goes.
// 1. Dependencies alone: a child (`node --expose-gc --input-type=module -e CHILD_CODE ...`, plain node, no tsx)
//    imports some packages from node_modules, collects garbage twice and prints one JSON line: RSS, anonymous
//    RSS, V8 heap used and committed. Each set is imported in a fresh process, so a figure is that set's own
//    cost on top of a bare node: what a program would pay importing it the ordinary way (the bundle does not).
// 2. The bundles: how many bytes of each program (dist/<program>/main.js) come from which package, from the
//    metafile build/bundle.ts writes (dist/bundle-meta.json). The text is held in the heap once loaded.
// 3. A heap snapshot of a running program summed by kind of object (summarizeHeapSnapshot).

/** What one child reports, MiB. */
export interface ImportMemory {
  readonly rss: number
  readonly anon: number
  readonly heapUsed: number
  readonly heapTotal: number
}

/** A set of modules to import together, under a figure key. */
export interface ImportSet {
  readonly key: string
  readonly label: string
  readonly specs: readonly string[]
}

/** The child. argv[1]: JSON array of specifiers. */
export const CHILD_CODE = `
import { readFileSync } from 'node:fs'
const specs = JSON.parse(process.argv[1])
for (const s of specs) await import(s)
globalThis.gc(); globalThis.gc()
await new Promise(r => setTimeout(r, 200))
const status = readFileSync('/proc/self/status', 'utf8')
const kb = k => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+)', 'm').exec(status)[1]) / 1024
const mib = b => b / 1048576
const m = process.memoryUsage()
process.stdout.write(JSON.stringify({ rss: kb('VmRSS'), anon: kb('RssAnon'), heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal) }) + '\\n')
`

const CN = '@kubernetes/client-node/dist'

/** The sets measured, each alone on a bare node. */
export const IMPORT_SETS: readonly ImportSet[] = [
  { key: 'client_node', label: '@kubernetes/client-node (all of it, as `import ... from` loads it)', specs: ['@kubernetes/client-node'] },
  { key: 'client_node_api_classes', label: 'client-node gen/types/*API.js: the request classes of every API group', specs: [`${CN}/gen/types/ObjectParamAPI.js`] },
  { key: 'client_node_models', label: 'client-node gen/models/ObjectSerializer.js: every kind\'s model class', specs: [`${CN}/gen/models/ObjectSerializer.js`] },
  { key: 'client_node_watch', label: 'client-node watch.js (Watch, the one non-generated part l2lb uses most)', specs: [`${CN}/watch.js`] },
  { key: 'pino', label: 'pino', specs: ['pino'] },
  { key: 'js_yaml', label: 'js-yaml', specs: ['js-yaml'] },
  { key: 'ip_address', label: 'ip-address', specs: ['ip-address'] },
]

/** Bytes of one bundle by package (`@scope/name`, or the repo folder for l2lb's own code), largest first. */
export function bundleBytesByPackage(metafile: unknown, output: string): { total: number; byPackage: [string, number][] } {
  const outputs = typeof metafile === 'object' && metafile !== null ? Reflect.get(metafile, 'outputs') : undefined
  const out: unknown = typeof outputs === 'object' && outputs !== null ? Reflect.get(outputs, output) : undefined
  const inputs: unknown = typeof out === 'object' && out !== null ? Reflect.get(out, 'inputs') : undefined
  if (typeof inputs !== 'object' || inputs === null) throw new Error(`dist/bundle-meta.json: no output ${output}: run \`npm run build\``)
  const sums = new Map<string, number>()
  let total = 0
  for (const [file, info] of Object.entries(inputs)) {
    const bytes: unknown = typeof info === 'object' && info !== null ? Reflect.get(info, 'bytesInOutput') : undefined
    if (typeof bytes !== 'number') continue
    // The innermost node_modules folder names the package (client-node's own js-yaml is js-yaml).
    const m = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)
    const key = m?.[1] ?? file.split('/')[0] ?? file
    sums.set(key, (sums.get(key) ?? 0) + bytes)
    total += bytes
  }
  return { total, byPackage: [...sums].sort((a, b) => b[1] - a[1]) }
}

/** A heap snapshot's bytes by kind (MiB): strings (of which 16 KiB or longer: module source text), code, the rest. */
export interface HeapSummary {
  readonly total: number
  readonly strings: number
  readonly sourceText: number
  readonly code: number
  readonly other: number
}

/**
 * Sums a V8 heap snapshot (the .heapsnapshot JSON) by node type. A string of 16 KiB or more in these programs'
 * heaps is a module's source text (V8 keeps it for lazy compilation and Function.prototype.toString).
 */
export function summarizeHeapSnapshot(snapshot: unknown): HeapSummary {
  const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? Reflect.get(v, k) : undefined), o)
  const fields = get(snapshot, 'snapshot', 'meta', 'node_fields')
  const nodeTypes = get(snapshot, 'snapshot', 'meta', 'node_types')
  const nodes = get(snapshot, 'nodes')
  if (!Array.isArray(fields) || !Array.isArray(nodeTypes) || !Array.isArray(nodeTypes[0]) || !Array.isArray(nodes)) throw new Error('not a V8 heap snapshot')
  const types: unknown[] = nodeTypes[0]
  const n = fields.length
  const iType = fields.indexOf('type')
  const iSize = fields.indexOf('self_size')
  let total = 0
  let strings = 0
  let sourceText = 0
  let code = 0
  for (let i = 0; i < nodes.length; i += n) {
    const t = types[Number(nodes[i + iType])]
    const size = Number(nodes[i + iSize])
    total += size
    if (t === 'string' || t === 'concatenated string' || t === 'sliced string') {
      strings += size
      if (size >= 16384) sourceText += size
    } else if (t === 'code') code += size
  }
  const mib = (b: number): number => b / 1048576
  return { total: mib(total), strings: mib(strings), sourceText: mib(sourceText), code: mib(code), other: mib(total - strings - code) }
}
