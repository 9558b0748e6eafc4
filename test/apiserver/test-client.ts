// Raw HTTPS access to a started ApiServer for tests: requests, and reading a watch stream line by line.
import { request } from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import type { ApiServer } from './server.js'

export interface RawResponse { readonly status: number, readonly headers: IncomingHttpHeaders, readonly text: string, readonly json: unknown }

export interface RawOptions {
  /** A string or Buffer is sent as it is, anything else as JSON. */
  readonly body?: unknown
  readonly accept?: string
  readonly contentType?: string
  /** Omit the bearer token (to see the 401). */
  readonly anonymous?: boolean
}

export function raw (server: ApiServer, method: string, path: string, opts: RawOptions = {}): Promise<RawResponse> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body)
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' }
    if (opts.anonymous !== true) headers.authorization = `Bearer ${server.token}`
    if (body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json'
      // Node frames a DELETE body neither by chunks nor by length unless told: the server would read a bodiless
      // DELETE and then take the body for the next request.
      headers['content-length'] = String(Buffer.byteLength(body))
    }
    const req = request(`${server.url}${path}`, { method, ca: server.caPem, headers, timeout: 10_000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on('error', reject)
    if (body !== undefined) req.write(body)
    req.end()
  })
}

export interface WatchStream {
  readonly status: Promise<number>
  /** Resolves with the next `n` parsed event lines, or rejects after `timeoutMs`. */
  readonly next: (n: number, timeoutMs?: number) => Promise<Array<{ type: string, object: Record<string, unknown> }>>
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>
  readonly close: () => void
}

export function watchStream (server: ApiServer, path: string, accept = 'application/json'): WatchStream {
  const lines: string[] = []
  let buf = ''
  let wake: (() => void) | undefined
  let resolveStatus: (n: number) => void = () => undefined
  let rejectStatus: (e: Error) => void = () => undefined
  let resolveEnded: () => void = () => undefined
  const status = new Promise<number>((resolve, reject) => { resolveStatus = resolve; rejectStatus = reject })
  const ended = new Promise<void>(resolve => { resolveEnded = resolve })
  const req = request(`${server.url}${path}`, { method: 'GET', ca: server.caPem, headers: { authorization: `Bearer ${server.token}`, accept } }, res => {
    resolveStatus(res.statusCode ?? 0)
    res.on('data', (c: Buffer) => {
      buf += c.toString('utf8')
      let i: number
      while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1) }
      wake?.()
    })
    res.on('end', () => { resolveEnded(); wake?.() })
    res.on('error', () => resolveEnded())
  })
  req.on('error', e => { rejectStatus(e); resolveEnded() })
  req.end()
  const next = async (n: number, timeoutMs = 5000): Promise<Array<{ type: string, object: Record<string, unknown> }>> => {
    const deadline = Date.now() + timeoutMs
    while (lines.length < n) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`watch ${path}: wanted ${n} events, got ${lines.length}: ${lines.join('\n')}`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, left)
        wake = () => { clearTimeout(t); resolve() }
      })
    }
    return lines.splice(0, n).map(l => {
      const v: unknown = JSON.parse(l)
      if (typeof v !== 'object' || v === null || !('type' in v) || !('object' in v)) throw new Error(`not a watch event: ${l}`)
      const { type, object } = v
      if (typeof type !== 'string' || typeof object !== 'object' || object === null) throw new Error(`not a watch event: ${l}`)
      return { type, object: Object.fromEntries(Object.entries(object)) }
    })
  }
  return { status, next, ended, close: () => req.destroy() }
}
