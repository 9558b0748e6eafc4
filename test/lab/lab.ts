// The lab as a module: `startLab(opts)` builds the LAN, the pods, the API server, the Nodes, the controller,
// the kube roles and one speaker per node, and returns a `Lab` with the handful of operations the used-by
// walk needs (kubectl, arping, curl from the client) and `stop()`. `npm run lab` and the e2e test both use it.
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node'
import { load as loadYaml, dump as dumpYaml } from 'js-yaml'
import { runAllowingFailure, inNetns, waitFor, StopWaiting, type RunResult } from './run.js'
import {
  labNodes, APISERVER_HOST, CLIENT_HOST, ROOT_LINK, API_PORT, type LabNode,
} from './names.js'
import { createTopology, deleteNetns, listNetns, isLabNetns, netnsPids, eth0Mac } from './topology.js'
import { labPods, createPod, nginxArgv, type LabPod } from './pods.js'
import { startProcess, stopProcess, isAlive, type ProcessRecord } from './processes.js'
import {
  CONTAINER_PREFIX, containerArgs, containerPid, imageProblem, labContainers, podmanArgv, podmanRunArgs, processFacts, readWorkloadManifest,
  removeContainers, type ProcessFacts, type Workload, type WorkloadManifest,
} from './image.js'
import { saveState, loadState, type LabState } from './state.js'
import { envtestAssets, etcdArgv, kubeApiServerArgv, prepareRealApiServer, probe, type EnvtestAssets } from '../lib/envtest.js'
import { NFT_TABLE, STAND_IN_PROXY_FAMILY } from './kube-roles.js'
import { chooseKubeProxy, kubeProxyArgv, kubeProxyConfigYaml, KUBE_PROXY_HEALTHZ_PORT, type KubeProxyChoice, type KubeProxyKind } from './kube-proxy.js'
import {
  APISERVER_SANS, LAB_SERVICE_ACCOUNTS, LAB_SERVICE_CIDRS, kubeProxyBindingYaml, labTokenUsers, realApiServerAssets, tokenKubeconfigYaml,
  type ApiServerKind, type LabIdentity,
} from './real-apiserver.js'

export interface LabOptions {
  /** Where the lab keeps kubeconfigs, logs, nginx files and state.json (`.lab` for `npm run lab`). */
  readonly stateDir: string
  /** The repository root: programs are started from here. */
  readonly repoRoot: string
  readonly nodeCount?: number
  /** Progress lines ("creating the LAN ..."); silent when absent. */
  readonly say?: (line: string) => void
  /** Start a speaker per node (default true); false gives the bare LAN, e.g. to measure the kernel alone. */
  readonly speakers?: boolean
  /** Extra environment for every speaker (e.g. `L2LB_HEARTBEAT_MS`). */
  readonly speakerEnv?: Readonly<Record<string, string>>
  /**
   * `stand-in` (default): test/apiserver. `real`: kube-apiserver and etcd from `assets` (KUBEBUILDER_ASSETS),
   * with config/default's RBAC enforced and every program on its own ServiceAccount token.
   */
  readonly apiserver?: ApiServerKind
  /** The binaries for `apiserver: 'real'` and the real kube-proxy; default: KUBEBUILDER_ASSETS. */
  readonly assets?: EnvtestAssets
  /**
   * Which kube-proxy the nodes run. `auto` (default): the real one (nftables mode, one per node) when the assets
   * have `kube-proxy`, whichever the API server; else the lab's stand-in role in kube-roles.ts.
   */
  readonly kubeProxy?: KubeProxyChoice
  /**
   * Start the controller and the speakers with NODE_OPTIONS unset (`env -u NODE_OPTIONS node ...`; default
   * false). Under tap, every process a test spawns gets `--import @tapjs/processinfo` in NODE_OPTIONS, whatever
   * env it is given, and the lab's programs then carry tap's module hooks: ~350-400 MiB idle RSS instead of
   * ~120-140 MiB. For tests that measure the programs' memory or pauses.
   */
  readonly bareNodeOptions?: boolean
  /**
   * Run the controller and the speakers from the image (`npm run image`) with `podman run`, as config/default's
   * Deployment and DaemonSet describe them: its image and tag, args, env, security contexts and memory limit, the
   * ServiceAccount token mounted read-only where Kubernetes mounts it (test/lab/image.ts). Default false: the
   * machine's node runs config/default's args (the bundled dist/<program>/main.js).
   */
  readonly image?: boolean
}

export interface ArpingResult {
  readonly replies: number
  /** Distinct MACs that answered, lower case, in order of first answer. */
  readonly macs: string[]
  readonly output: string
}

export interface HttpAnswer {
  readonly status: number
  readonly body: string
}

/** Machine-level problems that stop the lab before it touches anything (not root, tools missing). */
export async function labPrerequisites(): Promise<string[]> {
  const problems: string[] = []
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('the lab must run as root (it creates network namespaces, veths, bridges and nftables rules): try `sudo npm run lab`')
    return problems
  }
  const tools: [string, string][] = [
    ['ip', 'iproute2'], ['nft', 'nftables'], ['nginx', 'nginx'], ['arping', 'iputils-arping'], ['curl', 'curl'],
    ['kubectl', 'kubernetes-client (kubectl 1.32 or Debian\'s kubernetes-client)'],
  ]
  for (const [tool, pkg] of tools) {
    const res = await runAllowingFailure(['sh', '-c', `command -v ${tool}`])
    if (res.code !== 0) problems.push(`\`${tool}\` is not installed: install ${pkg}`)
  }
  if (problems.length > 0) return problems
  // Network namespaces can be unavailable even to root (some containers): find out before building.
  const probe = `l2lb-probe-${process.pid}`
  const add = await runAllowingFailure(['ip', 'netns', 'add', probe])
  if (add.code !== 0) problems.push(`network namespaces are not available here: ${add.stderr.trim()}`)
  else await runAllowingFailure(['ip', 'netns', 'del', probe])
  return problems
}

/** The lab's namespaces that exist right now: non-empty means a lab is up (or was left half-built). */
export async function runningLabNetns(): Promise<string[]> {
  return (await listNetns()).filter(isLabNetns).sort()
}

