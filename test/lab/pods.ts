// The lab's pods, played the way kubelet + a bridge CNI would: one netns per pod on a veth into its node's
// pod bridge, an address from the node's pod /24 and one from its pod /64 (dual-stack), and one nginx per pod
// (listening on both families) with its own config, pid file, temp paths and logs under the lab's state directory.
import path from 'node:path'
import { mkdir, writeFile } from 'node:fs/promises'
import { run } from './run.js'
import { POD_BRIDGE } from './topology.js'
import type { LabNode } from './names.js'

export const POD_NAMESPACE = 'default'
export const POD_PORT = 80
export const INGRESS_HOST = 'k8s.com'

export interface LabPod {
  readonly name: string
  readonly netns: string
  readonly node: LabNode
  readonly ip: string
  /** From the node's 2001:db8:1:N::/64, the same host part as `ip`. */
  readonly ipv6: string
  readonly labels: Readonly<Record<string, string>>
  readonly port: number
  /** What the pod serves: the ingress proxy routes by path to the backends; a backend answers `text`. */
  readonly role: { readonly kind: 'ingress' } | { readonly kind: 'backend'; readonly text: string; readonly path: string }
}

/**
 * The three pods, spread over the nodes so the ingress proxy's traffic to its backends crosses the LAN
 * (node1: ingress, node2: api-v1, node3: api-v2 when there are three nodes).
 */
export function labPods(nodes: readonly LabNode[]): LabPod[] {
  const pick = (i: number): LabNode => {
    const node = nodes[i % nodes.length]
    if (node === undefined) throw new Error('the lab needs at least one node')
    return node
  }
  const perNode = new Map<string, number>()
  const hostOn = (node: LabNode): number => {
    const n = perNode.get(node.name) ?? 0
    perNode.set(node.name, n + 1)
    return 10 + n
  }
  const make = (name: string, node: LabNode, labels: Record<string, string>, role: LabPod['role']): LabPod => {
    const host = hostOn(node)
    return { name, netns: `l2lb-pod-${name}`, node, ip: `198.19.${node.index}.${host}`, ipv6: `2001:db8:1:${node.index}::${host}`, labels, port: POD_PORT, role }
  }
  return [
    make('ingress', pick(0), { app: 'ingress' }, { kind: 'ingress' }),
    make('api-v1', pick(1), { app: 'api', version: 'v1' }, { kind: 'backend', text: 'api v1', path: '/api/v1' }),
    make('api-v2', pick(2), { app: 'api', version: 'v2' }, { kind: 'backend', text: 'api v2', path: '/api/v2' }),
  ]
}

export interface NginxPaths {
  readonly conf: string
  readonly pid: string
  readonly errorLog: string
  readonly accessLog: string
  readonly tempDir: string
}

export function nginxPaths(stateDir: string, pod: LabPod): NginxPaths {
  const dir = path.join(stateDir, 'pods', pod.name)
  return {
    conf: path.join(dir, 'nginx.conf'),
    pid: path.join(dir, 'nginx.pid'),
    errorLog: path.join(stateDir, 'logs', `pod-${pod.name}.error.log`),
    accessLog: path.join(stateDir, 'logs', `pod-${pod.name}.access.log`),
    tempDir: path.join(dir, 'tmp'),
  }
}

/** The nginx configuration for one pod; `pods` is every lab pod, so the ingress can find its backends. */
export function renderNginxConf(pod: LabPod, pods: readonly LabPod[], p: NginxPaths): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map(k => `  ${k}_temp_path ${path.join(p.tempDir, k)};`)
    .join('\n')
  let servers: string
  if (pod.role.kind === 'backend') {
    servers = [
      `  server {`,
      `    listen ${pod.port} default_server;`,
      `    listen [::]:${pod.port} default_server;`,
      `    location / { default_type text/plain; return 200 "${pod.role.text}\\n"; }`,
      `  }`,
    ].join('\n')
  } else {
    // Like the seed's Ingress: Host k8s.com, one path prefix per backend; anything else is a 404.
    const locations: string[] = []
    for (const other of pods) {
      if (other.role.kind !== 'backend') continue
      locations.push(`    location ${other.role.path} { proxy_pass http://${other.ip}:${other.port}; proxy_set_header Host $host; }`)
    }
    servers = [
      `  server {`,
      `    listen ${pod.port};`,
      `    listen [::]:${pod.port};`,
      `    server_name ${INGRESS_HOST};`,
      ...locations,
      `    location / { return 404; }`,
      `  }`,
      `  server {`,
      `    listen ${pod.port} default_server;`,
      `    listen [::]:${pod.port} default_server;`,
      `    location / { return 404; }`,
      `  }`,
    ].join('\n')
  }
  return [
    `# l2lb lab pod ${pod.name} (${pod.ip}, ${pod.ipv6} on ${pod.node.name}); generated, do not edit`,
    `daemon off;`,
    `master_process on;`,
    `worker_processes 1;`,
    `user root;`,
    `pid ${p.pid};`,
    `error_log ${p.errorLog} warn;`,
    `events { worker_connections 128; }`,
    `http {`,
    `  access_log ${p.accessLog};`,
    temp,
    servers,
    `}`,
    ``,
  ].join('\n')
}

/** Creates the pod's netns, wires it to its node, and writes its nginx config. Nginx is started elsewhere. */
export async function createPod(pod: LabPod, pods: readonly LabPod[], stateDir: string, created: string[]): Promise<NginxPaths> {
  const veth = `veth-${pod.name}`.slice(0, 15)
  await run(['ip', 'netns', 'add', pod.netns])
  created.push(pod.netns)
  await run(['ip', '-n', pod.netns, 'link', 'set', 'lo', 'up'])
  // No DAD: the address is the pod's by construction (as in topology.ts).
  await run(['ip', 'netns', 'exec', pod.netns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])
  await run(['ip', '-n', pod.node.netns, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns])
  await run(['ip', '-n', pod.node.netns, 'link', 'set', veth, 'master', POD_BRIDGE, 'up'])
  await run(['ip', '-n', pod.netns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0'])
  await run(['ip', '-n', pod.netns, 'addr', 'add', `${pod.ipv6}/64`, 'dev', 'eth0', 'nodad'])
  await run(['ip', '-n', pod.netns, 'link', 'set', 'eth0', 'up'])
  await run(['ip', '-n', pod.netns, 'route', 'add', 'default', 'via', pod.node.podGateway])
  await run(['ip', '-n', pod.netns, '-6', 'route', 'add', 'default', 'via', pod.node.podGatewayV6])

  const p = nginxPaths(stateDir, pod)
  await mkdir(p.tempDir, { recursive: true })
  await mkdir(path.dirname(p.errorLog), { recursive: true })
  await writeFile(p.conf, renderNginxConf(pod, pods, p))
  return p
}

/** The argv that runs a pod's nginx in the foreground inside its netns (`ip netns exec` execs, so the PID is nginx's). */
export function nginxArgv(pod: LabPod, p: NginxPaths): string[] {
  return ['ip', 'netns', 'exec', pod.netns, 'nginx', '-c', p.conf, '-e', p.errorLog, '-p', path.dirname(p.conf)]
}
