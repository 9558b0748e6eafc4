// Authentication and the authorization seam: 401 without a valid token, 403 Status when the authorizer
// refuses, public health and version endpoints.
import t from 'tap'
import type { ResourceAttributes, User } from './auth.js'
import { startApiServer } from './server.js'
import { raw } from './test-client.js'

t.test('authentication and authorization', async t => {
  const asked: Array<[string, string, ResourceAttributes]> = []
  const viewer: User = { name: 'viewer', groups: ['system:authenticated'] }
  const server = await startApiServer({
    users: { 'viewer-token': viewer },
    authorize: (user, verb, res) => {
      asked.push([user.name, verb, res])
      return user.name !== 'viewer' || ['get', 'list', 'watch'].includes(verb)
    }
  })
  t.teardown(() => server.close())

  const wrong = await raw(server, 'GET', '/api/v1/namespaces', { anonymous: true })
  t.equal(wrong.status, 401)
  const health = await raw(server, 'GET', '/healthz', { anonymous: true })
  t.equal(health.status, 200, 'health needs no token')

  const asViewer = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: unknown }> => {
    const { request } = await import('node:https')
    return new Promise((resolve, reject) => {
      const req = request(`${server.url}${path}`, { method, ca: server.caPem, headers: { authorization: 'Bearer viewer-token', 'content-type': 'application/json' } }, res => {
        let text = ''
        res.on('data', (c: Buffer) => { text += c.toString() })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }))
      })
      req.on('error', reject)
      if (body !== undefined) req.write(JSON.stringify(body))
      req.end()
    })
  }
  t.equal((await asViewer('GET', '/api/v1/namespaces/default/services')).status, 200, 'a second token authenticates its user')
  const denied = await asViewer('DELETE', '/api/v1/namespaces/default/services/kubernetes')
  t.equal(denied.status, 403)
  t.same(denied.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'services "kubernetes" is forbidden: User "viewer" cannot delete resource "services" in API group "" in the namespace "default"',
    reason: 'Forbidden', details: { name: 'kubernetes', kind: 'services' }, code: 403
  })
  const deniedStatus = await asViewer('PATCH', '/api/v1/nodes/x/status', {})
  t.match(deniedStatus.json, { message: 'nodes "x" is forbidden: User "viewer" cannot patch resource "nodes/status" in API group "" at the cluster scope' })
  t.ok(asked.some(([u, v, r]) => u === 'viewer' && v === 'list' && r.resource === 'services' && r.namespace === 'default'), 'the authorizer sees user, verb and resource')
  t.equal((await raw(server, 'GET', '/api/v1/namespaces/default/services/kubernetes')).status, 200, 'the admin token is still allowed')
})
