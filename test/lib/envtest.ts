// A real kube-apiserver (with etcd) for tests, found the way controller-runtime's envtest finds it: in the
// folder named by KUBEBUILDER_ASSETS (`kube-apiserver`, `etcd`, and here optionally `kube-proxy`). Nothing in
// the repository ships these binaries; `setup-envtest use 1.32.x -p path` downloads them
// (https://github.com/kubernetes-sigs/controller-runtime/tree/main/tools/setup-envtest), and etcd 3.4 is
// Debian's `etcd-server`. Without the variable the real-server runs are skipped with `ENVTEST_SKIP_REASON`.
//
// Identities are ServiceAccount users from a static token file, so RBAC is enforced exactly as on a cluster
// (user `system:serviceaccount:NS:NAME`, groups `system:serviceaccounts`, `system:serviceaccounts:NS`,
// `system:authenticated`), and `admin` is in `system:masters`.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, createWriteStream, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { request } from 'node:https'

const run = promisify(execFile)

export const ENVTEST_SKIP_REASON =
  'no real kube-apiserver: set KUBEBUILDER_ASSETS to a folder with kube-apiserver and etcd ' +
  '(`setup-envtest use 1.32.x -p path`, and Debian\'s etcd-server; .ci/run sets it up)'

export interface EnvtestAssets {
  readonly dir: string
  readonly kubeApiServer: string
  readonly etcd: string
  /** Present when the folder also holds kube-proxy (the lab's nodes then run the real one). */
  readonly kubeProxy: string | undefined
}

/** The binaries named by KUBEBUILDER_ASSETS, or why there are none (a reason to print with the skip). */
export function envtestAssets (env: NodeJS.ProcessEnv = process.env): EnvtestAssets | { readonly missing: string } {
  const dir = env.KUBEBUILDER_ASSETS
  if (dir === undefined || dir === '') return { missing: ENVTEST_SKIP_REASON }
  const kubeApiServer = join(dir, 'kube-apiserver')
  const etcd = join(dir, 'etcd')
  for (const b of [kubeApiServer, etcd]) {
    if (!existsSync(b)) return { missing: `KUBEBUILDER_ASSETS=${dir} has no ${b.slice(dir.length + 1)} (${ENVTEST_SKIP_REASON})` }
  }
  const proxy = join(dir, 'kube-proxy')
  return { dir, kubeApiServer, etcd, kubeProxy: existsSync(proxy) ? proxy : undefined }
}

export interface TokenUser {
  readonly token: string
  readonly name: string
  readonly groups: readonly string[]
}

/** The identity a ServiceAccount's token carries on a real cluster. */
export function serviceAccountUser (namespace: string, name: string, token: string): TokenUser {
  return {
    token, name: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  }
}

export interface RealApiServerFiles {
  readonly dir: string
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
  readonly saKey: string
  readonly saPub: string
  readonly tokenFile: string
  readonly adminToken: string
}

