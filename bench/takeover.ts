// Controller takeover (issue 9, item 3): two replicas of the compiled controller (dist/controller/main.js, as
// shipped) against the stand-in API server; SIGKILL the leader, create a LoadBalancer Service at once, and time
// until its status shows an address: the time no new Service is served. With the default Lease timing
// (L2LB_LEADER_LEASE_SECONDS 15, RENEW_DEADLINE 10, RETRY 2, client-go's defaults) beside a short one (4, 3, 1)
// in the same run. Bounded: TRIALS per setting, 60 s per trial.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node'
import { percentile } from './lib/datapath-parse.js'
import { compared, round, type Figure, type RunGroup } from './lib/figures.js'

const TRIALS = 3
const TRIAL_LIMIT_MS = 60_000
const POOL = 'address-pools:\n- name: bench\n  protocol: layer2\n  addresses: [198.19.0.0/24]\n'
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const apiserverMain = path.join(repoRoot, 'test/apiserver/main.ts')
const controllerMain = path.join(repoRoot, 'dist/controller/main.js')

interface Timing { readonly lease: number; readonly renew: number; readonly retry: number }
const DEFAULT: Timing = { lease: 15, renew: 10, retry: 2 }
const SHORT: Timing = { lease: 4, renew: 3, retry: 1 }

function startController(kubeconfig: string, name: string, t: Timing, port: number): ChildProcess {
  return spawn(process.execPath, [controllerMain], {
    stdio: 'ignore',
    env: {
      ...process.env, NODE_OPTIONS: '', KUBECONFIG: kubeconfig, POD_NAME: name, LOG_LEVEL: 'warn',
      L2LB_METRICS_ADDR: `127.0.0.1:${port}`,
      L2LB_LEADER_LEASE_SECONDS: String(t.lease), L2LB_LEADER_RENEW_DEADLINE_SECONDS: String(t.renew), L2LB_LEADER_RETRY_SECONDS: String(t.retry),
    },
  })
}

async function until<T>(what: string, f: () => Promise<T | undefined>, limitMs: number): Promise<T> {
  const end = performance.now() + limitMs
  while (performance.now() < end) {
    const v = await f().catch(() => undefined)
    if (v !== undefined) return v
    await sleep(50)
  }
  throw new Error(`${what}: not within ${limitMs} ms`)
}

async function trials(kubeconfig: string, t: Timing, label: string, log: (l: string) => void, next: () => number): Promise<number[]> {
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfig)
  const core = kc.makeApiClient(CoreV1Api)
  const coordination = kc.makeApiClient(CoordinationV1Api)
  const replicas = new Map<string, ChildProcess>()
  const start = (name: string): void => { replicas.set(name, startController(kubeconfig, name, t, 17_000 + next())) }
  const out: number[] = []
  try {
    start(`${label}-a`)
    start(`${label}-b`)
    for (let i = 0; i < TRIALS; i++) {
      // The leader: the Lease's holder (identity POD_NAME_pid), once the Lease is current.
      const holder = await until('a leader', async () => {
        const l = await coordination.readNamespacedLease({ name: 'l2lb-controller', namespace: 'l2lb-system' })
        const id = l.spec?.holderIdentity ?? ''
        return [...replicas.keys()].find(n => id.startsWith(`${n}_`) && id === `${n}_${replicas.get(n)?.pid ?? ''}`)
      }, TRIAL_LIMIT_MS)
      const svc = `takeover-${label}-${i}`
      replicas.get(holder)?.kill('SIGKILL')
      const killedAt = performance.now()
      await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: svc }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, selector: { app: svc }, ports: [{ port: 80, protocol: 'TCP' }] } } })
      await until(`an address for ${svc}`, async () => {
        const s = await core.readNamespacedService({ name: svc, namespace: 'default' })
        return (s.status?.loadBalancer?.ingress?.length ?? 0) > 0 ? true : undefined
      }, TRIAL_LIMIT_MS)
      const ms = performance.now() - killedAt
      log(`${label} (Lease ${t.lease} s): SIGKILL of the leader ${holder}; ${svc} got its address ${Math.round(ms)} ms later`)
      out.push(ms)
      replicas.delete(holder)
      start(`${holder}-${i}`)
      await sleep(1000)
    }
  } finally {
    for (const c of replicas.values()) c.kill('SIGKILL')
  }
  return out
}

export const run: RunGroup = async log => {
  const dir = await mkdtemp(path.join(tmpdir(), 'l2lb-bench-takeover-'))
  const kubeconfig = path.join(dir, 'kubeconfig')
  const server = spawn(process.execPath, ['--import', 'tsx', apiserverMain, '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the API server did not start within 30 s')), 30_000)
      createInterface({ input: server.stdout ?? process.stdin }).once('line', () => { clearTimeout(timer); resolve() })
      server.once('exit', code => { clearTimeout(timer); reject(new Error(`the API server exited (${code})`)) })
    })
    const kc = new KubeConfig()
    kc.loadFromFile(kubeconfig)
    const core = kc.makeApiClient(CoreV1Api)
    await core.createNamespace({ body: { metadata: { name: 'l2lb-system' } } }).catch(() => undefined)
    await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOL } } })
    let port = 0
    const next = (): number => ++port
    const short = await trials(kubeconfig, SHORT, 'short', log, next)
    const dflt = await trials(kubeconfig, DEFAULT, 'default', log, next)
    const p = (xs: number[], q: number): number => round(percentile([...xs].sort((a, b) => a - b), q), 0)
    return [
      compared('takeover.short_lease.p50', p(short, 50), 'ms', 'takeover.default_lease.p50', p(dflt, 50)),
      compared('takeover.short_lease.max', p(short, 100), 'ms', 'takeover.default_lease.max', p(dflt, 100)),
      { name: 'takeover.trials', value: short.length + dflt.length, unit: 'count' },
    ] satisfies Figure[]
  } finally {
    if (server.exitCode === null) {
      const exited = new Promise(r => server.once('exit', r))
      server.kill('SIGTERM')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
}
