// The lab's pure parts: names and addresses, nginx configs, the endpoints controller's slices, kube-proxy's
// nftables script, and the pool check the walk uses. The netns side is covered by test/e2e/lab.test.ts.
import t from 'tap'
import type { V1Service, V1EndpointSlice } from '@kubernetes/client-node'
import { labNodes } from './names.js'
import { isLabNetns } from './topology.js'
import { labPods, renderNginxConf, nginxPaths } from './pods.js'
import { desiredEndpointSlice, desiredEndpointSlices, dnatRules, renderNft, sameSlice, selectorMatches, serviceFamilies, SERVICE_NAME_LABEL } from './kube-roles.js'
import { ipInPoolEntry } from './flow.js'
import { load as loadYaml } from 'js-yaml'
import {
  APISERVER_SANS, LAB_SERVICE_CIDRS, kubeProxyBindingYaml, labTokenUsers, realApiServerAssets, tokenKubeconfigYaml,
} from './real-apiserver.js'
import { chooseKubeProxy, kubeProxyArgv, kubeProxyConfigYaml } from './kube-proxy.js'
import { stopTiers, type ProcessRecord } from './lab.js'
import {
  SERVICE_ACCOUNT_DIR, capabilityNames, manifestEnv, memoryBytes, parseProcessFacts, podmanRunArgs, readWorkloadManifest, securityFlags,
  type WorkloadManifest,
} from './image.js'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const nodes = labNodes(3)
const pods = labPods(nodes)

function lbService(name: string, selector: Record<string, string> | undefined, ips: string[], targetPort: number | string = 80, ipFamilies?: string[]): V1Service {
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      type: 'LoadBalancer', ...(selector === undefined ? {} : { selector }), ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort }],
      ...(ipFamilies === undefined ? {} : { ipFamilies }),
    },
    status: { loadBalancer: { ingress: ips.map(ip => ({ ip })) } },
  }
}

t.test('names and addresses follow docs/reference.md "Lab address plan"', async t => {
  t.same(nodes.map(n => [n.name, n.ipv4, n.ipv6, n.podCidr, n.podCidrV6, n.podGatewayV6]), [
    ['l2lb-node1', '192.0.2.11', '2001:db8:0:1::11', '198.19.1.0/24', '2001:db8:1:1::/64', '2001:db8:1:1::1'],
    ['l2lb-node2', '192.0.2.12', '2001:db8:0:1::12', '198.19.2.0/24', '2001:db8:1:2::/64', '2001:db8:1:2::1'],
    ['l2lb-node3', '192.0.2.13', '2001:db8:0:1::13', '198.19.3.0/24', '2001:db8:1:3::/64', '2001:db8:1:3::1'],
  ])
  t.equal(nodes[0]?.mac, '02:00:c0:00:02:0b', 'MAC spells the IPv4 address')
  t.throws(() => labNodes(0))
  t.ok(isLabNetns('l2lb-node2') && isLabNetns('l2lb-pod-api-v1') && isLabNetns('l2lb-lan'))
  t.notOk(isLabNetns('l2lb-tsmoke'), "someone else's l2lb-* namespace is not the lab's to delete")
})

t.test('pods spread over the nodes with addresses from their node\'s /24', async t => {
  t.same(pods.map(p => [p.name, p.node.name, p.ip, p.ipv6]), [
    ['ingress', 'l2lb-node1', '198.19.1.10', '2001:db8:1:1::10'],
    ['api-v1', 'l2lb-node2', '198.19.2.10', '2001:db8:1:2::10'],
    ['api-v2', 'l2lb-node3', '198.19.3.10', '2001:db8:1:3::10'],
  ])
  const one = labPods(labNodes(1))
  t.same(one.map(p => p.ip), ['198.19.1.10', '198.19.1.11', '198.19.1.12'], 'one node: distinct IPs')
  t.same(one.map(p => p.ipv6), ['2001:db8:1:1::10', '2001:db8:1:1::11', '2001:db8:1:1::12'], 'and distinct IPv6 addresses')
})

