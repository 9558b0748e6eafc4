// Where the footprint bench's memory goes: a child (`node --expose-gc --input-type=module -e CHILD_CODE ...`,
// plain node, no tsx) imports some modules, collects garbage twice and prints one JSON line: RSS, anonymous
// RSS, V8 heap used and committed, and optionally a heap snapshot summed by kind of object. Each set of
// modules is imported in a fresh process, so a figure is that set's own cost on top of a bare node.

/** What one child reports, MiB. */
export interface ImportMemory {
  readonly rss: number
  readonly anon: number
  readonly heapUsed: number
  readonly heapTotal: number
  /** With a snapshot: heap bytes by kind (MiB): strings (of which source text), code, everything else. */
  readonly snapshot?: { readonly total: number; readonly strings: number; readonly sourceText: number; readonly code: number; readonly other: number }
}

/** A set of modules to import together, under a figure key. Paths starting with `.` are from the repo root. */
export interface ImportSet {
  readonly key: string
  readonly label: string
  readonly specs: readonly string[]
}

/**
 * The child. argv[1]: JSON array of specifiers; argv[2]: "snapshot" for a heap snapshot summary (written to
 * argv[3], read back and deleted). A string of 16 KiB or more in these programs' heaps is a module's source
 * text (V8 keeps each module's source for lazy compilation and Function.prototype.toString).
 */
export const CHILD_CODE = `
import v8 from 'node:v8'
import { readFileSync, rmSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
const specs = JSON.parse(process.argv[1])
for (const s of specs) await import(s.startsWith('.') || s.startsWith('/') ? pathToFileURL(s).href : s)
globalThis.gc(); globalThis.gc()
await new Promise(r => setTimeout(r, 200))
const status = readFileSync('/proc/self/status', 'utf8')
const kb = k => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+)', 'm').exec(status)[1]) / 1024
const mib = b => b / 1048576
const m = process.memoryUsage()
const out = { rss: kb('VmRSS'), anon: kb('RssAnon'), heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal) }
if (process.argv[2] === 'snapshot') {
  const file = v8.writeHeapSnapshot(process.argv[3])
  const s = JSON.parse(readFileSync(file, 'utf8'))
  rmSync(file)
  const f = s.snapshot.meta.node_fields, types = s.snapshot.meta.node_types[0], n = f.length
  const iType = f.indexOf('type'), iSize = f.indexOf('self_size')
  let total = 0, strings = 0, sourceText = 0, code = 0
  for (let i = 0; i < s.nodes.length; i += n) {
    const t = types[s.nodes[i + iType]], size = s.nodes[i + iSize]
    total += size
    if (t === 'string' || t === 'concatenated string' || t === 'sliced string') { strings += size; if (size >= 16384) sourceText += size }
    else if (t === 'code') code += size
  }
  out.snapshot = { total: mib(total), strings: mib(strings), sourceText: mib(sourceText), code: mib(code), other: mib(total - strings - code) }
}
process.stdout.write(JSON.stringify(out) + '\\n')
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
  { key: 'native', label: 'l2lb native wrapper (dist/native, addon not loaded until a socket opens)', specs: ['./dist/native/index.js'] },
  {
    key: 'speaker_modules', label: 'every module dist/speaker/main.js imports (main itself not run)',
    specs: ['./dist/speaker/speaker.js', './dist/speaker/arp-responder.js', './dist/speaker/ndp-responder.js', './dist/speaker/peer-heartbeat.js',
      './dist/internal/kube/kube-client.js', './dist/internal/observe/run-program.js', 'pino'],
  },
  {
    key: 'controller_modules', label: 'every module dist/controller/main.js imports (main itself not run)',
    specs: ['./dist/controller/controller.js', './dist/controller/kube/leader-elector.js', './dist/internal/kube/kube-client.js',
      './dist/internal/observe/run-program.js', './dist/controller/settings.js', 'pino'],
  },
]
