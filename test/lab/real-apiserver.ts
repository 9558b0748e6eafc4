// The lab with the real kube-apiserver (and etcd) in place of the stand-in (`npm run lab -- up --apiserver real`).
// The binaries come from KUBEBUILDER_ASSETS (envtest's convention, test/lib/envtest.ts); this file holds what the
// lab adds on top: the identities (one ServiceAccount token per program, as on a cluster), the certificate's
// addresses, the kubeconfigs, and the RBAC the lab's kube-proxy needs. The processes themselves are started by
// lab.ts with the lab's own machinery (recorded PIDs, logs in .lab/logs), inside the l2lb-apiserver netns.
import { dump as dumpYaml } from 'js-yaml'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { envtestAssets, serviceAccountUser, type EnvtestAssets, type TokenUser } from '../lib/envtest.js'
import { APISERVER_HOST, ROOT_LINK } from './names.js'

export type ApiServerKind = 'stand-in' | 'real'

/** The Service CIDRs of both API servers: the stand-in's (test/apiserver/server.ts), so ClusterIPs look alike. */
export const LAB_SERVICE_CIDRS = ['198.18.0.0/16', '2001:db8:0:200::/108'] as const

/**
 * Addresses clients dial and the certificate must name: the LAN address (speakers, controller, kube-proxy), the
 * root link's address (the machine's kubectl, DNATed to the LAN address) and the `kubernetes` Service's
 * ClusterIPs (first of each range). prepareRealApiServer adds loopback, `localhost` and `kubernetes`.
 */
export const APISERVER_SANS = [APISERVER_HOST.ipv4, APISERVER_HOST.ipv6, ROOT_LINK.peerIP, '198.18.0.1', '2001:db8:0:200::1'] as const

/** Who runs as whom on the real server. `admin` (system:masters) is the machine's kubectl and the lab's kube roles. */
export type LabIdentity = 'controller' | 'speaker' | 'kube-proxy'

/** The ServiceAccounts: config/default/rbac.yaml binds `controller` and `speaker` in l2lb-system. */
export const LAB_SERVICE_ACCOUNTS: Readonly<Record<LabIdentity, { readonly namespace: string; readonly name: string }>> = {
  controller: { namespace: 'l2lb-system', name: 'controller' },
  speaker: { namespace: 'l2lb-system', name: 'speaker' },
  'kube-proxy': { namespace: 'kube-system', name: 'kube-proxy' },
}

export function labTokenUsers(): { users: TokenUser[]; tokens: Record<LabIdentity, string> } {
  const tokens = {} as Record<LabIdentity, string>
  const users: TokenUser[] = []
  for (const [id, sa] of Object.entries(LAB_SERVICE_ACCOUNTS) as [LabIdentity, { namespace: string; name: string }][]) {
    const token = `${id}-${randomBytes(12).toString('hex')}`
    tokens[id] = token
    users.push(serviceAccountUser(sa.namespace, sa.name, token))
  }
  return { users, tokens }
}

/**
 * kube-proxy's rights on a cluster: kubeadm binds its ServiceAccount to the bootstrap ClusterRole
 * `system:node-proxier` (list/watch Services, EndpointSlices, Nodes; Events).
 */
export function kubeProxyBindingYaml(): string {
  const sa = LAB_SERVICE_ACCOUNTS['kube-proxy']
  return dumpYaml({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'l2lb-lab:node-proxier' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node-proxier' },
    subjects: [{ kind: 'ServiceAccount', namespace: sa.namespace, name: sa.name }],
  })
}

/** A kubeconfig with a bearer token; `tlsServerName` when the address dialled is not the one to verify. */
export function tokenKubeconfigYaml(server: string, caPem: string, token: string, user: string, tlsServerName?: string): string {
  return dumpYaml({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'l2lb-lab', cluster: {
      server, 'certificate-authority-data': Buffer.from(caPem).toString('base64'),
      ...(tlsServerName === undefined ? {} : { 'tls-server-name': tlsServerName }),
    } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'l2lb-lab', context: { cluster: 'l2lb-lab', user } }],
    'current-context': 'l2lb-lab',
  })
}

/** What to do when `--apiserver real` finds no binaries: what is missing, and where to get them. */
export function realApiServerHowTo(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.KUBEBUILDER_ASSETS
  const missing = dir === undefined || dir === ''
    ? 'KUBEBUILDER_ASSETS is not set'
    : `KUBEBUILDER_ASSETS=${dir} has no ${['kube-apiserver', 'etcd'].filter(b => !existsSync(path.join(dir, b))).join(' and ')}`
  return [
    `--apiserver real needs the real kube-apiserver and etcd, and ${missing}.`,
    'Get them the way controller-runtime\'s envtest does and point KUBEBUILDER_ASSETS at the folder:',
    '  export KUBEBUILDER_ASSETS=$(setup-envtest use 1.32.x -p path)   # kube-apiserver + etcd',
    '  (setup-envtest: go install sigs.k8s.io/controller-runtime/tools/setup-envtest@latest)',
    'or put kube-apiserver v1.32 and an etcd (Debian: apt-get install etcd-server, then link /usr/bin/etcd) into a',
    'folder of your own. Add kube-proxy v1.32 (https://dl.k8s.io/v1.32.6/bin/linux/amd64/kube-proxy) to the same',
    'folder and the lab\'s nodes run the real kube-proxy too. Without --apiserver real the lab uses its stand-in.',
  ].join('\n')
}

/** The assets for `--apiserver real`, or the message saying how to get them. */
export function realApiServerAssets(env: NodeJS.ProcessEnv = process.env): EnvtestAssets | { readonly howTo: string } {
  const a = envtestAssets(env)
  return 'missing' in a ? { howTo: realApiServerHowTo(env) } : a
}