/** CA, serving certificate (SANs: loopback, localhost and `ips`), ServiceAccount key pair, token file. */
export async function prepareRealApiServer (dir: string, ips: readonly string[], users: readonly TokenUser[]): Promise<RealApiServerFiles> {
  mkdirSync(dir, { recursive: true })
  const p = (f: string): string => join(dir, f)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '365',
    '-subj', '/CN=l2lb-envtest-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=kube-apiserver'])
  const sans = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', ...ips.map(ip => `IP:${ip}`)]
  writeFileSync(p('server.ext'), `subjectAltName=${[...new Set(sans)].join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`)
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-out', p('server.crt'), '-days', '365', '-extfile', p('server.ext')])
  // The ServiceAccount token signing key: RSA, as kubeadm makes it.
  await run('openssl', ['genrsa', '-out', p('sa.key'), '2048'])
  await run('openssl', ['rsa', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')])
  const adminToken = `admin-${Math.random().toString(36).slice(2)}`
  const all: TokenUser[] = [{ token: adminToken, name: 'admin', groups: ['system:masters', 'system:authenticated'] }, ...users]
  // Token file: token,user,uid,"group1,group2" (kube-apiserver --token-auth-file).
  writeFileSync(p('tokens.csv'), all.map(u => `${u.token},${u.name},${u.name},"${u.groups.join(',')}"`).join('\n') + '\n', { mode: 0o600 })
  return { dir, caFile: p('ca.crt'), certFile: p('server.crt'), keyFile: p('server.key'), saKey: p('sa.key'), saPub: p('sa.pub'), tokenFile: p('tokens.csv'), adminToken }
}

export interface RealApiServerArgs {
  readonly bindAddress: string
  readonly port: number
  readonly etcdUrl: string
  /** `--service-cluster-ip-range`: one CIDR, or an IPv4 and an IPv6 CIDR for a dual-stack cluster. */
  readonly serviceCidrs: readonly string[]
  readonly advertiseAddress?: string
  /** Writes every request (user, verb, URI, response code) as a JSON line here: the real server's record of 403s. */
  readonly auditLog?: { readonly policyFile: string, readonly path: string }
}

/** An audit policy that records every request's metadata (no bodies). */
export const AUDIT_POLICY = 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n'

export function etcdArgv (assets: EnvtestAssets, dataDir: string, clientPort: number, peerPort: number): string[] {
  return [assets.etcd, '--data-dir', dataDir, '--name', 'envtest',
    '--listen-client-urls', `http://127.0.0.1:${clientPort}`, '--advertise-client-urls', `http://127.0.0.1:${clientPort}`,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `envtest=http://127.0.0.1:${peerPort}`, '--log-level', 'error']
}

export function kubeApiServerArgv (assets: EnvtestAssets, files: RealApiServerFiles, a: RealApiServerArgs): string[] {
  return [assets.kubeApiServer,
    `--etcd-servers=${a.etcdUrl}`,
    `--bind-address=${a.bindAddress}`, `--secure-port=${a.port}`,
    ...(a.advertiseAddress !== undefined ? [`--advertise-address=${a.advertiseAddress}`] : []),
    `--tls-cert-file=${files.certFile}`, `--tls-private-key-file=${files.keyFile}`, `--client-ca-file=${files.caFile}`,
    `--service-account-issuer=https://kubernetes.default.svc`,
    `--service-account-key-file=${files.saPub}`, `--service-account-signing-key-file=${files.saKey}`,
    `--token-auth-file=${files.tokenFile}`,
    '--authorization-mode=Node,RBAC',
    // etcd 3.4 lacks the watch-progress request that consistent reads from the cache need (kube-apiserver 1.32).
    '--feature-gates=ConsistentListFromCache=false',
    '--endpoint-reconciler-type=none',
    `--service-cluster-ip-range=${a.serviceCidrs.join(',')}`,
    // No controller-manager runs: nothing would make the `default` ServiceAccount the admission plugin insists on.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    ...(a.auditLog !== undefined ? [`--audit-policy-file=${a.auditLog.policyFile}`, `--audit-log-path=${a.auditLog.path}`] : []),
  ]
}

/** A free TCP port on loopback (the kernel's choice; a race with another process is possible but unlikely). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

/** GET `url` with the CA; resolves to the status code, or 0 when nothing answers. */
export async function probe (url: string, caPem: string, token?: string): Promise<number> {
  return await new Promise(resolve => {
    const req = request(url, { ca: caPem, timeout: 1000, headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} }, res => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.on('timeout', () => { req.destroy(); resolve(0) })
    req.end()
  })
}

export function kubeconfigYaml (server: string, caPem: string, token: string, user = 'user'): string {
  return [
    'apiVersion: v1', 'kind: Config',
    'clusters:', `- name: envtest`, '  cluster:', `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:', `- name: ${user}`, '  user:', `    token: ${token}`,
    'contexts:', '- name: envtest', '  context:', '    cluster: envtest', `    user: ${user}`,
    'current-context: envtest', '',
  ].join('\n')
}

export interface RealApiServerOptions {
  readonly users?: readonly TokenUser[]
  readonly serviceCidrs?: readonly string[]
  /** Where the logs go; a new temporary folder by default (removed on close unless `keep`). */
  readonly dir?: string
  readonly readyTimeoutMs?: number
  /** Keep an audit log (`auditEvents()`), e.g. to list what RBAC refused. */
  readonly audit?: boolean
}

/** What the audit log says of one request. */
export interface AuditEvent {
  readonly user: string
  readonly verb: string
  readonly requestURI: string
  readonly code: number
  /** When the server received it, ms since the epoch. */
  readonly atMs: number
}

export interface RealApiServer {
  readonly url: string
  readonly caPem: string
  readonly caFile: string
  readonly adminToken: string
  readonly dir: string
  /** A kubeconfig for `token` (admin by default), written to `path`. */
  writeKubeconfig (path: string, token?: string): void
  /** Requests recorded so far (empty unless started with `audit`). */
  auditEvents (): AuditEvent[]
  close (): Promise<void>
}

/** Starts etcd and kube-apiserver on loopback and waits for /readyz. */
export async function startRealApiServer (assets: EnvtestAssets, opts: RealApiServerOptions = {}): Promise<RealApiServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'l2lb-envtest-'))
  const files = await prepareRealApiServer(dir, [], opts.users ?? [])
  const [clientPort, peerPort, port] = [await freePort(), await freePort(), await freePort()]
  const children: ChildProcess[] = []
  const start = (name: string, argv: string[]): ChildProcess => {
    const [cmd, ...args] = argv
    const log = createWriteStream(join(dir, `${name}.log`))
    const child = spawn(cmd ?? '', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
    children.push(child)
    return child
  }
  const close = async (): Promise<void> => {
    for (const c of children.reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue
      const exited = new Promise(resolve => c.once('exit', resolve))
      c.kill('SIGTERM')
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true })
  }
  try {
    start('etcd', etcdArgv(assets, join(dir, 'etcd-data'), clientPort, peerPort))
    const auditLog = opts.audit === true ? { policyFile: join(dir, 'audit-policy.yaml'), path: join(dir, 'audit.log') } : undefined
    if (auditLog !== undefined) writeFileSync(auditLog.policyFile, AUDIT_POLICY)
    const apiserver = start('kube-apiserver', kubeApiServerArgv(assets, files, {
      bindAddress: '127.0.0.1', port, etcdUrl: `http://127.0.0.1:${clientPort}`,
      serviceCidrs: opts.serviceCidrs ?? ['198.18.0.0/16', '2001:db8:0:200::/108'],
      auditLog,
    }))
    const caPem = readFileSync(files.caFile, 'utf8')
    const url = `https://127.0.0.1:${port}`
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000)
    for (;;) {
      if (apiserver.exitCode !== null) throw new Error(`kube-apiserver exited with ${apiserver.exitCode} (log ${join(dir, 'kube-apiserver.log')})`)
      if (await probe(`${url}/readyz`, caPem, files.adminToken) === 200) break
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready in time (log ${join(dir, 'kube-apiserver.log')})`)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    return {
      url, caPem, caFile: files.caFile, adminToken: files.adminToken, dir,
      writeKubeconfig: (path, token = files.adminToken) => { writeFileSync(path, kubeconfigYaml(url, caPem, token), { mode: 0o600 }) },
      auditEvents: () => auditLog === undefined || !existsSync(auditLog.path) ? [] : parseAuditLog(readFileSync(auditLog.path, 'utf8')),
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** The audit log's JSON lines (audit.k8s.io/v1 Event), reduced to who did what and the answer. */
export function parseAuditLog (text: string): AuditEvent[] {
  const out: AuditEvent[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const e = JSON.parse(line) as { user?: { username?: string }, verb?: string, requestURI?: string, responseStatus?: { code?: number }, requestReceivedTimestamp?: string }
    out.push({
      user: e.user?.username ?? '', verb: e.verb ?? '', requestURI: e.requestURI ?? '', code: e.responseStatus?.code ?? 0,
      atMs: Date.parse(e.requestReceivedTimestamp ?? '') || 0,
    })
  }
  return out
}