export class LabBusyError extends Error {
  constructor(netns: readonly string[]) {
    super(`a lab is already running (namespaces: ${netns.join(', ')}). Use it with ` +
      '`kubectl --kubeconfig .lab/kubeconfig ...`, or stop it first with `npm run lab -- down`.')
    this.name = 'LabBusyError'
  }
}

export class Lab {
  readonly stateDir: string
  readonly repoRoot: string
  readonly nodes: readonly LabNode[]
  readonly pods: readonly LabPod[]
  /** The machine's kubeconfig: reaches the API server over the root link. */
  readonly kubeconfig: string
  /** The kubeconfig used inside the LAN (speakers, controller): server https://192.0.2.1:6443. */
  readonly lanKubeconfig: string
  readonly logDir: string
  readonly #say: (line: string) => void
  readonly #speakers: boolean
  readonly #speakerEnv: Readonly<Record<string, string>>
  /** The cluster name the speakers carry in their heartbeats. */
  readonly heartbeatCluster: string
  readonly #bareNodeOptions: boolean
  /** config/default's workloads when the programs run from the image; null when they run from dist/. */
  readonly #manifests: Readonly<Record<Workload, WorkloadManifest>> | null
  readonly apiserver: ApiServerKind
  readonly #assets: EnvtestAssets | undefined
  readonly kubeProxy: KubeProxyKind
  readonly #kubeProxyBinary: string | undefined
  #kubeProxyVersion = ''
  /** Each program's kubeconfig inside the LAN: its own ServiceAccount token on the real server, admin on the stand-in. */
  readonly #kubeconfigOf: Record<LabIdentity, string>
  readonly #netns: string[] = []
  readonly #processes: ProcessRecord[] = []
  readonly #startedAt = new Date().toISOString()
  #stopping: Promise<string[]> | null = null

  constructor(opts: LabOptions) {
    this.stateDir = path.resolve(opts.stateDir)
    this.repoRoot = path.resolve(opts.repoRoot)
    this.nodes = labNodes(opts.nodeCount ?? 3)
    this.pods = labPods(this.nodes)
    this.kubeconfig = path.join(this.stateDir, 'kubeconfig')
    this.lanKubeconfig = path.join(this.stateDir, 'kubeconfig-lan')
    this.logDir = path.join(this.stateDir, 'logs')
    this.#say = opts.say ?? (() => {})
    this.#speakers = opts.speakers ?? true
    // The cluster's heartbeat key, as an operator puts it in the Secret l2lb-heartbeat-key (README, "Heartbeat
    // authentication"): the lab's speakers sign and check their heartbeats like a cluster installed by the book.
    this.heartbeatCluster = 'lab'
    this.#speakerEnv = {
      L2LB_CLUSTER_NAME: this.heartbeatCluster,
      L2LB_HEARTBEAT_KEYS: `1:${randomBytes(32).toString('base64')}`,
      ...opts.speakerEnv,
    }
    this.#bareNodeOptions = opts.bareNodeOptions ?? false
    this.#manifests = opts.image === true
      ? { controller: readWorkloadManifest(this.repoRoot, 'controller'), speaker: readWorkloadManifest(this.repoRoot, 'speaker') }
      : null
    this.apiserver = opts.apiserver ?? 'stand-in'
    if (this.apiserver === 'real') {
      const assets = opts.assets ?? realApiServerAssets()
      if ('howTo' in assets) throw new Error(assets.howTo)
      this.#assets = assets
    } else {
      const fromEnv = envtestAssets()
      this.#assets = opts.assets ?? ('missing' in fromEnv ? undefined : fromEnv)
    }
    const proxy = chooseKubeProxy(opts.kubeProxy ?? 'auto', this.#assets)
    this.kubeProxy = proxy.kind
    this.#kubeProxyBinary = proxy.binary
    const own = (id: LabIdentity): string => this.apiserver === 'real' ? path.join(this.stateDir, `kubeconfig-${id}`) : this.lanKubeconfig
    this.#kubeconfigOf = { controller: own('controller'), speaker: own('speaker'), 'kube-proxy': own('kube-proxy') }
  }

  /** For summaries: which API server, and where its binaries came from. */
  get apiserverDescription(): string {
    return this.apiserver === 'real'
      ? `real kube-apiserver + etcd (${this.#assets?.dir ?? '?'}), config/default's RBAC enforced, one ServiceAccount token per program`
      : 'stand-in (test/apiserver)'
  }

  get kubeProxyDescription(): string {
    return this.kubeProxy === 'real'
      ? `real kube-proxy ${this.#kubeProxyVersion} (${this.#kubeProxyBinary ?? '?'}), nftables mode, one per node`
      : 'stand-in role (test/lab/kube-roles.ts, nftables table l2lb-kube-proxy per node)'
  }

  /** The image the controller and the speakers run from, or null when they run from dist/ on the machine's node. */
  get image(): string | null {
    return this.#manifests?.speaker.image ?? null
  }

  get programsDescription(): string {
    const m = this.#manifests
    if (m === null) return `config/default's args (the bundled dist/<program>/main.js) on the machine's node (${process.version})`
    return `image ${m.controller.image === m.speaker.image ? m.speaker.image : `${m.controller.image}, ${m.speaker.image}`} ` +
      '(podman run, config/default\'s args, env, security contexts and memory limits)'
  }

  get processes(): readonly ProcessRecord[] {
    return this.#processes
  }

  get netns(): readonly string[] {
    return this.#netns
  }

  async #save(): Promise<void> {
    const state: LabState = {
      version: 1, startedAt: this.#startedAt, stateDir: this.stateDir, nodeCount: this.nodes.length,
      kubeconfig: this.kubeconfig, netns: [...this.#netns], processes: [...this.#processes],
    }
    await saveState(state)
  }

