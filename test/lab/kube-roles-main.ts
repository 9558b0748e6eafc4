// The lab's endpoints controller + kube-proxy as a process of its own, so `npm run lab -- up` can leave it
// running. Usage: node --import tsx test/lab/kube-roles-main.ts --nodes 3 (KUBECONFIG from the environment).
import { parseArgs } from 'node:util'
import { KubeConfig } from '@kubernetes/client-node'
import { pino } from 'pino'
import { KubeRoles } from './kube-roles.js'
import { labNodes } from './names.js'
import { labPods } from './pods.js'

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3' } } })
const log = pino({ name: 'lab-kube-roles' })
const kubeconfigPath = process.env.KUBECONFIG
if (kubeconfigPath === undefined || kubeconfigPath === '') {
  log.fatal('KUBECONFIG must name the lab kubeconfig')
  process.exit(2)
}
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(kubeconfigPath)
const nodes = labNodes(Number(values.nodes))
const roles = new KubeRoles({ kubeConfig, nodes, pods: labPods(nodes), log })

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
log.info({ nodes: nodes.map(n => n.name) }, 'endpoints controller and kube-proxy roles running')
