// `npm run lab -- --image`: the controller and the speakers run from the image `npm run image` built, started
// with `podman run` exactly as config/default's Deployment and DaemonSet describe them (image, args, env,
// security contexts, memory limit), in the lab's namespaces: what a cluster would run, on this machine.
// The pure part turns a workload manifest into a `podman run` command line and refuses any field it cannot
// carry over, so config/default cannot gain a setting the lab silently ignores; the thin part reads the
// manifests, asks podman, and finds the container's process.
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { load as loadYaml } from 'js-yaml'
import { runAllowingFailure } from './run.js'

export type Workload = 'controller' | 'speaker'

/** Prefix of every container the lab starts; `down` removes leftovers by it (like the l2lb-* namespaces). */
export const CONTAINER_PREFIX = 'l2lb-lab-'
/** Where Kubernetes mounts a Pod's ServiceAccount token, CA and namespace (client-node's in-cluster config reads it). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/** podman through image/podman.sh: the project's containers.conf (runc, no default ulimits), nothing under /etc. */
export function podmanArgv(repoRoot: string, args: readonly string[]): string[] {
  return [path.join(repoRoot, 'image', 'podman.sh'), ...args]
}

/** What of a manifest the lab uses: the Pod template's spec and the image config/default names (kustomization). */
export interface WorkloadManifest {
  readonly workload: Workload
  readonly image: string
  /** spec.template.spec of the Deployment or DaemonSet. */
  readonly podSpec: Record<string, unknown>
}

export interface ContainerPlan {
  readonly manifest: WorkloadManifest
  /** `l2lb-lab-...` */
  readonly name: string
  /** The network namespace (`/run/netns/NAME`): the node's for a hostNetwork Pod, else the lab's Pod network. */
  readonly netnsPath: string
  /** Values for the manifest's `fieldRef`s: metadata.name, metadata.namespace, spec.nodeName. */
  readonly fieldRefs: Readonly<Record<string, string>>
  /** Set on top of the manifest's env (the lab's settings, and KUBERNETES_SERVICE_HOST/PORT as a kubelet sets them). */
  readonly extraEnv: Readonly<Record<string, string>>
  /** Host folder mounted read-only at SERVICE_ACCOUNT_DIR (token, ca.crt, namespace). */
  readonly serviceAccountDir: string
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function field(o: unknown, ...keys: (string | number)[]): unknown {
  return keys.reduce<unknown>((v, k) => (isRecord(v) || Array.isArray(v) ? Reflect.get(v, k) : undefined), o)
}

/** The one container of the Pod template; the lab runs single-container Pods only. */
function theContainer(m: WorkloadManifest): Record<string, unknown> {
  const containers = m.podSpec.containers
  if (!Array.isArray(containers) || containers.length !== 1 || !isRecord(containers[0])) {
    throw new Error(`config/default/${m.workload}.yaml: the lab runs Pods with exactly one container`)
  }
  return containers[0]
}

/** Kubernetes memory quantity (`256Mi`, `1Gi`, `300M`, bytes) to a podman `--memory` value in bytes. */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity)
  if (m === null) throw new Error(`memory quantity ${JSON.stringify(quantity)}: want a whole number with Ki, Mi, Gi, K, M or G`)
  const unit: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }
  return Number(m[1]) * (unit[m[2] ?? ''] ?? 1)
}

/**
 * The securityContext of Pod and container (the container's fields win) as podman flags. Every field
 * config/default may set is either carried over or refused: a privileged container, or a seccomp or
 * capability setting without a podman equivalent, stops the lab rather than run with something else.
 */