  async #start(name: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessRecord> {
    const rec = await startProcess({
      name, argv, log: path.join(this.logDir, `${name}.log`), cwd: this.repoRoot, env: { ...process.env, ...env },
    })
    this.#processes.push(rec)
    await this.#save()
    return rec
  }

  /**
   * The command line of a node program the lab starts. The controller and the speaker run as config/default
   * runs them in the image: its container args (node's flags, then the bundled dist/<program>/main.js that
   * `npm run build` makes; `npm run lab` and `npm test` build it first), on the machine's node. The lab's own
   * helpers (the stand-in API server, the kube roles) run from source under tsx.
   */
  #nodeProgram(script: string): string[] {
    const shipped = /^(controller|speaker)\/main\.ts$/.exec(script)
    if (shipped === null) return [process.execPath, '--import', 'tsx', script]
    const workload: Workload = shipped[1] === 'controller' ? 'controller' : 'speaker'
    const args = containerArgs(readWorkloadManifest(this.repoRoot, workload))
    const program = args.find(a => !a.startsWith('-'))
    if (program === undefined || !existsSync(path.join(this.repoRoot, program))) {
      throw new Error(`${program ?? `config/default/${workload}.yaml's program`} is missing: run \`npm run build\` first (npm run lab and npm test do)`)
    }
    // env execs node: the PID the lab records is still the program's.
    return [...(this.#bareNodeOptions ? ['env', '-u', 'NODE_OPTIONS'] : []), process.execPath, ...args]
  }

  /** Builds and starts everything; on failure tears down what it made and rethrows. */
  async up(): Promise<void> {
    const busy = await runningLabNetns()
    if (busy.length > 0) throw new LabBusyError(busy)
    const image = this.image
    if (image !== null) {
      const problem = await imageProblem(this.repoRoot, image)
      if (problem !== null) throw new Error(problem)
    }
    await mkdir(this.logDir, { recursive: true })
    await mkdir(path.join(this.stateDir, 'home'), { recursive: true })
    await this.#save()
    try {
      await this.#up()
    } catch (err) {
      // Another lab got there between our check and our first namespace: say so rather than "File exists".
      if (this.#netns.length === 0) {
        const busyNow = await runningLabNetns()
        if (busyNow.length > 0) {
          await this.stop()
          throw new LabBusyError(busyNow)
        }
      }
      const tails = await this.logTails(15)
      await this.stop()
      const msg = err instanceof Error ? err.message : String(err)
      throw new Error(`${msg}${tails === '' ? '' : `\n--- last lines of the lab's logs ---\n${tails}`}`)
    }
  }

  async #up(): Promise<void> {
    const t0 = Date.now()
    this.#say(`creating the LAN: bridge in l2lb-lan, ${this.nodes.map(n => n.name).join(', ')}, l2lb-client, l2lb-apiserver`)
    await createTopology(this.nodes, this.#netns)
    await this.#save()

    this.#say(`starting pods: ${this.pods.map(p => `${p.name} ${p.ip} ${p.ipv6} on ${p.node.name}`).join(', ')}`)
    for (const pod of this.pods) {
      const paths = await createPod(pod, this.pods, this.stateDir, this.#netns)
      await this.#save()
      await this.#start(`pod-${pod.name}`, nginxArgv(pod, paths))
    }

    if (this.apiserver === 'real') await this.#startRealApiServer()
    else await this.#startStandInApiServer()

    this.#say('registering Nodes (Ready, InternalIP)')
    await this.#registerNodes()

    const realProxy = this.kubeProxy === 'real'
    this.#say(`starting the controller, the endpoints${realProxy ? '' : '/kube-proxy'} roles${this.#speakers ? ', one speaker per node' : ' (no speakers)'}` +
      `${realProxy ? ' and the real kube-proxy on every node' : ''}`)
    if (this.#manifests === null) {
      await this.#start('controller', inNetns(APISERVER_HOST.netns, this.#nodeProgram('controller/main.ts')), { KUBECONFIG: this.#kubeconfigOf.controller })
    } else {
      // The controller's Pod network is the API server's namespace (the lab has no Pod network of its own for it).
      await this.#startContainer('controller', this.#manifests.controller, APISERVER_HOST.netns, 'controller', {
        'metadata.name': `${CONTAINER_PREFIX}controller`, 'metadata.namespace': LAB_SERVICE_ACCOUNTS.controller.namespace,
      }, {})
    }
    // The kube roles play Kubernetes components (the endpoints controller): admin, as a controller-manager would be.
    await this.#start('kube-roles', inNetns(APISERVER_HOST.netns, [
      ...this.#nodeProgram('test/lab/kube-roles-main.ts'), '--nodes', String(this.nodes.length), '--kube-proxy', realProxy ? 'off' : 'on',
    ]), { KUBECONFIG: this.lanKubeconfig })
    for (const node of this.#speakers ? this.nodes : []) await this.#startSpeaker(node, {})
    if (realProxy) await this.#startKubeProxies()
    // A program that dies at start (bad import, missing env) should fail the lab here, not as a timeout later;
    // the walk's waits check again, for the ones slower to die.
    await new Promise(resolve => setTimeout(resolve, 1000))
    this.checkAlive()
    if (this.#speakers) {
      // Every speaker holds its liveness Lease once it has synced and opened its sockets: wait for all of them,
      // so the walk sees the steady state and not IPs moving while speakers are still coming up.
      const want = this.nodes.map(n => `l2lb-speaker-${n.name}`).sort()
      await waitFor('every speaker to take its Lease', async () => {
        this.checkAlive()
        const out: unknown = JSON.parse(await this.kubectl(['get', 'leases', '-n', 'l2lb-system', '-o', 'json']))
        const items = typeof out === 'object' && out !== null && 'items' in out && Array.isArray(out.items) ? out.items : []
        const names = items.map((l: unknown) => stringField(typeof l === 'object' && l !== null && 'metadata' in l ? l.metadata : undefined, 'name')).sort()
        return want.every(n => names.includes(n)) ? true : undefined
      }, { timeoutMs: 45_000, intervalMs: 250 })
    }
    this.#say(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }

  /** The real kube-proxy in every node's netns, with its own identity; waits until each reports healthy (synced). */
  async #startKubeProxies(): Promise<void> {
    const binary = this.#kubeProxyBinary
    if (binary === undefined) throw new Error('no kube-proxy binary')
    this.#kubeProxyVersion = (await runAllowingFailure([binary, '--version'])).stdout.trim().replace(/^Kubernetes /, '')
    const dir = path.join(this.stateDir, 'kube-proxy')
    await mkdir(dir, { recursive: true })
    for (const node of this.nodes) {
      const file = path.join(dir, `${node.name}.yaml`)
      await writeFile(file, kubeProxyConfigYaml(node, this.#kubeconfigOf['kube-proxy']))
      await this.#start(`kube-proxy-${node.name}`, inNetns(node.netns, kubeProxyArgv(binary, file)))
    }
    for (const node of this.nodes) {
      await waitFor(`kube-proxy on ${node.name} to be healthy`, async () => {
        this.checkAlive()
        const url = `http://${node.ipv4}:${KUBE_PROXY_HEALTHZ_PORT}/healthz`
        const r = await runAllowingFailure(inNetns(node.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', url]), { timeoutMs: 3000 })
        return r.stdout.trim() === '200' ? true : undefined
      }, { timeoutMs: 30_000, intervalMs: 200 })
    }
  }

  async #startSpeaker(node: LabNode, env: Readonly<Record<string, string>>): Promise<ProcessRecord> {
    if (this.#manifests !== null) {
      // hostNetwork: the node's own namespace.
      return this.#startContainer(`speaker-${node.name}`, this.#manifests.speaker, node.netns, 'speaker', {
        'metadata.name': `speaker-${node.name}`, 'metadata.namespace': LAB_SERVICE_ACCOUNTS.speaker.namespace, 'spec.nodeName': node.name,
      }, { L2LB_INTERFACES: 'eth0', ...this.#speakerEnv, ...env })
    }
    return this.#start(`speaker-${node.name}`, inNetns(node.netns, this.#nodeProgram('speaker/main.ts')), {
      KUBECONFIG: this.#kubeconfigOf.speaker, NODE_NAME: node.name, L2LB_INTERFACES: 'eth0', ...this.#speakerEnv, ...env,
    })
  }

  /**
   * `podman run` of one workload in `netns`, as a Pod of config/default would run on a kubelet: in-cluster config
   * (KUBERNETES_SERVICE_HOST/PORT and the identity's token, CA and namespace mounted read-only), no KUBECONFIG.
   * Recorded with the host PID of the container's node process once it runs, so the lab signals and watches the
   * program itself; podman's own process ends when the container does (--rm removes it).
   */
  async #startContainer(
    name: string, manifest: WorkloadManifest, netns: string, identity: LabIdentity,
    fieldRefs: Readonly<Record<string, string>>, extraEnv: Readonly<Record<string, string>>,
  ): Promise<ProcessRecord> {
    const container = `${CONTAINER_PREFIX}${name}`
    const argv = podmanArgv(this.repoRoot, podmanRunArgs({
      manifest, name: container, netnsPath: `/run/netns/${netns}`, fieldRefs,
      extraEnv: { KUBERNETES_SERVICE_HOST: APISERVER_HOST.ipv4, KUBERNETES_SERVICE_PORT: String(API_PORT), ...extraEnv },
      serviceAccountDir: await this.#serviceAccountDir(identity),
    }))
    const client = await startProcess({ name, argv, log: path.join(this.logDir, `${name}.log`), cwd: this.repoRoot })
    // Recorded at once with podman's PID, so a failure while waiting still removes the container.
    const early: ProcessRecord = { ...client, container }
    this.#processes.push(early)
    await this.#save()
    const pid = await waitFor(`the container ${container} to run`, async () => {
      if (!isAlive(client.pid)) throw new StopWaiting(`podman run for ${name} exited (log ${client.log})`)
      return (await containerPid(this.repoRoot, container)) ?? undefined
    }, { timeoutMs: 60_000, intervalMs: 200 })
    const rec: ProcessRecord = { ...early, pid }
    this.#processes.splice(this.#processes.indexOf(early), 1, rec)
    await this.#save()
    return rec
  }

  /** What Kubernetes mounts at /var/run/secrets/kubernetes.io/serviceaccount, from the identity's kubeconfig. */
  async #serviceAccountDir(identity: LabIdentity): Promise<string> {
    const kc = new KubeConfig()
    kc.loadFromFile(this.#kubeconfigOf[identity])
    const ca = kc.getCurrentCluster()?.caData
    const token = kc.getCurrentUser()?.token
    if (ca === undefined || token === undefined) throw new Error(`${this.#kubeconfigOf[identity]}: no certificate-authority-data or token for ${identity}`)
    const dir = path.join(this.stateDir, 'serviceaccount', identity)
    await mkdir(dir, { recursive: true, mode: 0o755 })
    // Readable by the controller's user (65534), as the kubelet's projected token is.
    await writeFile(path.join(dir, 'token'), token, { mode: 0o644 })
    await writeFile(path.join(dir, 'ca.crt'), Buffer.from(ca, 'base64'), { mode: 0o644 })
    await writeFile(path.join(dir, 'namespace'), LAB_SERVICE_ACCOUNTS[identity].namespace, { mode: 0o644 })
    return dir
  }

  #speakerRecord(node: string): ProcessRecord | undefined {
    return this.#processes.find(p => p.name === `speaker-${node}`)
  }

  /** SIGKILL a node's speaker, by the PID the lab recorded: no goodbye, no Lease deletion, no `leaving`. */
  killSpeaker(node: string): void {
    const rec = this.#speakerRecord(node)
    if (rec === undefined) throw new Error(`the lab runs no speaker on ${node}`)
    try { process.kill(rec.pid, 'SIGKILL') } catch { /* already gone */ }
  }

  /** Stops a node's speaker politely (SIGTERM, by PID; SIGKILL after 3 s): it hands its IPs over and says leaving. */
  async stopSpeaker(node: string): Promise<void> {
    const old = this.#speakerRecord(node)
    if (old === undefined) return
    await stopProcess(old.pid)
    this.#processes.splice(this.#processes.indexOf(old), 1)
    await this.#save()
  }

  /**
   * Starts a node's speaker (none may be running there), with `env` on top of the lab's; resolves once it
   * reports ready (synced, sockets open, joined) unless `ready: false`.
   */
  async startSpeaker(node: string, env: Readonly<Record<string, string>> = {}, opts: { ready?: boolean } = {}): Promise<void> {
    const labNode = this.nodes.find(n => n.name === node)
    if (labNode === undefined) throw new Error(`no lab node ${node}`)
    const running = this.#speakerRecord(node)
    if (running !== undefined) {
      if (isAlive(running.pid)) throw new Error(`a speaker already runs on ${node} (pid ${running.pid})`)
      this.#processes.splice(this.#processes.indexOf(running), 1)
    }
    await this.#startSpeaker(labNode, env)
    if (opts.ready === false) return
    await this.waitSpeakerReady(node)
  }

  /** Waits until the speaker on `node` answers /readyz with 200. */
  async waitSpeakerReady(node: string, timeoutMs = 45_000): Promise<void> {
    const labNode = this.nodes.find(n => n.name === node)
    const rec = this.#speakerRecord(node)
    if (labNode === undefined || rec === undefined) throw new Error(`the lab runs no speaker on ${node}`)
    await waitFor(`the speaker on ${node} to be ready`, async () => {
      if (!isAlive(rec.pid)) throw new StopWaiting(`the speaker on ${node} exited (log ${rec.log})`)
      const r = await runAllowingFailure(inNetns(labNode.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', `http://${labNode.ipv4}:7473/readyz`]), { timeoutMs: 3000 })
      return r.stdout.trim() === '200' ? true : undefined
    }, { timeoutMs, intervalMs: 100 })
  }

  /**
   * Starts a node's speaker again (stopping the running one first, politely), with `env` on top of the lab's,
   * and waits until it reports ready (synced, sockets open, joined).
   */
  async restartSpeaker(node: string, env: Readonly<Record<string, string>> = {}): Promise<void> {
    await this.stopSpeaker(node)
    await this.startSpeaker(node, env)
  }

  /** test/apiserver in the l2lb-apiserver netns; it writes the LAN kubeconfig itself. */
  async #startStandInApiServer(): Promise<void> {
    this.#say(`starting the stand-in API server on https://${APISERVER_HOST.ipv4}:${API_PORT} (netns ${APISERVER_HOST.netns})`)
    const token = randomBytes(16).toString('hex')
    const apiserverLog = path.join(this.logDir, 'apiserver.log')
    await this.#start('apiserver', inNetns(APISERVER_HOST.netns, [
      ...this.#nodeProgram('test/apiserver/main.ts'),
      '--host', APISERVER_HOST.ipv4, '--port', String(API_PORT), '--token', token, '--kubeconfig', this.lanKubeconfig,
      '--cert-dir', path.join(this.stateDir, 'apiserver-certs'),
    ]))
    await waitFor('the API server to print its URL', async () => {
      const text = await readFile(apiserverLog, 'utf8').catch(() => '')
      if (/^\{"url":/m.test(text) && existsSync(this.lanKubeconfig)) return true
      const rec = this.#processes.find(p => p.name === 'apiserver')
      if (rec !== undefined && !isAlive(rec.pid)) throw new StopWaiting(`the API server exited (log ${apiserverLog})`)
      return undefined
    }, { timeoutMs: 45_000, intervalMs: 100 })
    await this.#writeMachineKubeconfig()
  }

  /**
   * etcd and kube-apiserver from KUBEBUILDER_ASSETS in the l2lb-apiserver netns (etcd on that netns' loopback,
   * the API server on 192.0.2.1:6443 like the stand-in), then what a cluster has before l2lb is installed and
   * what installing it does: namespaces, config/default applied (RBAC, ServiceAccounts, the Deployment and
   * DaemonSet, which nothing runs here), kube-proxy's binding to system:node-proxier. Every program then runs
   * with its own ServiceAccount's token.
   */
  async #startRealApiServer(): Promise<void> {
    const assets = this.#assets
    if (assets === undefined) throw new Error('no KUBEBUILDER_ASSETS for the real API server')
    this.#say(`starting etcd and the real kube-apiserver (${assets.kubeApiServer}) on https://${APISERVER_HOST.ipv4}:${API_PORT} (netns ${APISERVER_HOST.netns})`)
    const dir = path.join(this.stateDir, 'apiserver')
    await mkdir(dir, { recursive: true })
    const { users, tokens } = labTokenUsers()
    const files = await prepareRealApiServer(dir, APISERVER_SANS, users)
    const caPem = await readFile(files.caFile, 'utf8')
    await this.#start('etcd', inNetns(APISERVER_HOST.netns, etcdArgv(assets, path.join(this.stateDir, 'etcd-data'), 2379, 2380)))
    await this.#start('kube-apiserver', inNetns(APISERVER_HOST.netns, kubeApiServerArgv(assets, files, {
      bindAddress: APISERVER_HOST.ipv4, advertiseAddress: APISERVER_HOST.ipv4, port: API_PORT,
      etcdUrl: 'http://127.0.0.1:2379', serviceCidrs: LAB_SERVICE_CIDRS,
    })))
    const lanUrl = `https://${APISERVER_HOST.ipv4}:${API_PORT}`
    await writeFile(this.lanKubeconfig, tokenKubeconfigYaml(lanUrl, caPem, files.adminToken, 'admin'), { mode: 0o600 })
    for (const id of ['controller', 'speaker', 'kube-proxy'] as const) {
      await writeFile(this.#kubeconfigOf[id], tokenKubeconfigYaml(lanUrl, caPem, tokens[id], id), { mode: 0o600 })
    }
    // The machine dials the root link's address (DNATed to the LAN address); the certificate names both.
    await writeFile(this.kubeconfig, tokenKubeconfigYaml(`https://${ROOT_LINK.peerIP}:${API_PORT}`, caPem, files.adminToken, 'admin', 'kubernetes'), { mode: 0o600 })

    const readyz = `https://${ROOT_LINK.peerIP}:${API_PORT}/readyz`
    const t0 = Date.now()
    await waitFor('the kube-apiserver to answer /readyz with 200', async () => {
      this.checkAlive()
      return (await probe(readyz, caPem, files.adminToken)) === 200 ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 200 })
    this.#say(`kube-apiserver ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; kubectl apply -k config/default (namespace, RBAC, ServiceAccounts)`)
    await this.kubectl(['apply', '-k', 'config/default'])
    await this.kubectl(['apply', '-f', '-'], kubeProxyBindingYaml())
    // Right after a start the RBAC authorizer may still refuse for a moment: wait until each identity may do
    // what it needs, through its own token and the LAN address, as the programs will.
    const checks: [LabIdentity, string[]][] = [
      ['controller', ['get', 'configmaps', '-n', 'l2lb-system']], ['controller', ['get', 'services', '-A']],
      ['speaker', ['get', 'leases', '-n', 'l2lb-system']], ['speaker', ['get', 'endpointslices', '-A']],
      ['kube-proxy', ['get', 'endpointslices', '-A']], ['kube-proxy', ['get', 'nodes']],
    ]
    for (const [id, args] of checks) {
      await waitFor(`RBAC to let ${id} ${args.join(' ')}`, async () => {
        const res = await this.#kubectlInLan(this.#kubeconfigOf[id], args)
        return res.code === 0 ? true : undefined
      }, { timeoutMs: 20_000, intervalMs: 200 })
    }
  }

  /** kubectl inside the API server's netns with one of the LAN kubeconfigs (a program's identity). */
  #kubectlInLan(kubeconfig: string, args: readonly string[]): Promise<RunResult> {
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: path.join(this.stateDir, 'home') }
    return runAllowingFailure(inNetns(APISERVER_HOST.netns, ['kubectl', '--kubeconfig', kubeconfig, ...args]), { env, cwd: this.repoRoot, timeoutMs: 20_000 })
  }

  /**
   * The API server writes a kubeconfig for its own address (192.0.2.1, inside the LAN). The machine reaches it
   * over the root link instead; its certificate names 192.0.2.1 and `kubernetes`, so verify against the latter.
   */
  async #writeMachineKubeconfig(): Promise<void> {
    const doc: unknown = loadYaml(await readFile(this.lanKubeconfig, 'utf8'))
    if (typeof doc !== 'object' || doc === null || !('clusters' in doc) || !Array.isArray(doc.clusters)) {
      throw new Error(`${this.lanKubeconfig} has no clusters`)
    }
    for (const entry of doc.clusters) {
      if (typeof entry === 'object' && entry !== null && 'cluster' in entry && typeof entry.cluster === 'object' && entry.cluster !== null) {
        Object.assign(entry.cluster, { server: `https://${ROOT_LINK.peerIP}:${API_PORT}`, 'tls-server-name': 'kubernetes' })
      }
    }
    await writeFile(this.kubeconfig, dumpYaml(doc), { mode: 0o600 })
  }

  async #registerNodes(): Promise<void> {
    const kc = new KubeConfig()
    kc.loadFromFile(this.kubeconfig)
    const core = kc.makeApiClient(CoreV1Api)
    for (const node of this.nodes) await registerLabNode(core, node, false)
  }


  /** The machine's kubectl against the lab, with HOME in the state dir so ~/.kube is never read or written. */
  kubectlResult(args: readonly string[], input?: string): Promise<RunResult> {
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: path.join(this.stateDir, 'home') }
    return runAllowingFailure(['kubectl', '--kubeconfig', this.kubeconfig, ...args], {
      env, cwd: this.repoRoot, timeoutMs: 20_000, ...(input === undefined ? {} : { input }),
    })
  }

  async kubectl(args: readonly string[], input?: string): Promise<string> {
    const res = await this.kubectlResult(args, input)
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${res.code}): ${res.stderr.trim()}`)
    return res.stdout
  }

  /**
   * arping from l2lb-client. `-b` keeps every probe broadcast (arping otherwise switches to unicast after the
   * first answer), so a second node answering would show up as a second MAC.
   */
  async arping(ip: string, opts: { count?: number; deadlineS?: number } = {}): Promise<ArpingResult> {
    // iputils arping takes whole seconds only (interval 1 s): with -w it stops at `count` replies or the deadline.
    const count = opts.count ?? 3
    const deadline = opts.deadlineS ?? count
    const argv = inNetns(CLIENT_HOST.netns, ['arping', '-b', '-c', String(count), '-w', String(deadline), '-I', 'eth0', ip])
    const res = await runAllowingFailure(argv, { timeoutMs: (deadline + 3) * 1000 })
    if (res.code !== 0 && res.code !== 1) throw new Error(`arping failed (exit ${res.code}): ${res.stderr.trim()}`)
    const macs: string[] = []
    let replies = 0
    for (const m of res.stdout.matchAll(/reply from (\S+) \[([0-9A-Fa-f:]{17})\]/g)) {
      if (m[1] !== ip || m[2] === undefined) continue
      replies++
      const mac = m[2].toLowerCase()
      if (!macs.includes(mac)) macs.push(mac)
    }
    return { replies, macs, output: res.stdout }
  }

  /**
   * NDP from l2lb-client (ndisc6): `count` Neighbor Solicitations, one a second, and every Neighbor Advertisement
   * that answers them (`-m`), so a second node answering would show up as a second MAC. Same shape as arping's.
   */
  async ndisc(ip: string, opts: { count?: number } = {}): Promise<ArpingResult> {
    const count = opts.count ?? 3
    const macs: string[] = []
    let replies = 0
    let output = ''
    for (let i = 0; i < count; i++) {
      const res = await runAllowingFailure(inNetns(CLIENT_HOST.netns, ['ndisc6', '-m', '-n', '-r', '1', '-w', '1000', ip, 'eth0']), { timeoutMs: 5000 })
      if (res.code !== 0 && res.code !== 1 && res.code !== 2) throw new Error(`ndisc6 failed (exit ${res.code}): ${res.stderr.trim()}`)
      output += res.stdout
      for (const m of res.stdout.matchAll(/Target link-layer address: ([0-9A-Fa-f:]{17})/g)) {
        replies++
        const mac = (m[1] ?? '').toLowerCase()
        if (!macs.includes(mac)) macs.push(mac)
      }
    }
    return { replies, macs, output }
  }

  /** Who answers for `ip` on the LAN: arping for IPv4, ndisc6 for IPv6. */
  resolve(ip: string, opts: { count?: number } = {}): Promise<ArpingResult> {
    return ip.includes(':') ? this.ndisc(ip, opts) : this.arping(ip, { count: opts.count ?? 3, deadlineS: opts.count ?? 3 })
  }

  /** HTTP GET from l2lb-client with a Host header, as a browser on the LAN would. */
  async curl(ip: string, urlPath: string, host = 'k8s.com'): Promise<HttpAnswer> {
    const url = ip.includes(':') ? `http://[${ip}]${urlPath}` : `http://${ip}${urlPath}`
    const marker = '\n--l2lb-lab-status:'
    const res = await runAllowingFailure(inNetns(CLIENT_HOST.netns, [
      'curl', '-sS', '-m', '3', '-H', `Host: ${host}`, '-w', `${marker}%{http_code}`, url,
    ]), { timeoutMs: 6000 })
    if (res.code !== 0) throw new Error(`curl ${url} failed (exit ${res.code}): ${res.stderr.trim()}`)
    const at = res.stdout.lastIndexOf(marker)
    return { status: Number(res.stdout.slice(at + marker.length)), body: res.stdout.slice(0, at) }
  }

  /**
   * The rule that takes `ip`:`port`/TCP on a node to the Service's endpoints, read from that node's kernel: the
   * real kube-proxy's `service-ips` map entry, or the stand-in role's DNAT rule; null when there is none. What
   * shows that traffic for the IP went through the kube-proxy the lab says it runs.
   */
  async proxyRule(nodeName: string, ip: string, port = 80): Promise<string | null> {
    const node = this.nodes.find(n => n.name === nodeName)
    if (node === undefined) return null
    const family = ip.includes(':') ? 'ip6' : 'ip'
    const quoted = ip.replace(/[.]/g, '\\.')
    if (this.kubeProxy === 'real') {
      const res = await runAllowingFailure(inNetns(node.netns, ['nft', 'list', 'map', family, 'kube-proxy', 'service-ips']))
      const m = new RegExp(`(?:^|[\\s,{])${quoted} \\. tcp \\. ${port} : goto ([^\\s,}]+)`).exec(res.stdout)
      return m === null ? null : `kube-proxy (table ${family} kube-proxy): ${ip} . tcp . ${port} -> ${m[1] ?? ''}`
    }
    const res = await runAllowingFailure(inNetns(node.netns, ['nft', 'list', 'table', STAND_IN_PROXY_FAMILY, NFT_TABLE]))
    const m = new RegExp(`^\\s*${family} daddr ${quoted} tcp dport ${port} (.*)$`, 'm').exec(res.stdout)
    return m === null ? null : `stand-in role (table ${STAND_IN_PROXY_FAMILY} ${NFT_TABLE}): ${family} daddr ${ip} tcp dport ${port} ${m[1] ?? ''}`
  }

  /** Which lab node has this MAC on eth0 (read from the kernel), or null. */
  async nodeWithMac(mac: string): Promise<LabNode | null> {
    for (const node of this.nodes) {
      if ((await eth0Mac(node.netns)) === mac.toLowerCase()) return node
    }
    return null
  }

  /** The newest `nodeAssigned` Event's node for a Service, from the message "announcing from node X". */
  async announcingNode(service: string, namespace = 'default'): Promise<string | null> {
    return (await this.announcingNodes(service, namespace))[0] ?? null
  }

  /**
   * Every node a `nodeAssigned` Event of the Service names, newest first. A dual-stack Service's two addresses
   * may be announced by two nodes, and the Event does not say which address it is about.
   */
  async announcingNodes(service: string, namespace = 'default'): Promise<string[]> {
    const out = await this.kubectl(['get', 'events', '-n', namespace, '-o', 'json'])
    const list: unknown = JSON.parse(out)
    if (typeof list !== 'object' || list === null || !('items' in list) || !Array.isArray(list.items)) return []
    // Events carry whole-second timestamps: break ties by resourceVersion (the server's write order).
    const seen: { node: string; at: string; rv: number }[] = []
    for (const ev of list.items) {
      if (typeof ev !== 'object' || ev === null) continue
      const reason = 'reason' in ev ? ev.reason : undefined
      const obj = 'involvedObject' in ev ? ev.involvedObject : undefined
      const objName = typeof obj === 'object' && obj !== null && 'name' in obj ? obj.name : undefined
      const message = 'message' in ev && typeof ev.message === 'string' ? ev.message : ''
      if (reason !== 'nodeAssigned' || objName !== service) continue
      const node = /announcing from node (\S+)/.exec(message)?.[1]
      if (node === undefined) continue
      const at = eventTime(ev)
      const meta: unknown = 'metadata' in ev ? ev.metadata : undefined
      const rv = Number(stringField(meta, 'resourceVersion')) || 0
      seen.push({ node, at, rv })
    }
    seen.sort((a, b) => a.at === b.at ? b.rv - a.rv : a.at < b.at ? 1 : -1)
    return [...new Set(seen.map(s => s.node))]
  }

  /** The nodes whose speaker says, in its metrics, that it announces `ip` (`l2lb_speaker_announced{ip} 1`). */
  async speakersAnnouncing(ip: string): Promise<string[]> {
    const nodes: string[] = []
    for (const node of this.nodes) {
      const r = await runAllowingFailure(inNetns(node.netns, ['curl', '-s', '--max-time', '2', `http://${node.ipv4}:7473/metrics`]), { timeoutMs: 4000 })
      const announced = r.stdout.split('\n').some(l => l.startsWith('l2lb_speaker_announced{') && l.includes(`ip="${ip}"`) && / 1$/.test(l))
      if (announced) nodes.push(node.name)
    }
    return nodes
  }

  /**
   * For each program running in a container (`image`): its uid, effective capabilities, whether its root
   * filesystem is read-only, and its resident memory, read from the host's /proc for the container's process.
   */
  async containerFacts(): Promise<{ name: string; container: string; facts: ProcessFacts }[]> {
    const out: { name: string; container: string; facts: ProcessFacts }[] = []
    for (const p of this.#processes) {
      if (p.container === undefined || !isAlive(p.pid)) continue
      out.push({ name: p.name, container: p.container, facts: await processFacts(p.pid) })
    }
    return out
  }

  /**
   * Throws StopWaiting naming any lab program that has exited: called inside waits, so a program that dies
   * (a bad import, a crash) fails the walk at once instead of as a timeout much later.
   */
  checkAlive(): void {
    const dead = this.#processes.filter(p => !isAlive(p.pid))
    if (dead.length > 0) throw new StopWaiting(`exited: ${dead.map(p => `${p.name} (log ${p.log})`).join(', ')}`)
  }

  /** The last `lines` lines of every process log, for failure messages. */
  async logTails(lines: number): Promise<string> {
    const parts: string[] = []
    for (const p of this.#processes) {
      const text = await readFile(p.log, 'utf8').catch(() => '')
      const tail = text.trimEnd().split('\n').slice(-lines).join('\n')
      if (tail !== '') parts.push(`[${p.name}] ${p.log}\n${tail}`)
    }
    return parts.join('\n')
  }

  /** Stops every process by PID, deletes the namespaces and the root veth, removes the state dir. */
  stop(opts: { keepStateDir?: boolean } = {}): Promise<string[]> {
    // One teardown however many callers (a signal handler and the normal path may both ask); all wait for it.
    this.#stopping ??= (async () => {
      const problems = await teardown(this.repoRoot, this.#processes, this.#netns)
      if (!opts.keepStateDir) await rm(this.stateDir, { recursive: true, force: true })
      return problems
    })()
    return this.#stopping
  }
}

