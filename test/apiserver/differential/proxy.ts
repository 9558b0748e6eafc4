// A recording HTTPS proxy in front of an API server: programs and kubectl talk to it as to the API server, it
// forwards every request and keeps each request with its answer. Requests are forwarded one at a time (a watch
// takes its turn until its response head arrives, then streams on its own), so the recorded order is an order
// the server really executed them in, and replaying them in that order on another server asks it the same.
import { createServer, request, Agent, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Exchange } from './script.js'

export interface RecordingProxyOptions {
  /** The API server behind the proxy. */
  readonly upstream: string
  readonly upstreamCa: string
  /** The proxy's own serving certificate (SAN 127.0.0.1) and key. */
  readonly cert: string
  readonly key: string
  /** Who a bearer token belongs to (the program it was given to), for the record. */
  readonly who: (token: string) => string
}

export interface RecordingProxy {
  readonly url: string
  readonly exchanges: Exchange[]
  /** Labels the requests recorded from now on (what the walk is doing). */
  step(name: string): void
  close(): Promise<void>
}

/** Request headers that are not kept: credentials, hop-by-hop, and what the transport adds. */
const DROPPED = new Set(['authorization', 'host', 'connection', 'keep-alive', 'content-length', 'accept-encoding', 'transfer-encoding', 'te'])

function isWatch (method: string, path: string): boolean {
  if (method !== 'GET') return false
  const [p = '', q = ''] = path.split('?')
  const w = new URLSearchParams(q).get('watch')
  return w === 'true' || w === '1' || /^\/apis?\/(?:[^/]+\/)?[^/]+\/watch\//.test(p)
}

function readAll (s: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('end', () => resolve(Buffer.concat(chunks)))
    s.on('error', reject)
  })
}

export async function startRecordingProxy (o: RecordingProxyOptions): Promise<RecordingProxy> {
  const exchanges: Exchange[] = []
  const agent = new Agent({ keepAlive: true, ca: o.upstreamCa, maxSockets: 64 })
  const sockets = new Set<Duplex>()
  const upstreamRequests = new Set<ReturnType<typeof request>>()
  let step = 'start'
  let turn: Promise<void> = Promise.resolve()

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET'
    const path = req.url ?? '/'
    const body = await readAll(req)
    const token = /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? ''
    const kept: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) {
      if (DROPPED.has(k) || v === undefined) continue
      kept[k] = Array.isArray(v) ? v.join(', ') : v
    }
    const watch = isWatch(method, path)
    // Wait for the previous request's answer before sending this one.
    let release: () => void = () => undefined
    const mine = new Promise<void>(resolve => { release = resolve })
    const before = turn
    turn = before.then(() => mine)
    await before
    const at = step
    const headers: Record<string, string> = { ...kept }
    if (req.headers.authorization !== undefined) headers.authorization = req.headers.authorization
    if (body.length > 0) headers['content-length'] = String(body.length)
    const up = request(`${o.upstream}${path}`, { method, agent, headers }, upRes => {
      const status = upRes.statusCode ?? 0
      const responseHeaders = { ...upRes.headers }
      const out: Record<string, string | string[]> = {}
      for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') out[k] = v
      const record = (responseBody: Buffer | undefined): void => {
        exchanges.push({ who: o.who(token), step: at, method, path, headers: kept, body: body.length > 0 ? body : undefined, watch, status, responseHeaders, responseBody })
      }
      if (watch) {
        record(undefined)
        release()
        res.writeHead(status, out)
        res.flushHeaders()
        upRes.pipe(res)
        res.on('close', () => upRes.destroy())
        return
      }
      void readAll(upRes).then(b => {
        record(b)
        release()
        delete out['content-length']
        res.writeHead(status, { ...out, 'content-length': String(b.length) })
        res.end(b)
      }, err => {
        release()
        res.destroy(err instanceof Error ? err : new Error(String(err)))
      })
    })
    upstreamRequests.add(up)
    up.on('close', () => upstreamRequests.delete(up))
    up.on('error', err => {
      release()
      if (!res.headersSent) { res.writeHead(502, { 'content-type': 'text/plain' }); res.end(`proxy: ${err.message}`) } else res.destroy()
    })
    req.on('close', () => { if (watch) up.destroy() })
    up.end(body.length > 0 ? body : undefined)
  }

  const server: Server = createServer({ cert: o.cert, key: o.key }, (req, res) => {
    handle(req, res).catch(err => {
      if (!res.headersSent) { res.writeHead(502, { 'content-type': 'text/plain' }); res.end(`proxy: ${String(err)}`) }
    })
  })
  server.on('connection', s => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `https://127.0.0.1:${port}`,
    exchanges,
    step: name => { step = name },
    close: async () => {
      for (const r of upstreamRequests) r.destroy()
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
      agent.destroy()
    },
  }
}
