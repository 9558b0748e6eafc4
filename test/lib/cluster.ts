// Shared fixtures for tests that run our programs' shells against an API server: the stand-in (test/apiserver,
// always) or a real kube-apiserver with etcd (when KUBEBUILDER_ASSETS names them, test/lib/envtest.ts). Both
// serve the same suite: an admin kubeconfig, and kubeconfigs for l2lb's own ServiceAccounts `controller` and
// `speaker` whose requests are authorized by exactly config/default/rbac.yaml (the real server enforces the
// applied objects itself; the stand-in evaluates the same file). Also a polling wait, and an announcer that
// records what the speaker hands it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadAll } from 'js-yaml'
import type { Test } from 'tap'
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node'
import { startApiServer, type ApiServer, type ApiServerOptions } from '../apiserver/server.js'
import type { Announcer } from '../../speaker/speaker.js'
import { envtestAssets, serviceAccountUser, startRealApiServer } from './envtest.js'
import { RBAC_MANIFEST, shippedRbacAuthorizer } from './rbac-grants.js'

export type ApiServerKind = 'stand-in' | 'real'
/** l2lb's ServiceAccounts in config/default. */
export type Account = 'controller' | 'speaker'

export interface TestCluster {
  readonly kind: ApiServerKind
  readonly url: string
  /** The admin's (system:masters). */
  readonly kubeConfig: KubeConfig
  readonly kubeconfigPath: string
  readonly dir: string
  /** The stand-in itself (compact, dropWatches ...); undefined on the real server. */
  readonly standIn: ApiServer | undefined
  /** A client config for one of l2lb's ServiceAccounts, RBAC enforced as config/default grants. */
  kubeConfigAs(account: Account): KubeConfig
  kubeconfigPathAs(account: Account): string
  /** `METHOD path` of every request of l2lb's accounts refused with 403 so far. */
  forbidden(): string[]
  /** Requests of an account that change something (create, update, patch, delete), as the server saw them. */
  writesBy(account: Account): AccountWrite[]
  close(): Promise<void>
}

export interface AccountWrite {
  readonly verb: string
  readonly path: string
  /** When the server received it, ms since the epoch. */
  readonly atMs: number
}

const ACCOUNTS: readonly Account[] = ['controller', 'speaker']
const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection'])
const tokenOf = (account: Account): string => `${account}-token-l2lb-test`
const userOf = (account: Account): string => `system:serviceaccount:l2lb-system:${account}`

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromFile(path)
  return kc
}

/** The stand-in, with config/default's RBAC enforced for l2lb's accounts. */
export async function startTestCluster(opts: ApiServerOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-test-'))
  const refused: string[] = []
  const writes: (AccountWrite & { user: string })[] = []
  const governed = new Set(ACCOUNTS.map(userOf))
  const rbac = shippedRbacAuthorizer()
  const server = await startApiServer({
    host: '127.0.0.1', port: 0,
    users: Object.fromEntries(ACCOUNTS.map(a => [tokenOf(a), serviceAccountUser('l2lb-system', a, tokenOf(a))])),
    authorize: (user, verb, r) => {
      const allowed = rbac(user, verb, r)
      if (!allowed && governed.has(user.name)) refused.push(`${verb} ${r.path}`)
      if (governed.has(user.name) && WRITE_VERBS.has(verb)) writes.push({ user: user.name, verb, path: r.path, atMs: Date.now() })
      return allowed
    },
    ...opts,
  })
  const kubeconfigPath = join(dir, 'kubeconfig')
  await server.writeKubeconfig(kubeconfigPath)
  const admin = readFileSync(kubeconfigPath, 'utf8')
  const pathAs = (a: Account): string => join(dir, `kubeconfig-${a}`)
  for (const a of ACCOUNTS) writeFileSync(pathAs(a), admin.replace(server.token, tokenOf(a)))
  return {
    kind: 'stand-in', url: server.url, kubeConfig: loadKubeConfig(kubeconfigPath), kubeconfigPath, dir, standIn: server,
    kubeConfigAs: a => loadKubeConfig(pathAs(a)), kubeconfigPathAs: pathAs,
    forbidden: () => [...refused],
    writesBy: a => writes.filter(w => w.user === userOf(a)).map(({ verb, path, atMs }) => ({ verb, path, atMs })),
    close: async () => { await server.close(); rmSync(dir, { recursive: true, force: true }) },
  }
}

