// /metrics, /healthz and /readyz for both programs. Liveness says the process serves; readiness says its
// caches are synced and it is doing its job (the caller decides what that means).
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MetricsRegistry } from './metrics.js'

export interface ObserveServerOptions {
  readonly host: string
  readonly port: number
  readonly metrics: MetricsRegistry
  readonly ready: () => { ready: boolean; reason: string }
}

export class ObserveServer {
  readonly #o: ObserveServerOptions
  #server: Server | null = null

  constructor(opts: ObserveServerOptions) {
    this.#o = opts
  }

  async start(): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        res.end(this.#o.metrics.render())
      } else if (path === '/healthz' || path === '/livez') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
      } else if (path === '/readyz') {
        const r = this.#o.ready()
        res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.reason}\n`)
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      }
    })
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#o.port, this.#o.host, () => { server.off('error', reject); resolve() })
    })
    const addr = server.address()
    if (addr === null || typeof addr === 'string') throw new Error('observe server has no TCP address')
    return addr
  }

  async close(): Promise<void> {
    const s = this.#server
    this.#server = null
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>(resolve => s.close(() => resolve()))
  }
}
