// The lab's endpoints controller + kube-proxy as a process of its own, so `npm run lab -- up` can leave it
// running. Usage: node --import tsx test/lab/kube-roles-main.ts --nodes 3 [--kube-proxy off] (KUBECONFIG from the
// environment). `--kube-proxy off`: the endpoints controller only, when the nodes run the real kube-proxy.
import { parseArgs } from 'node:util'
import { KubeConfig } from '@kubernetes/client-node'
import { pino } from 'pino'
import { KubeRoles } from './kube-roles.js'
import { labNodes } from './names.js'
import { labPods } from './pods.js'

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3' }, 'kube-proxy': { type: 'string', default: 'on' } } })
if (values['kube-proxy'] !== 'on' && values['kube-proxy'] !== 'off') throw new Error(`--kube-proxy on|off, not ${values['kube-proxy']}`)
const proxy = values['kube-proxy'] === 'on'
const log = pino({ name: 'lab-kube-roles' })
const kubeconfigPath = process.env.KUBECONFIG
if (kubeconfigPath === undefined || kubeconfigPath === '') {
  log.fatal('KUBECONFIG must name the lab kubeconfig')
  process.exit(2)
}
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(kubeconfigPath)
const nodes = labNodes(Number(values.nodes))
const roles = new KubeRoles({ kubeConfig, nodes, pods: labPods(nodes), log, proxy })

let stopping = false
const stop = (signal: string): void => {
  if (stopping) return
  stopping = true
  log.info({ signal }, 'stopping')
  // Bounded: a wedged watch must not keep the lab's teardown waiting.
  setTimeout(() => process.exit(0), 2000).unref()
  void roles.stop().then(() => process.exit(0))
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))

await roles.start()
log.info({ nodes: nodes.map(n => n.name) }, proxy ? 'endpoints controller and kube-proxy roles running' : 'endpoints controller role running (the nodes run the real kube-proxy)')
