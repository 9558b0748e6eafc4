// loadKubeConfig's PooledKubeConfig: every API call shares one keep-alive agent (client-node 1.x would build a
// new one, and so a new TCP and TLS connection, per call), and calls through it work against the API server.
import t from 'tap'
import { Agent as HttpsAgent } from 'node:https'
import { CoreV1Api, HttpMethod, RequestContext } from '@kubernetes/client-node'
import { loadKubeConfig } from '../../controller/kube/kube-client.js'
import { startTestCluster } from '../lib/cluster.js'

t.test('one keep-alive agent for every request', async t => {
  const cluster = await startTestCluster()
  t.teardown(() => cluster.close())
  // loadKubeConfig reads KUBECONFIG through client-node's loadFromDefault, which looks at process.env itself.
  const saved = process.env.KUBECONFIG
  process.env.KUBECONFIG = cluster.kubeconfigPath
  t.teardown(() => { if (saved === undefined) delete process.env.KUBECONFIG; else process.env.KUBECONFIG = saved })
  const kc = loadKubeConfig(process.env)
  const a = new RequestContext(`${cluster.url}/api/v1/services`, HttpMethod.GET)
  const b = new RequestContext(`${cluster.url}/api/v1/nodes`, HttpMethod.GET)
  await kc.applySecurityAuthentication(a)
  await kc.applySecurityAuthentication(b)
  const agent = a.getAgent()
  t.ok(agent instanceof HttpsAgent, 'an https agent')
  t.equal(b.getAgent(), agent, 'the same agent for the next request')
  t.equal(agent instanceof HttpsAgent ? agent.options.keepAlive : undefined, true, 'keeping connections alive')
  const core = kc.makeApiClient(CoreV1Api)
  for (let i = 0; i < 5; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `c${i}` } } })
  const list = await core.listNamespacedConfigMap({ namespace: 'default' })
  t.equal(list.items.length, 5, 'calls through the pooled agent reach the API server (TLS verified with the CA)')
})