function stringField(o: unknown, key: string): string {
  if (typeof o !== 'object' || o === null) return ''
  const v: unknown = Object.getOwnPropertyDescriptor(o, key)?.value
  return typeof v === 'string' ? v : ''
}

function eventTime(ev: object): string {
  // Newest by lastTimestamp, else eventTime, else creation: all RFC 3339 in UTC, so they compare as text.
  const meta: unknown = 'metadata' in ev ? ev.metadata : undefined
  return stringField(ev, 'lastTimestamp') || stringField(ev, 'eventTime') || stringField(meta, 'creationTimestamp')
}

/** The order `teardown` stops processes in: every client of the API server, then the API server, then etcd. */
/**
 * Registers one lab node as kubelet would: the Node with its labels and pod CIDRs, then its Ready status and
 * addresses through the status subresource when the server dropped them on create (or when `forceStatusWrite`).
 */
export async function registerLabNode(core: CoreV1Api, node: LabNode, forceStatusWrite: boolean): Promise<void> {
  const now = new Date()
  const status: V1Node['status'] = {
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'l2lb lab node', lastHeartbeatTime: now, lastTransitionTime: now }],
    addresses: [
      { type: 'InternalIP', address: node.ipv4 },
      { type: 'InternalIP', address: node.ipv6 },
      { type: 'Hostname', address: node.name },
    ],
  }
  const body: V1Node = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux' } },
    spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr, node.podCidrV6] },
    status,
  }
  await core.createNode({ body })
  const created = await core.readNode({ name: node.name })
  const ready = created.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True') ?? false
  if (!ready || forceStatusWrite) await core.replaceNodeStatus({ name: node.name, body: { ...created, status } })
}