/** A real kube-apiserver from KUBEBUILDER_ASSETS, with namespace l2lb-system and config/default's RBAC applied. */
export async function startRealCluster(): Promise<TestCluster> {
  const assets = envtestAssets()
  if ('missing' in assets) throw new Error(assets.missing)
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-test-real-'))
  const server = await startRealApiServer(assets, { dir: join(dir, 'apiserver'), audit: true,
    users: ACCOUNTS.map(a => serviceAccountUser('l2lb-system', a, tokenOf(a))) }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true })
    throw err
  })
  const kubeconfigPath = join(dir, 'kubeconfig')
  server.writeKubeconfig(kubeconfigPath)
  const pathAs = (a: Account): string => join(dir, `kubeconfig-${a}`)
  for (const a of ACCOUNTS) server.writeKubeconfig(pathAs(a), tokenOf(a))
  const kubeConfig = loadKubeConfig(kubeconfigPath)
  const close = async (): Promise<void> => { await server.close(); rmSync(dir, { recursive: true, force: true }) }
  try {
    await applyManifests(kubeConfig, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } },
      ...loadAll(readFileSync(RBAC_MANIFEST, 'utf8')) as KubernetesObject[],
    ], 'l2lb-system')
    await untilAuthorized(pathAs)
  } catch (err) {
    await close()
    throw err
  }
  const governed = new Set(ACCOUNTS.map(userOf))
  return {
    kind: 'real', url: server.url, kubeConfig, kubeconfigPath, dir, standIn: undefined,
    kubeConfigAs: a => loadKubeConfig(pathAs(a)), kubeconfigPathAs: pathAs,
    forbidden: () => server.auditEvents().filter(e => e.code === 403 && governed.has(e.user)).map(e => `${e.verb} ${e.requestURI}`),
    writesBy: a => server.auditEvents().filter(e => e.user === userOf(a) && WRITE_VERBS.has(e.verb))
      .map(e => ({ verb: e.verb, path: e.requestURI.split('?')[0] ?? '', atMs: e.atMs })),
    close,
  }
}

/** Creates each object (namespaced kinds in `namespace` unless they name one), as `kubectl apply -n` would. */
async function applyManifests(kc: KubeConfig, objects: readonly KubernetesObject[], namespace: string): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(kc)
  const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding'])
  for (const o of objects) {
    if (o === null || typeof o !== 'object') continue
    const metadata = { ...o.metadata, ...(clusterScoped.has(o.kind ?? '') || o.metadata?.namespace ? {} : { namespace }) }
    await client.create({ ...o, metadata })
  }
}

/** A fresh real server may answer 403 for a few hundred ms while its RBAC caches sync; wait that out once. */
async function untilAuthorized(pathAs: (a: Account) => string): Promise<void> {
  for (const a of ACCOUNTS) {
    const api = loadKubeConfig(pathAs(a)).makeApiClient(CoreV1Api)
    await waitFor(`RBAC for ${a} in force`, async () => {
      try { await api.listNamespacedConfigMap({ namespace: 'l2lb-system' }); return true } catch { return null }
    }, 15_000)
  }
}

/** Why the real-server runs are skipped here, or undefined when KUBEBUILDER_ASSETS names the binaries. */
export function realApiServerSkip(): string | undefined {
  const a = envtestAssets()
  return 'missing' in a ? a.missing : undefined
}

/**
 * Runs `fn` as one subtest per API server: the stand-in, and the real kube-apiserver when its binaries are at
 * hand (else that subtest is skipped, saying how to get them). The cluster is closed after the subtest.
 */
export function eachApiServer(t: Test, name: string, fn: (t: Test, cluster: TestCluster) => Promise<void>): void {
  for (const kind of ['stand-in', 'real'] as const) {
    const skip = kind === 'real' ? realApiServerSkip() : undefined
    void t.test(`${name} [${kind} API server]`, skip === undefined ? {} : { skip }, async t => {
      const cluster = kind === 'real' ? await startRealCluster() : await startTestCluster()
      t.teardown(() => cluster.close())
      await fn(t, cluster)
    })
  }
}

/** Polls until `fn` yields a value (not null/undefined/false); throws naming `what` after `ms`. */
export async function waitFor<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== null && v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 25))
  }
}

/** Stands in for the packet path: records the set the speaker hands over (the packet path has its own tests). */
export class RecordingAnnouncer implements Announcer {
  readonly interfaceName: string
  current = new Set<string>()
  constructor(interfaceName = 'eth0') {
    this.interfaceName = interfaceName
  }
  start(): void {}
  setAnnounced(ips: Iterable<string>): void { this.current = new Set(ips) }
  close(): void {}
}
