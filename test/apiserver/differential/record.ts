// Records the request script of one lab walk (walk.json beside this file): the stand-in API server behind a
// recording proxy, and in front of it what the lab runs, doing what `npm run lab` does with the pool and the
// ingress Service — no network namespaces, nothing announced on a real link:
//  - the lab registering its Nodes (the calls of Lab.#registerNodes in test/lab/lab.ts, with client-node; its
//    conditional status write made once);
//  - the controller program itself (controller/main.ts, leader election on), and the lab's kube-roles program
//    (test/lab/kube-roles-main.ts --kube-proxy off: the EndpointSlices);
//  - one Speaker per node, in process (speaker/main.ts adds only the ARP/NDP sockets, which would answer on
//    this machine's real interfaces; a RecordingAnnouncer takes their place, the API traffic is the same);
//  - the machine's kubectl: apply -f config/samples/pool-configmap.yaml and ingress-service.yaml, the lab's
//    checks (get leases, get svc -o jsonpath, get events), `kubectl get svc`, `kubectl delete svc ingress`;
//  - the controller's EventRecorder recording one Event twice (its create, then its fold patch; the walk
//    itself repeats no Event within the fold window);
//  - the known refusals, sent raw (MicroTime, unknown field, loadBalancerIP, conflict, 404s, 422s).
// Every request is kept with the substitutions that let it be replayed on another server (script.ts).
//
// node --import tsx test/apiserver/differential/record.ts [--out FILE]   (needs kubectl 1.32 on PATH)
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { request } from 'node:https'
import { CoreV1Api, KubeConfig, V1MicroTime } from '@kubernetes/client-node'
import { pino } from 'pino'
import { startApiServer, type ApiServer } from '../server.js'
import { generateCerts } from '../tls.js'
import { raw } from '../test-client.js'
import { isObject } from '../json.js'
import { freePort, kubeconfigYaml } from '../../lib/envtest.js'
import { RecordingAnnouncer } from '../../lib/cluster.js'
import { labNodes } from '../../lab/names.js'
import { registerLabNode } from '../../lab/lab.js'
import { Speaker } from '../../../speaker/speaker.js'
import { MetricsRegistry } from '../../../internal/observe/metrics.js'
import { EventRecorder } from '../../../internal/kube/event-recorder.js'
import { startRecordingProxy } from './proxy.js'
import { buildScript } from './script.js'

const run = promisify(execFile)
const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..', '..', '..')
export const WALK_SCRIPT = join(here, 'walk.json')

const POOL_FILE = 'config/samples/pool-configmap.yaml'
const SERVICE_FILE = 'config/samples/ingress-service.yaml'
const NODES = labNodes(3)
/** One token per program, so the record says who sent what (the stand-in lets every token do everything). */
const PROGRAMS = ['kubectl', 'lab', 'controller', 'kube-roles', 'event-recorder', 'refusals', ...NODES.map(n => `speaker ${n.name}`)]
const tokenOf = (who: string): string => `${who.replace(/\W+/g, '-')}-token`

function say (line: string): void { process.stderr.write(`record: ${line}\n`) }

async function waitUntil<T> (what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 100))
  }
}

/** GET on the stand-in directly (not through the proxy: the waiting is not part of the script). */
async function direct (server: ApiServer, path: string): Promise<unknown> {
  const r = await raw(server, 'GET', path)
  return r.status === 200 ? r.json : undefined
}

function items (list: unknown): unknown[] {
  return isObject(list) && Array.isArray(list.items) ? list.items : []
}

function nameOf (o: unknown): string {
  return isObject(o) && isObject(o.metadata) && typeof o.metadata.name === 'string' ? o.metadata.name : ''
}