export function stopTiers(processes: readonly ProcessRecord[]): ProcessRecord[][] {
  const servers = new Set(['apiserver', 'kube-apiserver', 'etcd'])
  return [
    processes.filter(p => !servers.has(p.name)).reverse(),
    processes.filter(p => p.name === 'apiserver' || p.name === 'kube-apiserver'),
    processes.filter(p => p.name === 'etcd'),
  ].filter(tier => tier.length > 0)
}

/**
 * Stops recorded processes (clients, then API server, then etcd) by PID, then any process still inside one of
 * the lab's namespaces (`ip netns pids`; everything the lab starts lives in one), then deletes the namespaces.
 */
async function teardown(repoRoot: string, processes: readonly ProcessRecord[], netns: readonly string[]): Promise<string[]> {
  const problems: string[] = []
  // Only the namespaces given: a Lab instance tears down what it made and never a lab someone else runs.
  const labNetns = new Set(netns)
  // In tiers, each in parallel: the API server's clients first (so speakers can still delete their Leases and
  // nothing waits on a server that is going away), then the API server, then etcd (a kube-apiserver whose etcd
  // is gone does not finish its graceful shutdown).
  for (const tier of stopTiers(processes)) {
    await Promise.all(tier.map(async p => {
      // A PID from an old state file may since belong to someone else: only signal it if it is in a lab netns.
      if (!isAlive(p.pid)) return
      const where = (await runAllowingFailure(['ip', 'netns', 'identify', String(p.pid)])).stdout.trim()
      if (!labNetns.has(where)) return
      await stopProcess(p.pid)
    }))
  }
  for (const ns of labNetns) {
    for (const pid of await netnsPids(ns)) {
      const how = await stopProcess(pid, 1000)
      if (how === 'killed') problems.push(`pid ${pid} in ${ns} had to be killed`)
    }
  }
  // Containers (`--image`): their programs were stopped above by PID; remove what podman still holds.
  problems.push(...await removeContainers(repoRoot, processes.flatMap(p => p.container === undefined ? [] : [p.container])))
  problems.push(...await deleteNetns([...labNetns]))
  return problems
}

