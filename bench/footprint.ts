// Footprint of the two programs (issue "Ship it", item 2): resident memory once ready and time from process
// start to ready, for the speaker and the controller run four ways, beside a bare node in the same run:
// - `shipped`: node with the args config/default gives the container (read from controller.yaml/speaker.yaml,
//   so this is what a cluster runs: the bundled dist/<program>/main.js and the node flags there),
// - `bundled`: `node dist/<program>/main.js` without those flags (`npm run speaker`),
// - `modules`: the same program as tsc's one JavaScript file per module importing its dependencies from
//   node_modules (emitted for this run into .bench-modules/, removed after): what shipped before the bundle,
// - `tsx`: `node --import tsx <program>/main.ts` (development: the tests, the bench's in-process programs),
// - and the baselines: a bare node idling (RSS) and `node -e 0` (start to exit).
// Each program is the real main against the stand-in API server (test/apiserver, in its own process) holding
// one pool ConfigMap and nothing else: the idle footprint of an empty cluster. Ready is the program's own log
// line ("caches synced", "speaker synced"), after the controller took its Lease and the speaker opened its
// packet sockets. Memory is /proc/PID/status at that moment (VmRSS, RssAnon, VmHWM) and again SETTLE_MS later.
// Each figure is the median of ROUNDS starts; the variants take turns, so a machine busy with other work
// weighs on all alike.
// The speaker needs root (AF_PACKET) and an interface with a MAC: L2LB_BENCH_INTERFACE, or the default route's.
// It runs with peer heartbeats off (L2LB_HEARTBEAT_MS=0) and nothing to announce, so it sends no frame on that
// LAN; it only listens. Without root the speaker figures are skipped and say why.
// Then where the memory goes (bench/lib/footprint-imports.ts): each dependency imported alone into a bare node
// (RSS and heap over bare), each bundle's bytes by package, and a heap snapshot of the shipped speaker (the
// controller without root) once ready, by kind of object.
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { percentile } from './lib/datapath-parse.js'
import { compared, round, type Figure, type RunGroup } from './lib/figures.js'
import { jsonFromChild, startAndMeasure, stopChild, timeToExit, type ProcMemory, type StartedRun } from './lib/footprint-process.js'
import { bundleBytesByPackage, CHILD_CODE, IMPORT_SETS, summarizeHeapSnapshot, type HeapSummary, type ImportMemory } from './lib/footprint-imports.js'
import { shippedArgs, type Program } from './lib/shipped-args.js'

const ROUNDS = 3
const SETTLE_MS = 1500
const READY_TIMEOUT_MS = 60_000
const POOL = 'address-pools:\n- name: bench\n  protocol: layer2\n  addresses: [198.19.0.0/24]\n'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const node = process.execPath

type Variant = 'shipped' | 'bundled' | 'modules' | 'tsx'
const VARIANTS: readonly Variant[] = ['shipped', 'bundled', 'modules', 'tsx']
/** Where the `modules` variant's tsc output goes: one folder below the root, as dist/ (native/index.ts finds the addon from there). */
const MODULES_DIR = '.bench-modules'

function argv(program: Program, variant: Variant): string[] {
  switch (variant) {
    case 'shipped': return [node, ...shippedArgs(program)]
    case 'bundled': return [node, `dist/${program}/main.js`]
    case 'modules': return [node, `${MODULES_DIR}/${program}/main.js`]
    case 'tsx': return [node, '--import', 'tsx', `${program}/main.ts`]
  }
}

/** The interface the speaker listens on: L2LB_BENCH_INTERFACE, else the default IPv4 route's. */
function speakerInterface(): string | null {
  const chosen = process.env.L2LB_BENCH_INTERFACE
  if (chosen) return chosen
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const [iface, destination] = line.trim().split(/\s+/)
      if (iface && destination === '00000000') return iface
    }
  } catch { /* no /proc/net/route */ }
  return null
}

function logMessage(line: string): string {
  try {
    const v: unknown = JSON.parse(line)
    return typeof v === 'object' && v !== null && 'msg' in v && typeof v.msg === 'string' ? v.msg : ''
  } catch {
    return ''
  }
}

const median = (xs: readonly number[]): number => percentile([...xs].sort((a, b) => a - b), 50)

async function startApiServer(dir: string): Promise<{ kubeconfig: string; stop: () => Promise<void> }> {
  const kubeconfig = path.join(dir, 'kubeconfig')
  const server = spawn(node, ['--import', 'tsx', path.join(repoRoot, 'test', 'apiserver', 'main.ts'), '--kubeconfig', kubeconfig],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the API server did not start within 60 s')), 60_000)
    createInterface({ input: server.stdout }).once('line', () => { clearTimeout(timer); resolve() })
    server.once('exit', code => { clearTimeout(timer); reject(new Error(`the API server exited (${code})`)) })
  })
  return { kubeconfig, stop: () => stopChild(server) }
}