export function securityFlags(m: WorkloadManifest): string[] {
  const where = `config/default/${m.workload}.yaml`
  const pod = isRecord(m.podSpec.securityContext) ? m.podSpec.securityContext : {}
  const container = theContainer(m)
  const own = isRecord(container.securityContext) ? container.securityContext : {}
  const known = new Set(['runAsUser', 'runAsGroup', 'runAsNonRoot', 'seccompProfile', 'allowPrivilegeEscalation', 'readOnlyRootFilesystem', 'capabilities', 'privileged'])
  for (const k of [...Object.keys(pod), ...Object.keys(own)]) {
    if (!known.has(k)) throw new Error(`${where}: securityContext.${k} has no podman equivalent in the lab (test/lab/image.ts)`)
  }
  const pick = (k: string): unknown => own[k] ?? pod[k]
  const flags: string[] = []
  if (pick('privileged') === true) throw new Error(`${where}: the lab does not run privileged containers`)
  const user = pick('runAsUser')
  const group = pick('runAsGroup')
  if (user !== undefined) {
    if (typeof user !== 'number') throw new Error(`${where}: runAsUser must be a number`)
    flags.push('--user', group === undefined ? String(user) : `${user}:${String(group)}`)
  }
  // Kubernetes refuses to start a runAsNonRoot container as root (without runAsUser it checks the image's USER,
  // which the lab does not: it wants the user spelled out).
  if (pick('runAsNonRoot') === true && (user === 0 || user === undefined)) throw new Error(`${where}: runAsNonRoot wants a runAsUser other than 0 in the lab`)
  const seccomp = field(pick('seccompProfile'), 'type')
  // RuntimeDefault is the runtime's default profile: podman applies its own unless told otherwise.
  if (seccomp === 'Unconfined') flags.push('--security-opt', 'seccomp=unconfined')
  else if (seccomp !== undefined && seccomp !== 'RuntimeDefault') throw new Error(`${where}: seccompProfile ${String(seccomp)} is not supported by the lab`)
  if (pick('allowPrivilegeEscalation') === false) flags.push('--security-opt', 'no-new-privileges')
  // readOnlyRootFilesystem: no writable /tmp or /run either (podman's --read-only adds tmpfs there; Kubernetes does not).
  if (pick('readOnlyRootFilesystem') === true) flags.push('--read-only', '--read-only-tmpfs=false')
  const caps = pick('capabilities')
  const drop = field(caps, 'drop')
  const add = field(caps, 'add')
  for (const c of Array.isArray(drop) ? drop : []) flags.push('--cap-drop', String(c))
  for (const c of Array.isArray(add) ? add : []) flags.push('--cap-add', String(c))
  return flags
}

/** The container's env: the manifest's `value`s and `fieldRef`s; optional Secret keys are left out (unset). */
export function manifestEnv(m: WorkloadManifest, fieldRefs: Readonly<Record<string, string>>): Record<string, string> {
  const where = `config/default/${m.workload}.yaml`
  const env: Record<string, string> = {}
  const entries = theContainer(m).env
  for (const e of Array.isArray(entries) ? entries : []) {
    const name = field(e, 'name')
    if (typeof name !== 'string') throw new Error(`${where}: an env entry without a name`)
    const value = field(e, 'value')
    if (typeof value === 'string') { env[name] = value; continue }
    const fieldPath = field(e, 'valueFrom', 'fieldRef', 'fieldPath')
    if (typeof fieldPath === 'string') {
      const v = fieldRefs[fieldPath]
      if (v === undefined) throw new Error(`${where}: env ${name} refers to ${fieldPath}, which the lab does not provide`)
      env[name] = v
      continue
    }
    if (field(e, 'valueFrom', 'secretKeyRef', 'optional') === true) continue
    throw new Error(`${where}: env ${name}: only value, fieldRef and optional secretKeyRef are supported by the lab`)
  }
  return env
}

/**
 * The container's args: node's flags and the program (the image's entrypoint is node). The lab runs the same
 * args on the machine's node when it does not run the image (lab.ts), so both ways run what ships.
 */
export function containerArgs(m: WorkloadManifest): string[] {
  const container = theContainer(m)
  const args = field(container, 'args')
  if (!Array.isArray(args) || !args.every(a => typeof a === 'string')) throw new Error(`config/default/${m.workload}.yaml: no container args`)
  if (field(container, 'command') !== undefined) throw new Error(`config/default/${m.workload}.yaml: command is not supported by the lab (the image's entrypoint is node)`)
  return args.map(String)
}

/** `podman run` for one workload: foreground (the lab's log gets its output), removed when it exits. */
export function podmanRunArgs(plan: ContainerPlan): string[] {
  const m = plan.manifest
  const container = theContainer(m)
  const args = containerArgs(m)
  const limit = field(container, 'resources', 'limits', 'memory')
  const env = { ...manifestEnv(m, plan.fieldRefs), ...plan.extraEnv }
  return [
    'run', '--rm', '--replace', '--name', plan.name, '--pull', 'never',
    // Raising RLIMIT_NOFILE/NPROC is refused on this kind of machine: keep the caller's (image/containers.conf).
    '--ulimit', 'host',
    '--network', `ns:${plan.netnsPath}`,
    ...securityFlags(m),
    ...(typeof limit === 'string' ? ['--memory', String(memoryBytes(limit))] : []),
    '--volume', `${plan.serviceAccountDir}:${SERVICE_ACCOUNT_DIR}:ro`,
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    m.image,
    ...args,
  ]
}

/** Reads config/default/<workload>.yaml and the image name and tag from config/default/kustomization.yaml. */
export function readWorkloadManifest(repoRoot: string, workload: Workload): WorkloadManifest {
  const dir = path.join(repoRoot, 'config', 'default')
  const doc: unknown = loadYaml(readFileSync(path.join(dir, `${workload}.yaml`), 'utf8'))
  const podSpec = field(doc, 'spec', 'template', 'spec')
  if (!isRecord(podSpec)) throw new Error(`config/default/${workload}.yaml: no spec.template.spec`)
  const kustomization: unknown = loadYaml(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))
  const name = field(theContainer({ workload, image: '', podSpec }), 'image')
  const images = field(kustomization, 'images')
  const entry = Array.isArray(images) ? images.find(i => field(i, 'name') === name) : undefined
  const tag = field(entry, 'newTag')
  const newName = field(entry, 'newName')
  if (typeof name !== 'string') throw new Error(`config/default/${workload}.yaml: no image`)
  const image = `${typeof newName === 'string' ? newName : name}:${typeof tag === 'string' ? tag : 'latest'}`
  // podman keeps locally built images under localhost/.
  return { workload, image: image.includes('/') ? image : `localhost/${image}`, podSpec }
}