/** A raw JSON request through the proxy with the `refusals` token. */
function send (url: string, ca: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number, json: unknown }> {
  const text = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${tokenOf('refusals')}` }
    if (text !== undefined) {
      headers['content-type'] = contentType
      headers['content-length'] = String(Buffer.byteLength(text))
    }
    const req = request(`${url}${path}`, { method, ca, headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        let json: unknown
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, json })
      })
    })
    req.on('error', reject)
    req.end(text)
  })
}

function spawnProgram (name: string, argv: string[], env: Record<string, string>, logDir: string): ChildProcess {
  const log = createWriteStream(join(logDir, `${name}.log`))
  const child = spawn(process.execPath, ['--import', 'tsx', ...argv], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
  })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  return child
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  process.kill(child.pid, 'SIGTERM')
  const timer = setTimeout(() => { if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL') }, 8000)
  await exited
  clearTimeout(timer)
}

/**
 * The lab's Node registration (registerLabNode in test/lab/lab.ts, the same function). Its status write (a PUT of
 * the object as read, with the status) happens only where a server drops the status on create, which neither the
 * stand-in nor kube-apiserver 1.32 does; `forceStatusWrite` makes it for the first node all the same.
 */
async function registerNodes (kc: KubeConfig, forceStatusWrite: boolean): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api)
  for (const [i, node] of NODES.entries()) await registerLabNode(core, node, forceStatusWrite && i === 0)
}

/** The known refusals (and the two stored-with-a-Warning cases), as raw requests. */
async function refusals (url: string, ca: string): Promise<void> {
  const leases = '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases'
  const services = '/api/v1/namespaces/default/services'
  const six = '2026-11-30T01:12:57.420000Z'
  const lb = (name: string, spec: Record<string, unknown> = {}): unknown => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name },
    // A class nobody serves: the stand-in and the real server store it, no load balancer acts on it.
    spec: { type: 'LoadBalancer', loadBalancerClass: 'differential.example/none', ports: [{ port: 80 }], ...spec },
  })
  // MicroTime with three fractional digits (toISOString): 400 on create.
  await send(url, ca, 'POST', leases, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'differential-ms' },
    spec: { holderIdentity: 'node1', leaseDurationSeconds: 3, acquireTime: '2026-11-30T01:12:57.420Z', renewTime: '2026-11-30T01:12:57.420Z' } })
  const created = await send(url, ca, 'POST', leases, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'differential-us' },
    spec: { holderIdentity: 'node1', leaseDurationSeconds: 3, renewTime: six } })
  // ... and in a merge patch: 422 (cause `patch`).
  await send(url, ca, 'PATCH', `${leases}/differential-us`, { spec: { renewTime: '2026-11-30T01:12:58.421Z' } }, 'application/merge-patch+json')
  await send(url, ca, 'PATCH', `${leases}/differential-us`, { spec: { renewTime: new V1MicroTime(Date.parse('2026-11-30T01:12:58.421Z')) } }, 'application/merge-patch+json')
  // An update carrying the resourceVersion of before that patch: 409 Conflict.
  const stale = isObject(created.json) && isObject(created.json.metadata) ? created.json.metadata.resourceVersion : undefined
  await send(url, ca, 'PUT', `${leases}/differential-us`, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: 'differential-us', namespace: 'l2lb-system', resourceVersion: stale }, spec: { holderIdentity: 'node2', leaseDurationSeconds: 3, renewTime: six } })
  // A PUT whose uid is not the object's: the uid is a precondition, 409.
  await send(url, ca, 'PUT', `${leases}/differential-us`, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: 'differential-us', namespace: 'l2lb-system', uid: '00000000-0000-0000-0000-000000000000' }, spec: { holderIdentity: 'node2', leaseDurationSeconds: 3, renewTime: six } })
  // An unknown field without fieldValidation: 201, dropped, Warning.
  await send(url, ca, 'POST', services, lb('differential-unknown', { bogusField: 1 }))
  // spec.loadBalancerIP is not validated: stored; the Warning says it is not an IP.
  await send(url, ca, 'POST', services, lb('differential-badip', { loadBalancerIP: 'not-an-ip' }))
  // A zoned IPv6 address as loadBalancerIP.
  await send(url, ca, 'POST', services, lb('differential-zoned', { loadBalancerIP: 'fe80::1%eth0' }))
  // A missing object: 404.
  await send(url, ca, 'GET', `${services}/differential-missing`)
  await send(url, ca, 'PATCH', `${leases}/differential-missing`, { spec: { renewTime: six } }, 'application/merge-patch+json')
  // status.loadBalancer.ingress[].ip is validated: 422.
  await send(url, ca, 'PATCH', `${services}/differential-badip/status`, { status: { loadBalancer: { ingress: [{ ip: 'not-an-ip' }] } } }, 'application/merge-patch+json')
  await send(url, ca, 'PATCH', `${services}/differential-zoned/status`, { status: { loadBalancer: { ingress: [{ ip: 'fe80::1%eth0' }] } } }, 'application/merge-patch+json')
  // The controller's status patch with a uid that is not the Service's (a Service deleted and re-created under
  // the same name): refused, metadata.uid being immutable.
  await send(url, ca, 'PATCH', `${services}/differential-badip/status`, { metadata: { uid: '00000000-0000-0000-0000-000000000000' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.240' }] } } }, 'application/merge-patch+json')
  // A create in a namespace that does not exist: 404.
  await send(url, ca, 'POST', '/api/v1/namespaces/differential-missing-ns/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } })
  // A core/v1 Event whose eventTime (MicroTime) has three digits: 400.
  await send(url, ca, 'POST', '/api/v1/namespaces/default/events', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'differential.ms' },
    involvedObject: { kind: 'Service', namespace: 'default', name: 'differential-badip' }, reason: 'Test', message: 'three digits', type: 'Normal',
    eventTime: '2026-11-30T01:12:57.420Z', reportingComponent: 'differential', reportingInstance: 'differential', action: 'Test' })
  // A delete whose uid precondition does not hold: 409.
  await send(url, ca, 'DELETE', `${services}/differential-zoned`, { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } })
  for (const name of ['differential-unknown', 'differential-badip', 'differential-zoned']) await send(url, ca, 'DELETE', `${services}/${name}`)
  await send(url, ca, 'DELETE', `${leases}/differential-us`)
}

export async function recordWalk (): Promise<ReturnType<typeof buildScript>> {
  const work = mkdtempSync(join(tmpdir(), 'l2lb-differential-'))
  const logDir = join(work, 'logs')
  const home = join(work, 'home')
  for (const d of [logDir, home]) mkdirSync(d, { recursive: true })
  const users = Object.fromEntries(PROGRAMS.map(p => [tokenOf(p), { name: p, groups: ['system:masters', 'system:authenticated'] }]))
  const byToken = new Map(PROGRAMS.map(p => [tokenOf(p), p]))
  const server = await startApiServer({ users })
  const proxyCerts = await generateCerts(join(work, 'proxy-certs'))
  const proxy = await startRecordingProxy({
    upstream: server.url, upstreamCa: server.caPem, cert: proxyCerts.certPem, key: proxyCerts.keyPem,
    who: t => byToken.get(t) ?? (t === '' ? 'anonymous' : 'unknown'),
  })
  const kubeconfigOf = (who: string): string => {
    const path = join(work, `kubeconfig-${tokenOf(who)}`)
    writeFileSync(path, kubeconfigYaml(proxy.url, proxyCerts.caPem, tokenOf(who), who), { mode: 0o600 })
    return path
  }
  const kcOf = (who: string): KubeConfig => { const kc = new KubeConfig(); kc.loadFromFile(kubeconfigOf(who)); return kc }
  const kubectlConfig = kubeconfigOf('kubectl')
  const kubectl = async (args: string[]): Promise<string> => {
    proxy.step(`kubectl ${args.join(' ')}`)
    const { stdout } = await run('kubectl', ['--kubeconfig', kubectlConfig, ...args], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } })
    return stdout
  }
  const children: ChildProcess[] = []
  const speakers: Speaker[] = []
  const log = pino({ level: 'silent' })
  try {
    proxy.step('lab: register Nodes')
    await registerNodes(kcOf('lab'), true)

    proxy.step('lab: start the controller, kube-roles and one speaker per node')
    children.push(spawnProgram('controller', ['controller/main.ts'], {
      KUBECONFIG: kubeconfigOf('controller'), L2LB_METRICS_ADDR: `127.0.0.1:${await freePort()}`, POD_NAME: 'l2lb-controller-0', LOG_LEVEL: 'info',
    }, logDir))
    children.push(spawnProgram('kube-roles', ['test/lab/kube-roles-main.ts', '--nodes', String(NODES.length), '--kube-proxy', 'off'], {
      KUBECONFIG: kubeconfigOf('kube-roles'),
    }, logDir))
    for (const node of NODES) {
      const s = new Speaker({
        nodeName: node.name, kubeConfig: kcOf(`speaker ${node.name}`), log, metrics: new MetricsRegistry(), announcers: [new RecordingAnnouncer()],
        loadBalancerClass: null, configNamespace: 'l2lb-system', configName: 'config',
      })
      speakers.push(s)
      await s.start()
    }
    await waitUntil('the controller to lead', () => direct(server, '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases/l2lb-controller'))
    await waitUntil('every speaker Lease', async () => {
      const names = items(await direct(server, '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases')).map(nameOf)
      return NODES.every(n => names.includes(`l2lb-speaker-${n.name}`)) ? true : undefined
    })
    await kubectl(['get', 'leases', '-n', 'l2lb-system', '-o', 'json'])

    await kubectl(['apply', '-f', POOL_FILE])
    await kubectl(['apply', '-f', SERVICE_FILE])
    await waitUntil('an EXTERNAL-IP, its EndpointSlice and a nodeAssigned Event', async () => {
      const svc = await direct(server, '/api/v1/namespaces/default/services/ingress')
      const ingress = isObject(svc) && isObject(svc.status) && isObject(svc.status.loadBalancer) && Array.isArray(svc.status.loadBalancer.ingress) ? svc.status.loadBalancer.ingress : []
      const slice = await direct(server, '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/ingress-lab')
      const events = items(await direct(server, '/api/v1/namespaces/default/events'))
      const assigned = events.some(e => isObject(e) && e.reason === 'nodeAssigned')
      const annotated = isObject(svc) && isObject(svc.metadata) && isObject(svc.metadata.annotations)
      return ingress.length > 0 && slice !== undefined && assigned && annotated ? true : undefined
    })
    // The walk's own looks: the EXTERNAL-IP (waitForExternalIP), `kubectl get svc`, the nodeAssigned Events.
    await kubectl(['get', 'svc', 'ingress', '-n', 'default', '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}'])
    await kubectl(['get', 'svc'])
    await kubectl(['get', 'events', '-n', 'default', '-o', 'json'])

    proxy.step('controller EventRecorder: the same Event twice (create, then the fold patch)')
    const svc = await direct(server, '/api/v1/namespaces/default/services/ingress')
    const meta = isObject(svc) && isObject(svc.metadata) ? svc.metadata : {}
    const recorder = new EventRecorder({ api: kcOf('event-recorder').makeApiClient(CoreV1Api), component: 'l2lb-controller', instance: 'l2lb-controller-0', log })
    const ref = { kind: 'Service', apiVersion: 'v1', namespace: 'default', name: 'ingress', uid: String(meta.uid ?? ''), resourceVersion: String(meta.resourceVersion ?? '') }
    await recorder.record(ref, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.240"]')
    await recorder.record(ref, 'Normal', 'IPAllocated', 'Assigned IP ["192.0.2.240"]')

    await kubectl(['delete', 'svc', 'ingress'])
    proxy.step('the programs see the Service go')
    await waitUntil('the EndpointSlice to go', async () => (await raw(server, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/ingress-lab')).status === 404 ? true : undefined)
    await new Promise(r => setTimeout(r, 1000))

    proxy.step('lab: stop the speakers, kube-roles and the controller')
    for (const s of speakers.splice(0)) await s.close()
    for (const c of children.splice(0).reverse()) await stopChild(c)

    proxy.step('known refusals')
    await refusals(proxy.url, proxyCerts.caPem)
  } finally {
    for (const s of speakers) await s.close().catch(() => undefined)
    for (const c of children) await stopChild(c).catch(() => undefined)
    await proxy.close()
    await server.close()
  }
  const version = await run('kubectl', ['version', '--client', '-o', 'json']).then(r => JSON.parse(r.stdout) as { clientVersion?: { gitVersion?: string } }).catch(() => ({}))
  const script = buildScript(proxy.exchanges,
    'The requests of one lab walk (test/apiserver/differential/record.ts): Node registration, the controller, kube-roles, ' +
    'three speakers, kubectl apply of config/samples/pool-configmap.yaml and ingress-service.yaml, the walk\'s looks, ' +
    'kubectl get svc, kubectl delete svc ingress, the speakers and the controller stopping, then the known refusals.',
    { kubectl: (version as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ?? 'unknown', node: process.version, server: 'test/apiserver stand-in' })
  say(`${script.requests.length} requests; logs in ${logDir}`)
  return script
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: WALK_SCRIPT } } })
  const script = await recordWalk()
  writeFileSync(values.out ?? WALK_SCRIPT, JSON.stringify(script, null, 1) + '\n')
  say(`wrote ${values.out ?? WALK_SCRIPT}`)
  process.exit(0)
}