/** Asks a program started with --heapsnapshot-signal=SIGUSR2 for a heap snapshot and sums it by kind. */
async function heapSnapshotOf(pid: number, snapDir: string): Promise<HeapSummary> {
  process.kill(pid, 'SIGUSR2')
  // The program writes the snapshot on its main thread; it is complete once its size stops changing.
  let last = -1
  for (let waited = 0; waited < 60_000; waited += 500) {
    await new Promise(resolve => setTimeout(resolve, 500))
    const file = (await readdir(snapDir).catch(() => [])).find(f => f.endsWith('.heapsnapshot'))
    if (file === undefined) continue
    const size = (await stat(path.join(snapDir, file))).size
    if (size > 0 && size === last) return summarizeHeapSnapshot(JSON.parse(readFileSync(path.join(snapDir, file), 'utf8')))
    last = size
  }
  throw new Error(`no heap snapshot from pid ${pid} in ${snapDir} within 60 s`)
}

export const run: RunGroup = async log => {
  for (const p of ['controller', 'speaker'] as const) {
    if (!existsSync(path.join(repoRoot, 'dist', p, 'main.js'))) throw new Error(`dist/${p}/main.js is missing: run \`npm run build\` (npm run bench does)`)
  }
  log(`${MODULES_DIR}/: tsc's one file per module (the \`modules\` variant)`)
  await promisify(execFile)(node, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json',
    '--noEmit', 'false', '--incremental', 'false', '--outDir', MODULES_DIR, '--rootDir', '.'], { cwd: repoRoot })
  const figures: Figure[] = []
  const mib = (v: number): number => round(v, 1)
  const iface = speakerInterface()
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const speakerSkip = !isRoot ? 'not root (the speaker opens AF_PACKET sockets)' : iface === null ? 'no interface: set L2LB_BENCH_INTERFACE' : null
  if (speakerSkip !== null) log(`speaker skipped: ${speakerSkip}`)
  const programs: Program[] = speakerSkip === null ? ['controller', 'speaker'] : ['controller']

  const dir = await mkdtemp(path.join(tmpdir(), 'l2lb-bench-footprint-'))
  const api = await startApiServer(dir)
  try {
    const kc = new KubeConfig()
    kc.loadFromFile(api.kubeconfig)
    const core = kc.makeApiClient(CoreV1Api)
    let serial = 0
    /** A namespace of its own per start: no Lease or Event of an earlier start is in the way. */
    const freshNamespace = async (): Promise<string> => {
      const namespace = `footprint-${++serial}`
      await core.createNamespace({ body: { metadata: { name: namespace } } })
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'config' }, data: { config: POOL } } })
      return namespace
    }
    const env = (program: Program, namespace: string): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin', KUBECONFIG: api.kubeconfig, L2LB_NAMESPACE: namespace, L2LB_METRICS_ADDR: '127.0.0.1:0', LOG_LEVEL: 'info',
      ...(program === 'controller'
        ? { POD_NAME: `footprint-controller-${serial}` }
        : { NODE_NAME: `footprint-node-${serial}`, L2LB_INTERFACES: iface ?? '', L2LB_HEARTBEAT_MS: '0' }),
    })
    const readyLine = (program: Program) => (line: string): boolean => logMessage(line) === (program === 'controller' ? 'caches synced' : 'speaker synced')

    const runs = new Map<string, StartedRun[]>()
    const bareRss: ProcMemory[] = []
    const bareStart: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      bareStart.push(await timeToExit([node, '-e', '0'], repoRoot))
      const bare = await startAndMeasure({
        argv: [node, '-e', 'console.log("ready"); setInterval(() => {}, 1 << 30)'], env: {}, cwd: repoRoot,
        ready: l => l === 'ready', timeoutMs: READY_TIMEOUT_MS, settleMs: SETTLE_MS,
      })
      bareRss.push(bare.atReady)
      for (const program of programs) {
        for (const variant of VARIANTS) {
          const namespace = await freshNamespace()
          const res = await startAndMeasure({
            argv: argv(program, variant), env: env(program, namespace), cwd: repoRoot,
            ready: readyLine(program), timeoutMs: READY_TIMEOUT_MS, settleMs: SETTLE_MS,
          })
          log(`round ${r + 1} ${program} ${variant}: ready in ${Math.round(res.readyMs)} ms, RSS ${mib(res.atReady.rss)} MiB ` +
            `(anon ${mib(res.atReady.anon)}, file ${mib(res.atReady.file)}), ${mib(res.settled.rss)} MiB ${SETTLE_MS} ms later`)
          const key = `${program}.${variant}`
          runs.set(key, [...(runs.get(key) ?? []), res])
        }
      }
    }
    const bareRssMiB = mib(median(bareRss.map(m => m.rss)))
    const bareStartMs = round(median(bareStart), 0)
    log(`bare node: RSS ${bareRssMiB} MiB (anon ${mib(median(bareRss.map(m => m.anon)))}), \`node -e 0\` ${bareStartMs} ms`)
    figures.push({ name: 'footprint.node.rss_mib', value: bareRssMiB, unit: 'MiB' })
    figures.push({ name: 'footprint.node.start_ms', value: bareStartMs, unit: 'ms' })
    for (const program of programs) {
      for (const variant of VARIANTS) {
        const rs = runs.get(`${program}.${variant}`) ?? []
        const at = (pick: (r: StartedRun) => number): number => median(rs.map(pick))
        const name = `footprint.${program}.${variant}`
        figures.push(compared(`${name}.rss_mib`, mib(at(r => r.atReady.rss)), 'MiB', 'bare node RSS', bareRssMiB))
        figures.push(compared(`${name}.start_ms`, round(at(r => r.readyMs), 0), 'ms', 'node -e 0, start to exit', bareStartMs))
        figures.push({ name: `${name}.anon_mib`, value: mib(at(r => r.atReady.anon)), unit: 'MiB' })
        figures.push({ name: `${name}.rss_settled_mib`, value: mib(at(r => r.settled.rss)), unit: 'MiB' })
        figures.push({ name: `${name}.peak_mib`, value: mib(at(r => r.settled.peak)), unit: 'MiB' })
      }
    }

    // One more start of the shipped program, with a heap snapshot taken once it has settled.
    const snapProgram: Program = programs.includes('speaker') ? 'speaker' : 'controller'
    const snapDir = path.join(dir, 'heap')
    const namespace = await freshNamespace()
    const summaries: HeapSummary[] = []
    await mkdir(snapDir)
    const [, ...shipped] = argv(snapProgram, 'shipped')
    await startAndMeasure({
      argv: [node, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapDir}`, ...shipped], env: env(snapProgram, namespace), cwd: repoRoot,
      ready: readyLine(snapProgram), timeoutMs: READY_TIMEOUT_MS, settleMs: SETTLE_MS,
      whileRunning: async pid => { summaries.push(await heapSnapshotOf(pid, snapDir)) },
    })
    const snap = summaries[0]
    if (snap !== undefined) {
      log(`${snapProgram} as shipped, heap snapshot once ready: ${mib(snap.total)} MiB: strings ${mib(snap.strings)} (of which module source text ` +
        `${mib(snap.sourceText)}), code ${mib(snap.code)}, objects and the rest ${mib(snap.other)}`)
      for (const [k, v] of [['total', snap.total], ['strings', snap.strings], ['source_text', snap.sourceText], ['code', snap.code], ['other', snap.other]] as const) {
        figures.push({ name: `footprint.heap.${snapProgram}.${k}_mib`, value: mib(v), unit: 'MiB' })
      }
    }
  } finally {
    await api.stop()
    await rm(path.join(repoRoot, MODULES_DIR), { recursive: true, force: true })
  }

  // Where it goes: each dependency alone on a bare node, and what each bundle is made of.
  const measureImports = async (specs: readonly string[]): Promise<ImportMemory> => {
    const out = await jsonFromChild([node, '--expose-gc', '--input-type=module', '-e', CHILD_CODE, JSON.stringify(specs)], repoRoot, 120_000)
    const num = (k: string): number => { const v = out[k]; if (typeof v !== 'number') throw new Error(`import child: no ${k}`); return v }
    return { rss: num('rss'), anon: num('anon'), heapUsed: num('heapUsed'), heapTotal: num('heapTotal') }
  }
  try {
    const bare = await measureImports([])
    log(`imports, each alone on a bare node (RSS ${mib(bare.rss)} MiB, heap used ${mib(bare.heapUsed)} MiB):`)
    for (const set of IMPORT_SETS) {
      const m = await measureImports(set.specs)
      const rss = mib(m.rss - bare.rss)
      const heap = mib(m.heapUsed - bare.heapUsed)
      log(`  +${rss} MiB RSS, +${heap} MiB heap used (heap committed ${mib(m.heapTotal)} MiB): ${set.label}`)
      figures.push({ name: `footprint.import.${set.key}.rss_mib`, value: rss, unit: 'MiB' })
      figures.push({ name: `footprint.import.${set.key}.heap_mib`, value: heap, unit: 'MiB' })
    }
    const meta: unknown = JSON.parse(readFileSync(path.join(repoRoot, 'dist', 'bundle-meta.json'), 'utf8'))
    for (const program of ['controller', 'speaker'] as const) {
      const b = bundleBytesByPackage(meta, `dist/${program}/main.js`)
      const kib = (v: number): number => round(v / 1024, 0)
      log(`dist/${program}/main.js: ${kib(b.total)} KiB, of which ${b.byPackage.slice(0, 8).map(([k, v]) => `${k} ${kib(v)}`).join(', ')}`)
      figures.push({ name: `footprint.bundle.${program}.kib`, value: kib(b.total), unit: 'KiB' })
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return figures
}