/** Why the lab cannot run the image here (podman or runc missing, image not built), or null. */
export async function imageProblem(repoRoot: string, image: string): Promise<string | null> {
  for (const tool of ['podman', 'runc']) {
    const res = await runAllowingFailure(['sh', '-c', `command -v ${tool} || test -x /usr/sbin/${tool}`])
    if (res.code !== 0) return `\`${tool}\` is not installed: apt-get install podman runc mmdebstrap (README, "The image")`
  }
  const exists = await runAllowingFailure(podmanArgv(repoRoot, ['image', 'exists', image]), { timeoutMs: 30_000 })
  if (exists.code !== 0) return `the image ${image} is not built: run \`npm run image\` (README, "The image")`
  return null
}

/** The host PID of a running container's first process, or null while it has none. */
export async function containerPid(repoRoot: string, name: string): Promise<number | null> {
  const res = await runAllowingFailure(podmanArgv(repoRoot, ['inspect', '--format', '{{.State.Pid}}', name]), { timeoutMs: 15_000 })
  const pid = Number(res.stdout.trim())
  return res.code === 0 && Number.isInteger(pid) && pid > 0 ? pid : null
}

/** Removes containers by name (stopped ones too); names that do not exist are fine. */
export async function removeContainers(repoRoot: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return []
  const res = await runAllowingFailure(podmanArgv(repoRoot, ['rm', '--force', '--ignore', '--time', '2', ...names]), { timeoutMs: 60_000 })
  return res.code === 0 ? [] : [`podman rm ${names.join(' ')}: ${res.stderr.trim()}`]
}

/** The lab's containers that exist (running or not), by CONTAINER_PREFIX; empty when podman is absent. */
export async function labContainers(repoRoot: string): Promise<string[]> {
  const has = await runAllowingFailure(['sh', '-c', 'command -v podman'])
  if (has.code !== 0) return []
  const res = await runAllowingFailure(podmanArgv(repoRoot, ['ps', '--all', '--format', '{{.Names}}', '--filter', `name=^${CONTAINER_PREFIX}`]), { timeoutMs: 30_000 })
  return res.stdout.split('\n').map(s => s.trim()).filter(s => s.startsWith(CONTAINER_PREFIX))
}

/** Linux capability numbers (include/uapi/linux/capability.h), for reading CapEff. */
const CAPABILITIES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot',
  'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease',
  'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read',
  'perfmon', 'bpf', 'checkpoint_restore',
]

/** `CapEff: 0000000000002000` as names (`cap_net_raw`); unknown bits as `cap_<n>`. */
export function capabilityNames(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask}`)
  const names: string[] = []
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(`cap_${CAPABILITIES[bit] ?? String(bit)}`)
  }
  return names
}

/** What the lab checks of a program running in a container, read from the host's /proc. */
export interface ProcessFacts {
  /** Effective uid. */
  readonly uid: number
  /** Effective capabilities by name. */
  readonly capabilities: string[]
  /** Its root filesystem is mounted read-only. */
  readonly readOnlyRoot: boolean
  /** Resident memory now and at its peak (VmRSS, VmHWM), MiB. */
  readonly rssMiB: number
  readonly peakMiB: number
}

/** Parses /proc/PID/status and /proc/PID/mountinfo. */
export function parseProcessFacts(status: string, mountinfo: string): ProcessFacts {
  const line = (key: string): string => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? ''
  const kib = (key: string): number => Number(/^(\d+)/.exec(line(key))?.[1] ?? NaN)
  // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ..."; the process's own root is the entry mounted at "/".
  const root = mountinfo.split('\n').map(l => l.split(' ')).filter(f => f[4] === '/').at(-1)
  return {
    uid: Number(line('Uid').split(/\s+/)[1]),
    capabilities: capabilityNames(line('CapEff') || '0'),
    readOnlyRoot: (root?.[5] ?? '').split(',').includes('ro'),
    rssMiB: Math.round(kib('VmRSS') / 102.4) / 10,
    peakMiB: Math.round(kib('VmHWM') / 102.4) / 10,
  }
}

export async function processFacts(pid: number): Promise<ProcessFacts> {
  return parseProcessFacts(await readFile(`/proc/${pid}/status`, 'utf8'), await readFile(`/proc/${pid}/mountinfo`, 'utf8'))
}
