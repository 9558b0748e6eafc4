// A TCP proxy in front of an API server that a test can cut and restore: an outage as a client sees it (its
// connections reset, new ones refused), with the server itself, and every other client, untouched.
import { createServer, connect, type Server, type Socket } from 'node:net'

export interface FaultProxy {
  /** `https://127.0.0.1:PORT`, to put in a kubeconfig in place of the server's URL. */
  readonly url: string
  /** Resets every connection through the proxy and refuses new ones until restore(). */
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port: targetPort } = new URL(target)
  const host = hostname.replace(/^\[|\]$/g, '')
  const sockets = new Set<Socket>()
  const serve = (): Server => createServer(client => {
    const upstream = connect(Number(targetPort), host)
    sockets.add(client)
    sockets.add(upstream)
    const drop = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream).pipe(client)
  })
  let server: Server | null = serve()
  const listen = async (s: Server, port: number): Promise<number> => await new Promise((resolve, reject) => {
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => {
      const a = s.address()
      resolve(typeof a === 'object' && a !== null ? a.port : 0)
    })
  })
  const port = await listen(server, 0)
  const stop = async (): Promise<void> => {
    const s = server
    server = null
    for (const sock of sockets) sock.destroy()
    sockets.clear()
    if (s !== null) await new Promise(resolve => s.close(resolve))
  }
  return {
    url: `https://127.0.0.1:${port}`,
    cut: stop,
    restore: async () => {
      if (server !== null) return
      server = serve()
      await listen(server, port)
    },
    close: stop,
  }
}
