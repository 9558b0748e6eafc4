// The differential test: the requests one lab walk makes (test/apiserver/differential/walk.json, recorded
// through a proxy in front of the stand-in by differential/record.ts: kubectl, the controller, the speakers,
// the lab's roles, and the known refusals) are replayed on a fresh stand-in and on a fresh real
// kube-apiserver 1.32, one after the other, each with its admin token. Server-assigned values (uid,
// resourceVersion, generated names, clusterIPs, nodePorts, OpenAPI hashes) are taken from the earlier answers
// of the same run. Per request the two must agree on the status code, the Status reason, the causes' fields
// of a 422 and whether a Warning header came; watches are opened with timeoutSeconds=1 and compared by status
// and ERROR events. Every difference is a stand-in bug: the real server is right.
import t from 'tap'
import { request } from 'node:https'
import { realApiServerSkip } from '../lib/cluster.js'
import { envtestAssets, startRealApiServer, type RealApiServer } from '../lib/envtest.js'
import { startApiServer } from './server.js'
import { compareAnswers, formatDifferences, loadWalkScript, replay } from './differential/replay.js'

/** What a cluster has before the lab applies anything (the stand-in starts with it): namespace l2lb-system. */
async function prepareReal (real: RealApiServer): Promise<void> {
  const call = (method: string, path: string, body?: unknown): Promise<number> => new Promise((resolve, reject) => {
    const req = request(`${real.url}${path}`, {
      method, ca: real.caPem,
      headers: { authorization: `Bearer ${real.adminToken}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    }, res => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
  const created = await call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'l2lb-system' } })
  if (created !== 201) throw new Error(`creating namespace l2lb-system on the real server: ${created}`)
  // The system namespaces and the `kubernetes` Service come from the server's own controllers, just after /readyz.
  const deadline = Date.now() + 20_000
  while ((await call('GET', '/api/v1/namespaces/default/services/kubernetes')) !== 200) {
    if (Date.now() > deadline) throw new Error('the real server made no default/kubernetes Service in 20 s')
    await new Promise(r => setTimeout(r, 100))
  }
}

const skip = realApiServerSkip()
t.test('one lab walk replayed on the stand-in and on a real kube-apiserver 1.32: the same answers', skip === undefined ? {} : { skip }, async t => {
  const assets = envtestAssets()
  if ('missing' in assets) throw new Error(assets.missing)
  const script = loadWalkScript()
  const t0 = Date.now()
  const [standIn, real] = await Promise.all([startApiServer(), startRealApiServer(assets)])
  t.teardown(async () => { await standIn.close(); await real.close() })
  await prepareReal(real)
  const t1 = Date.now()
  const a = await replay(script, { url: standIn.url, caPem: standIn.caPem, token: standIn.token })
  const t2 = Date.now()
  const b = await replay(script, { url: real.url, caPem: real.caPem, token: real.adminToken })
  const t3 = Date.now()
  t.comment(`${script.requests.length} requests (${script.requests.filter(r => r.watch === true).length} watches); servers up in ${t1 - t0} ms, ` +
    `replayed on the stand-in in ${t2 - t1} ms and on the real server in ${t3 - t2} ms`)

  const unresolved = a.flatMap((x, n) => x.unresolved.map(u => `#${n}: ${u}`))
  t.same(unresolved, [], 'on the stand-in every recorded value has its source in an earlier answer')
  const diffs = compareAnswers(script, a, b)
  if (diffs.length === 0) t.pass(`the stand-in and the real server agree on all ${script.requests.length} requests`)
  else {
    const text = formatDifferences(diffs, ['stand-in', 'real'])
    t.fail(`${diffs.length} of ${script.requests.length} requests answered differently (every one a stand-in bug):\n${text}`, { differences: text.split('\n') })
  }
})
