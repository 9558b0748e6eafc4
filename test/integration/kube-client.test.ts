// loadKubeConfig's PooledKubeConfig: every API call shares one keep-alive agent (client-node 1.x would build a
// new one, and so a new TCP and TLS connection, per call), and calls through it work against the API server:
// the stand-in and, with KUBEBUILDER_ASSETS, a real kube-apiserver, as the controller's ServiceAccount.
import t from 'tap'
import { Agent as HttpsAgent } from 'node:https'
import { CoreV1Api, HttpMethod, RequestContext } from '@kubernetes/client-node'
import { loadKubeConfig } from '../../internal/kube/kube-client.js'
import { eachApiServer } from '../lib/cluster.js'

eachApiServer(t, 'one keep-alive agent for every request', async (t, cluster) => {
  // loadKubeConfig reads KUBECONFIG through client-node's loadFromDefault, which looks at process.env itself.
  const saved = process.env.KUBECONFIG
  process.env.KUBECONFIG = cluster.kubeconfigPathAs('controller')
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
  // Calls the controller makes (its account may list Services and create Events, config/default/rbac.yaml).
  const core = kc.makeApiClient(CoreV1Api)
  const svc = await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespacedService({ namespace: 'default', body: { metadata: { name: 'pooled' }, spec: { ports: [{ port: 80 }] } } })
  for (let i = 0; i < 5; i++) {
    await core.createNamespacedEvent({ namespace: 'default', body: {
      metadata: { name: `pooled.${i}` }, reason: 'Test', message: `call ${i}`, type: 'Normal',
      involvedObject: { kind: 'Service', apiVersion: 'v1', namespace: 'default', name: 'pooled', uid: svc.metadata?.uid },
    } })
  }
  const services = await core.listServiceForAllNamespaces()
  t.ok(services.items.some(s => s.metadata?.name === 'pooled'), 'a list through the pooled agent')
  const events = await cluster.kubeConfig.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'default' })
  t.equal(events.items.filter(e => e.metadata?.name?.startsWith('pooled.')).length, 5, 'calls through the pooled agent reach the API server (TLS verified with the CA)')
  t.same(cluster.forbidden(), [], 'nothing the controller\'s account did was forbidden')
})