t.test('nginx configs', async t => {
  const [ingress, v1] = pods
  if (ingress === undefined || v1 === undefined) throw new Error('pods missing')
  const conf = renderNginxConf(ingress, pods, nginxPaths('/state', ingress))
  t.match(conf, /daemon off;/)
  t.match(conf, /pid \/state\/pods\/ingress\/nginx\.pid;/)
  t.match(conf, /server_name k8s\.com;/)
  t.match(conf, /location \/api\/v1 \{ proxy_pass http:\/\/198\.19\.2\.10:80;/)
  t.match(conf, /location \/api\/v2 \{ proxy_pass http:\/\/198\.19\.3\.10:80;/)
  t.match(conf, /listen 80;\n    listen \[::\]:80;\n    server_name k8s\.com;/, 'the ingress listens on IPv4 and IPv6')
  const backend = renderNginxConf(v1, pods, nginxPaths('/state', v1))
  t.match(backend, /return 200 "api v1\\n";/)
  t.match(backend, /listen \[::\]:80 default_server;/, 'backends listen on IPv6 too')
})

t.test('endpoints controller: a slice for Services whose selector matches lab pods', async t => {
  t.ok(selectorMatches({ app: 'ingress' }, { app: 'ingress' }))
  t.notOk(selectorMatches({}, { app: 'ingress' }), 'empty selector selects nothing')
  t.notOk(selectorMatches(undefined, { app: 'ingress' }))
  const slice = desiredEndpointSlice(lbService('ingress', { app: 'ingress' }, []), pods)
  t.match(slice, {
    metadata: { name: 'ingress-lab', namespace: 'default', labels: { [SERVICE_NAME_LABEL]: 'ingress' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['198.19.1.10'], nodeName: 'l2lb-node1', conditions: { ready: true } }],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  })
  const api = desiredEndpointSlice(lbService('api', { app: 'api' }, [], 'http'), pods)
  t.equal(api?.endpoints.length, 2, 'both api pods')
  t.equal(api?.ports?.[0]?.port, 80, 'named targetPort resolves to the pod port')
  t.equal(desiredEndpointSlice(lbService('none', { app: 'nope' }, []), pods), null)
  t.equal(desiredEndpointSlice(lbService('manual', undefined, []), pods), null)
  if (slice !== null) {
    const labels = Object.fromEntries(Object.entries(slice.metadata?.labels ?? {}).reverse())
    t.ok(sameSlice(slice, { ...slice, metadata: { ...slice.metadata, labels, resourceVersion: '7' } }), 'server fields and label order ignored')
  }
})

t.test('endpoints controller: one slice per IP family of the Service', async t => {
  t.same(serviceFamilies(lbService('a', {}, [])), ['IPv4'], 'nothing said: IPv4')
  t.same(serviceFamilies(lbService('a', {}, [], 80, ['IPv6', 'IPv4'])), ['IPv6', 'IPv4'])
  t.same(serviceFamilies({ spec: { clusterIPs: ['2001:db8:0:200::5'] } }), ['IPv6'], 'else the ClusterIPs\' families')
  const dual = desiredEndpointSlices(lbService('ingress-dual', { app: 'ingress' }, [], 80, ['IPv4', 'IPv6']), pods)
  t.match(dual, [
    { metadata: { name: 'ingress-dual-lab' }, addressType: 'IPv4', endpoints: [{ addresses: ['198.19.1.10'] }] },
    { metadata: { name: 'ingress-dual-lab-v6', labels: { [SERVICE_NAME_LABEL]: 'ingress-dual' } }, addressType: 'IPv6', endpoints: [{ addresses: ['2001:db8:1:1::10'], nodeName: 'l2lb-node1' }] },
  ])
  t.equal(dual.length, 2)
  t.same(desiredEndpointSlices(lbService('v6', { app: 'api' }, [], 80, ['IPv6']), pods).map(s => [s.metadata?.name, s.addressType, s.endpoints.map(e => e.addresses[0])]),
    [['v6-lab-v6', 'IPv6', ['2001:db8:1:2::10', '2001:db8:1:3::10']]], 'IPv6 single-stack: the IPv6 slice only')
})

t.test('kube-proxy: DNAT from ingress IP:port to ready endpoints, masquerade when leaving via the LAN', async t => {
  const svc = lbService('ingress', { app: 'ingress' }, ['192.0.2.240', '2001:db8:0:1::f0'])
  const slice = desiredEndpointSlice(svc, pods)
  if (slice === null) throw new Error('no slice')
  const rules = dnatRules([svc], [slice])
  t.same(rules, [{ family: 'IPv4', ip: '192.0.2.240', protocol: 'tcp', port: 80, targets: [{ ip: '198.19.1.10', port: 80 }] }], 'IPv6 ingress skipped: no IPv6 slice')
  const script = renderNft(rules)
  t.match(script, /^table inet l2lb-kube-proxy\ndelete table inet l2lb-kube-proxy\n/, 'replaced atomically')
  t.match(script, /ip daddr 192\.0\.2\.240 tcp dport 80 dnat ip to 198\.19\.1\.10:80/)
  t.match(script, /ct status dnat oifname "eth0" masquerade/)

  const dualSvc = lbService('ingress-dual', { app: 'ingress' }, ['192.0.2.241', '2001:db8:0:1::f0'], 80, ['IPv4', 'IPv6'])
  const dualRules = dnatRules([dualSvc], desiredEndpointSlices(dualSvc, pods))
  t.same(dualRules.map(r => [r.family, r.ip, r.targets.map(x => x.ip)]), [
    ['IPv4', '192.0.2.241', ['198.19.1.10']], ['IPv6', '2001:db8:0:1::f0', ['2001:db8:1:1::10']],
  ], 'each ingress IP to the endpoints of its own family')
  t.match(renderNft(dualRules), /ip6 daddr 2001:db8:0:1::f0 tcp dport 80 dnat ip6 to \[2001:db8:1:1::10\]:80/)

  const notReady: V1EndpointSlice = { ...slice, endpoints: slice.endpoints.map(e => ({ ...e, conditions: { ready: false } })) }
  t.same(dnatRules([svc], [notReady]), [], 'no ready endpoint, no rule')
  t.same(dnatRules([lbService('ingress', { app: 'ingress' }, [])], [slice]), [], 'no ingress IP yet, no rule')
  const two = renderNft([{ family: 'IPv4', ip: '192.0.2.241', protocol: 'tcp', port: 80, targets: [{ ip: '198.19.2.10', port: 80 }, { ip: '198.19.3.10', port: 80 }] }])
  t.match(two, /numgen random mod 2 vmap \{ 0 : goto svc0-ep0, 1 : goto svc0-ep1 \}/)
  t.match(two, /meta l4proto tcp dnat ip to 198\.19\.3\.10:80/)
  const twoV6 = renderNft([{ family: 'IPv6', ip: '2001:db8:0:1::f1', protocol: 'tcp', port: 80, targets: [{ ip: '2001:db8:1:2::10', port: 80 }, { ip: '2001:db8:1:3::10', port: 80 }] }])
  t.match(twoV6, /ip6 daddr 2001:db8:0:1::f1 tcp dport 80 numgen random mod 2 vmap/)
  t.match(twoV6, /meta l4proto tcp dnat ip6 to \[2001:db8:1:3::10\]:80/)
})

t.test('pool membership', async t => {
  t.ok(ipInPoolEntry('192.0.2.240', '192.0.2.240-192.0.2.250'))
  t.ok(ipInPoolEntry('192.0.2.250', '192.0.2.240 - 192.0.2.250'))
  t.notOk(ipInPoolEntry('192.0.2.251', '192.0.2.240-192.0.2.250'))
  t.ok(ipInPoolEntry('2001:db8:0:1::ff', '2001:db8:0:1::f0/124'))
  t.notOk(ipInPoolEntry('2001:db8:0:1::100', '2001:db8:0:1::f0/124'))
  t.notOk(ipInPoolEntry('192.0.2.240', '2001:db8:0:1::f0/124'))
})

t.test('real API server: identities, certificate addresses, kubeconfigs, the how-to without binaries', async t => {
  const { users, tokens } = labTokenUsers()
  t.same(users.map(u => u.name), [
    'system:serviceaccount:l2lb-system:controller', 'system:serviceaccount:l2lb-system:speaker', 'system:serviceaccount:kube-system:kube-proxy',
  ], 'the ServiceAccounts config/default binds, and kube-proxy\'s')
  t.same(users.map(u => u.token), [tokens.controller, tokens.speaker, tokens['kube-proxy']])
  t.equal(new Set(Object.values(tokens)).size, 3, 'one token each')
  t.ok(users.every(u => u.groups.includes('system:serviceaccounts') && u.groups.includes('system:authenticated')))
  t.ok(APISERVER_SANS.includes('192.0.2.1') && APISERVER_SANS.includes('198.19.255.2'), 'LAN and root-link addresses in the certificate')
  t.same([...LAB_SERVICE_CIDRS], ['198.18.0.0/16', '2001:db8:0:200::/108'], 'dual-stack, the stand-in\'s ranges')

  const kc: unknown = loadYaml(tokenKubeconfigYaml('https://198.19.255.2:6443', 'PEM', 'tok', 'admin', 'kubernetes'))
  t.match(kc, {
    clusters: [{ cluster: { server: 'https://198.19.255.2:6443', 'certificate-authority-data': Buffer.from('PEM').toString('base64'), 'tls-server-name': 'kubernetes' } }],
    users: [{ name: 'admin', user: { token: 'tok' } }], 'current-context': 'l2lb-lab',
  })
  t.match(loadYaml(kubeProxyBindingYaml()), {
    kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole', name: 'system:node-proxier' },
    subjects: [{ kind: 'ServiceAccount', namespace: 'kube-system', name: 'kube-proxy' }],
  })

  const none = realApiServerAssets({})
  t.ok('howTo' in none && /KUBEBUILDER_ASSETS/.test(none.howTo) && /setup-envtest/.test(none.howTo), 'no KUBEBUILDER_ASSETS: says how to get the binaries')
  const empty = realApiServerAssets({ KUBEBUILDER_ASSETS: '/nonexistent-l2lb' })
  t.ok('howTo' in none && /KUBEBUILDER_ASSETS is not set/.test(none.howTo), 'and that the variable is not set')
  t.ok('howTo' in empty && /KUBEBUILDER_ASSETS=\/nonexistent-l2lb has no kube-apiserver and etcd/.test(empty.howTo), 'a folder without the binaries: says which are missing')
})

t.test('real kube-proxy: configuration per node, and when the nodes run it', async t => {
  const node = nodes[1]
  if (node === undefined) throw new Error('no node')
  const conf: unknown = loadYaml(kubeProxyConfigYaml(node, '/state/kubeconfig-kube-proxy'))
  t.match(conf, {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: '/state/kubeconfig-kube-proxy' },
    hostnameOverride: 'l2lb-node2', mode: 'nftables', nodePortAddresses: ['primary'], oomScoreAdj: 0,
    conntrack: { maxPerCore: 0 }, healthzBindAddress: '192.0.2.12:10256',
  })
  t.match(conf, { clusterCIDR: '198.19.0.0/16,2001:db8:1::/48' }, 'the pods\' networks (both families) are the cluster CIDR')
  t.same(kubeProxyArgv('/kb/kube-proxy', '/state/kube-proxy/l2lb-node2.yaml'), ['/kb/kube-proxy', '--config=/state/kube-proxy/l2lb-node2.yaml'])

  const withProxy = { dir: '/kb', kubeApiServer: '/kb/kube-apiserver', etcd: '/kb/etcd', kubeProxy: '/kb/kube-proxy' }
  const without = { ...withProxy, kubeProxy: undefined }
  t.same(chooseKubeProxy('auto', withProxy), { kind: 'real', binary: '/kb/kube-proxy' }, 'auto: the real one when the assets have it')
  t.same(chooseKubeProxy('auto', without), { kind: 'stand-in' }, 'auto: the stand-in role without it')
  t.same(chooseKubeProxy('auto', undefined), { kind: 'stand-in' }, 'auto: the stand-in role without assets')
  t.same(chooseKubeProxy('stand-in', withProxy), { kind: 'stand-in' }, 'the stand-in role when asked for')
  t.throws(() => chooseKubeProxy('real', without), /no folder with kube-proxy/, 'real without a binary says where to get it')
})

t.test('teardown order: the API server\'s clients, then the API server, then etcd', async t => {
  const rec = (name: string, pid: number): ProcessRecord => ({ name, pid, log: `/l/${name}.log`, argv: [] })
  const started = [rec('pod-ingress', 1), rec('etcd', 2), rec('kube-apiserver', 3), rec('controller', 4), rec('speaker-l2lb-node1', 5), rec('kube-proxy-l2lb-node1', 6)]
  t.same(stopTiers(started).map(tier => tier.map(p => p.name)), [
    ['kube-proxy-l2lb-node1', 'speaker-l2lb-node1', 'controller', 'pod-ingress'], ['kube-apiserver'], ['etcd'],
  ])
  t.same(stopTiers([rec('apiserver', 1), rec('controller', 2)]).map(tier => tier.map(p => p.name)), [['controller'], ['apiserver']], 'the stand-in: no etcd tier')
})

t.test('--image: config/default\'s workloads as podman run command lines', async t => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
  const speaker = readWorkloadManifest(root, 'speaker')
  const controller = readWorkloadManifest(root, 'controller')
  t.match(speaker.image, /^localhost\/l2lb:\d+\.\d+\.\d+$/, 'the image and tag config/default/kustomization.yaml names, in podman\'s local store')
  const plan = {
    manifest: speaker, name: 'l2lb-lab-speaker-l2lb-node1', netnsPath: '/run/netns/l2lb-node1',
    fieldRefs: { 'metadata.name': 'speaker-l2lb-node1', 'metadata.namespace': 'l2lb-system', 'spec.nodeName': 'l2lb-node1' },
    extraEnv: { L2LB_INTERFACES: 'eth0' }, serviceAccountDir: '/state/serviceaccount/speaker',
  }
  const argv = podmanRunArgs(plan)
  const joined = argv.join(' ')
  t.match(joined, /--network ns:\/run\/netns\/l2lb-node1/, 'hostNetwork: the node\'s namespace')
  t.match(joined, /--user 0 /, 'root ...')
  t.match(joined, /--cap-drop ALL --cap-add NET_RAW/, '... with every capability dropped but NET_RAW')
  t.match(joined, /--security-opt no-new-privileges/, 'allowPrivilegeEscalation: false')
  t.match(joined, /--read-only --read-only-tmpfs=false/, 'readOnlyRootFilesystem, with no writable tmpfs added')
  t.match(joined, /--ulimit host/)
  t.match(joined, /--memory \d+/, 'the memory limit')
  t.match(joined, `--volume /state/serviceaccount/speaker:${SERVICE_ACCOUNT_DIR}:ro`, 'the ServiceAccount mounted read-only')
  t.match(joined, /--env NODE_NAME=l2lb-node1 --env L2LB_NAMESPACE=l2lb-system --env L2LB_INTERFACES=eth0/, 'env from fieldRefs, then the lab\'s')
  t.notMatch(joined, /L2LB_HEARTBEAT_KEYS/, 'an optional Secret key that does not exist is left unset')
  t.same(argv.slice(argv.indexOf(speaker.image)), [speaker.image, '--max-semi-space-size=1', 'dist/speaker/main.js'], 'the image, then the manifest\'s args')
  const c = podmanRunArgs({ ...plan, manifest: controller, name: 'l2lb-lab-controller', netnsPath: '/run/netns/l2lb-apiserver' }).join(' ')
  t.match(c, /--user 65534 /, 'the controller runs as 65534')
  t.match(c, /--cap-drop ALL (?!--cap-add)/, 'with no capability at all')
  t.notMatch(c, /--cap-add/)

  const withField = (sc: Record<string, unknown>): WorkloadManifest => ({ ...controller, podSpec: { ...controller.podSpec, securityContext: sc } })
  t.throws(() => securityFlags(withField({ fsGroup: 2000 })), /securityContext\.fsGroup has no podman equivalent/, 'a field the lab cannot carry over stops it')
  t.throws(() => securityFlags(withField({ runAsNonRoot: true, runAsUser: 0 })), /runAsNonRoot/)
  t.throws(() => securityFlags(withField({ seccompProfile: { type: 'Localhost' } })), /seccompProfile Localhost/)
  t.throws(() => manifestEnv(controller, {}), /refers to metadata\.name, which the lab does not provide/)
  t.equal(memoryBytes('256Mi'), 256 * 1024 * 1024)
  t.equal(memoryBytes('1G'), 1e9)
  t.throws(() => memoryBytes('1.5Gi'), /whole number/)
})

t.test('--image: a container process\'s facts from /proc', async t => {
  t.same(capabilityNames('0000000000002000'), ['cap_net_raw'])
  t.same(capabilityNames('0000000000000000'), [])
  t.same(capabilityNames('0000000000003001'), ['cap_chown', 'cap_net_admin', 'cap_net_raw'])
  const status = 'Name:\tnode\nUid:\t0\t0\t0\t0\nVmHWM:\t  81920 kB\nVmRSS:\t  71680 kB\nCapEff:\t0000000000002000\n'
  const mountinfo = '1 0 0:1 / / rw shared:1 - overlay overlay rw\n600 500 0:52 / / ro,relatime - overlay overlay rw,lowerdir=x\n601 600 0:53 / /proc rw - proc proc rw\n'
  t.same(parseProcessFacts(status, mountinfo), { uid: 0, capabilities: ['cap_net_raw'], readOnlyRoot: true, rssMiB: 70, peakMiB: 80 },
    'the last mount at / is the process\'s root')
  t.equal(parseProcessFacts(status, '600 500 0:52 / / rw,relatime - overlay overlay rw\n').readOnlyRoot, false)
})