export async function startLab(opts: LabOptions): Promise<Lab> {
  const lab = new Lab(opts)
  await lab.up()
  return lab
}

/** `npm run lab -- down`: stop whatever the state dir (and the lab's namespace names) say is running. */
export async function stopLabFromState(repoRoot: string, stateDir: string): Promise<{ stopped: string[]; problems: string[] }> {
  const state = await loadState(stateDir)
  const processes = state?.processes ?? []
  const netns = [...new Set([...(state?.netns ?? []), ...(await runningLabNetns())])]
  const problems = await teardown(repoRoot, processes, netns)
  // Containers the state file does not know (a lab killed before it saved): the lab's by their name prefix.
  const leftover = await labContainers(repoRoot)
  problems.push(...await removeContainers(repoRoot, leftover))
  await rm(stateDir, { recursive: true, force: true })
  return {
    stopped: [...processes.map(p => `${p.name} (pid ${p.pid}${p.container === undefined ? '' : `, container ${p.container}`})`), ...netns.map(n => `netns ${n}`), ...leftover.map(c => `container ${c}`)],
    problems,
  }
}

/** Wait until the Service has an ingress IP of this family; returns it. */
export async function waitForIngressIP(lab: Lab, service: string, family: 'IPv4' | 'IPv6', timeoutMs = 30_000, namespace = 'default'): Promise<string> {
  return waitFor(`an ${family} EXTERNAL-IP on Service ${namespace}/${service}`, async () => {
    lab.checkAlive()
    const out = await lab.kubectl(['get', 'svc', service, '-n', namespace, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}'])
    return out.trim().split(/\s+/).find(ip => ip !== '' && ip.includes(':') === (family === 'IPv6'))
  }, { timeoutMs, intervalMs: 250 })
}

/** Wait until the Service has an EXTERNAL-IP; returns it (the first ingress IP). */
export async function waitForExternalIP(lab: Lab, service: string, timeoutMs = 30_000, namespace = 'default'): Promise<string> {
  return waitFor(`an EXTERNAL-IP on Service ${namespace}/${service}`, async () => {
    lab.checkAlive()
    const out = await lab.kubectl(['get', 'svc', service, '-n', namespace, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}'])
    const ip = out.trim().split(/\s+/)[0]
    return ip === undefined || ip === '' ? undefined : ip
  }, { timeoutMs, intervalMs: 250 })
}

export type { LabNode, LabPod, ProcessRecord }
