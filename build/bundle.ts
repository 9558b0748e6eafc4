// The production build's second half (`npm run build`, after tsc has type-checked what ships): each program
// bundled by esbuild into one tree-shaken ES module under dist/, the paths config/default and the image run:
//   dist/controller/main.js, dist/controller/status-main.js (kubectl-l2lb), dist/speaker/main.js.
// Why a bundle and not tsc's one file per module: memory. A module costs its source text in the V8 heap
// (V8 keeps it for lazy compilation and Function.prototype.toString), and @kubernetes/client-node's index
// loads every generated API group; bundled, only the code a program reaches is loaded, comments and
// whitespace are gone, and the text is one-byte (esbuild's default ASCII charset; one non-ASCII character in
// a comment would make V8 store the whole text as UTF-16, twice the bytes). Measured: `npm run bench -- footprint`
// and docs/reference.md ("Memory").
// What stays outside the bundle: the native addon (native/index.ts loads native/build/Release/l2lb_packet.node
// from the package root at run time; dist/<program>/main.js sits two folders below it, as the tsc output did).
// Nothing else: pino runs without transports (l2lb logs JSON to stdout), so its worker-thread files are never
// loaded, and the image needs no node_modules at all.
import { build, type BuildOptions, type Plugin } from 'esbuild'
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The shipped programs: entry (source) to output (under dist/). */
export const PROGRAMS: Readonly<Record<string, string>> = {
  'controller/main': 'controller/main.ts',
  'controller/status-main': 'controller/status-main.ts',
  'speaker/main': 'speaker/main.ts',
  // The speaker's config-parsing thread (speaker/config-parser.ts starts it from the file beside itself:
  // dist/speaker/config-parse-worker.js beside dist/speaker/main.js once bundled).
  'speaker/config-parse-worker': 'speaker/config-parse-worker.ts',
}

/**
 * client-node's modules have no side effects at import, but its package.json does not say so, so esbuild keeps
 * every class its index re-exports (all API groups, ~1.4 MB). Saying it here lets esbuild drop what no program
 * uses; the model classes stay (ObjectSerializer's typeMap names them all, and it is used).
 */
const clientNodeHasNoSideEffects: Plugin = {
  name: 'client-node-side-effect-free',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async args => {
      if (args.pluginData === 'inner') return undefined
      const res = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'inner' })
      if (res.errors.length > 0 || !res.path.includes('/node_modules/@kubernetes/client-node/')) return undefined
      return { ...res, sideEffects: false }
    })
  },
}

/**
 * node-fetch 2 (client-node's HTTP client) imports whatwg-url but uses it only where Node has no URL class
 * (node-fetch lib/index.mjs: `const URL = Url.URL || whatwgUrl.URL`); Node 20 has one, so whatwg-url is dead
 * weight, and a heavy one: its tr46 dependency builds a Unicode mapping table of ~260 KB of array literals
 * at import. Bundled in its place: Node's own URL.
 */
const whatwgUrlIsNodesUrl: Plugin = {
  name: 'whatwg-url-is-nodes-url',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: 'whatwg-url', namespace: 'l2lb-replaced' }))
    b.onLoad({ filter: /.*/, namespace: 'l2lb-replaced' }, () => ({ contents: 'export const URL = globalThis.URL; export default { URL }', loader: 'js' }))
  },
}

export function bundleOptions(): BuildOptions {
  return {
    absWorkingDir: repoRoot,
    entryPoints: Object.entries(PROGRAMS).map(([out, entry]) => ({ in: entry, out })),
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies (pino, js-yaml's, ws, ...) call require() for Node's own modules: give the ES module one.
    banner: { js: "import { createRequire as __l2lbCreateRequire } from 'node:module'; const require = __l2lbCreateRequire(import.meta.url);" },
    external: ['*.node'],
    // Whitespace and comments out, identifiers kept: stack traces in a speaker's log stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    charset: 'ascii',
    metafile: true,
    logLevel: 'warning',
    plugins: [whatwgUrlIsNodesUrl, clientNodeHasNoSideEffects],
  }
}

// Whatever an earlier build left in these folders (tsc's one file per module, before the bundle) must not linger
// beside what ships.
for (const dir of ['controller', 'speaker', 'native']) await rm(path.join(repoRoot, 'dist', dir), { recursive: true, force: true })
const result = await build(bundleOptions())
// Which package each program's bytes come from (read by `npm run bench -- footprint`).
await writeFile(path.join(repoRoot, 'dist', 'bundle-meta.json'), JSON.stringify(result.metafile))
