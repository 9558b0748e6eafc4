// Replays the recorded walk (walk.json) on one API server, request after request, and compares what two
// servers answered: status code, the Status reason, for a 422 the fields of its causes, whether a Warning
// header came, and for a watch (opened with timeoutSeconds=1) the reasons of ERROR events in its stream.
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isObject, type Json } from '../json.js'
import { headerList, parseJsonOrUndefined, prepareRequest, type Answered, type ScriptRequest, type WalkScript } from './script.js'

export const WALK_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'walk.json')

export function loadWalkScript (path = WALK_SCRIPT): WalkScript {
  const doc: unknown = JSON.parse(readFileSync(path, 'utf8'))
  if (!isObject(doc) || !Array.isArray(doc.requests)) throw new Error(`${path}: not a walk script`)
  return doc as unknown as WalkScript
}

export interface Target {
  readonly url: string
  readonly caPem: string
  /** Every request is sent with this (admin) token. */
  readonly token: string
}

export interface Answer {
  /** What was sent, after substitution. */
  readonly path: string
  readonly status: number
  readonly reason: string | undefined
  readonly message: string | undefined
  /** `details.causes[].field` (422 Invalid). */
  readonly causes: readonly string[]
  readonly warnings: readonly string[]
  /** A watch: the reasons of its ERROR events. */
  readonly watchErrors?: readonly string[]
  readonly unresolved: readonly string[]
  /** The request did not get an answer (connection error). */
  readonly error?: string
}

interface Raw { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

const WATCH_TIMEOUT_SECONDS = '1'

function withWatchTimeout (path: string): string {
  const [p = '', q = ''] = path.split('?')
  const params = new URLSearchParams(q)
  params.set('timeoutSeconds', WATCH_TIMEOUT_SECONDS)
  return `${p}?${params.toString()}`
}

/** Sends the whole script to `target`, one request at a time; watches end on their own after a second. */
export async function replay (script: WalkScript, target: Target): Promise<Answer[]> {
  const agent = new Agent({ keepAlive: true, ca: target.caPem, maxSockets: 8 })
  const answered: Array<Answered | undefined> = []
  const answers: Answer[] = []
  const watches: Array<Promise<void>> = []
  try {
    for (const r of script.requests) {
      const prepared = prepareRequest(r, answered)
      const path = r.watch === true ? withWatchTimeout(prepared.path) : prepared.path
      const headers: Record<string, string> = { ...prepared.headers, authorization: `Bearer ${target.token}` }
      if (prepared.body !== undefined) headers['content-length'] = String(prepared.body.length)
      const base = { path, unresolved: prepared.unresolved }
      if (r.watch === true) {
        const { head, done } = openWatch(agent, target.url, r.method, path, headers)
        const h = await head.catch((err: unknown) => err instanceof Error ? err : new Error(String(err)))
        if (h instanceof Error) {
          answers.push({ ...base, status: 0, reason: undefined, message: undefined, causes: [], warnings: [], error: h.message })
          answered.push(undefined)
          continue
        }
        const index = answers.length
        answers.push({ ...base, status: h.status, reason: undefined, message: undefined, causes: [], warnings: headerList(h.headers.warning), watchErrors: [] })
        answered.push({ json: undefined, headers: h.headers })
        watches.push(done.then(body => {
          const a = answers[index]
          if (a === undefined) return
          const doc = h.status === 200 ? undefined : parseJsonOrUndefined(body)
          const errors = h.status !== 200 ? [] : body.toString('utf8').split('\n').flatMap(line => {
            const ev = parseJsonOrUndefined(line)
            return isObject(ev) && ev.type === 'ERROR' && isObject(ev.object) ? [String(ev.object.reason ?? ev.object.code ?? '')] : []
          })
          answers[index] = { ...a, ...statusFields(doc), watchErrors: errors }
        }))
        continue
      }
      const res = await send(agent, target.url, r.method, path, headers, prepared.body).catch((err: unknown) => err instanceof Error ? err : new Error(String(err)))
      if (res instanceof Error) {
        answers.push({ ...base, status: 0, reason: undefined, message: undefined, causes: [], warnings: [], error: res.message })
        answered.push(undefined)
        continue
      }
      const json = parseJsonOrUndefined(res.body)
      answered.push({ json, headers: res.headers })
      answers.push({ ...base, status: res.status, ...statusFields(json), warnings: headerList(res.headers.warning) })
    }
    await Promise.all(watches)
  } finally {
    agent.destroy()
  }
  return answers
}

function statusFields (doc: Json | undefined): { reason: string | undefined, message: string | undefined, causes: string[] } {
  if (!isObject(doc) || doc.kind !== 'Status') return { reason: undefined, message: undefined, causes: [] }
  const details = doc.details
  const causes = isObject(details) && Array.isArray(details.causes)
    ? details.causes.flatMap(c => isObject(c) && typeof c.field === 'string' ? [c.field] : [])
    : []
  return {
    reason: typeof doc.reason === 'string' && doc.reason !== '' ? doc.reason : undefined,
    message: typeof doc.message === 'string' ? doc.message : undefined,
    causes,
  }
}

function send (agent: Agent, url: string, method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent, headers, timeout: 30_000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** A watch: `head` when the response starts, `done` with the whole stream when the server ends it (or after 10 s). */
function openWatch (agent: Agent, url: string, method: string, path: string, headers: Record<string, string>): { head: Promise<{ status: number, headers: Raw['headers'] }>, done: Promise<Buffer> } {
  let resolveDone: (b: Buffer) => void = () => undefined
  const done = new Promise<Buffer>(resolve => { resolveDone = resolve })
  const head = new Promise<{ status: number, headers: Raw['headers'] }>((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent, headers }, res => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers })
      const chunks: Buffer[] = []
      const guard = setTimeout(() => req.destroy(), 10_000)
      const finish = (): void => { clearTimeout(guard); resolveDone(Buffer.concat(chunks)) }
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', finish)
      res.on('close', finish)
      res.on('error', finish)
    })
    req.on('error', err => { reject(err); resolveDone(Buffer.alloc(0)) })
    req.end()
  })
  return { head, done }
}

export interface Difference {
  readonly request: ScriptRequest
  readonly what: readonly string[]
  readonly a: Answer
  readonly b: Answer
}

/** Per request: status, reason, 422 cause fields, Warning presence, watch ERRORs, unresolved substitutions. */
export function compareAnswers (script: WalkScript, a: readonly Answer[], b: readonly Answer[]): Difference[] {
  const out: Difference[] = []
  for (const r of script.requests) {
    const x = a[r.n]
    const y = b[r.n]
    if (x === undefined || y === undefined) throw new Error(`no answer to request #${r.n}`)
    const what: string[] = []
    if (x.status !== y.status) what.push('status')
    if (x.reason !== y.reason) what.push('reason')
    if ((x.status === 422 || y.status === 422) && JSON.stringify(x.causes) !== JSON.stringify(y.causes)) what.push('causes')
    if ((x.warnings.length > 0) !== (y.warnings.length > 0)) what.push('warning')
    if (JSON.stringify(x.watchErrors ?? []) !== JSON.stringify(y.watchErrors ?? [])) what.push('watch errors')
    if (JSON.stringify(x.unresolved) !== JSON.stringify(y.unresolved)) what.push('substitutions')
    if (what.length > 0) out.push({ request: r, what, a: x, b: y })
  }
  return out
}

function describeAnswer (x: Answer): string {
  const parts = [String(x.status)]
  if (x.error !== undefined) parts.push(`error: ${x.error}`)
  if (x.reason !== undefined) parts.push(x.reason)
  if (x.causes.length > 0) parts.push(`causes [${x.causes.join(', ')}]`)
  parts.push(x.warnings.length > 0 ? `Warning: ${x.warnings.join(' | ')}` : 'no Warning')
  if (x.watchErrors !== undefined && x.watchErrors.length > 0) parts.push(`watch ERROR ${x.watchErrors.join(', ')}`)
  if (x.unresolved.length > 0) parts.push(`unresolved: ${x.unresolved.join('; ')}`)
  if (x.message !== undefined) parts.push(`message: ${x.message.length > 300 ? `${x.message.slice(0, 300)}...` : x.message}`)
  return parts.join('; ')
}

/** The differences as a failure message: each request (who, step, method, path, body) and both answers. */
export function formatDifferences (diffs: readonly Difference[], names: readonly [string, string]): string {
  const width = Math.max(names[0].length, names[1].length)
  return diffs.map(d => {
    const r = d.request
    const body = r.body === undefined ? r.bodyBase64 === undefined ? '' : ` <${Buffer.from(r.bodyBase64, 'base64').length} bytes>` : ` ${r.body.length > 400 ? `${r.body.slice(0, 400)}...` : r.body}`
    return [
      `#${r.n} [${r.who}] (${r.step}) differs in ${d.what.join(', ')}`,
      `  ${r.method} ${d.b.path}${r.headers['content-type'] === undefined ? '' : ` (${r.headers['content-type']})`}${body}`,
      `  ${names[0].padEnd(width)}: ${describeAnswer(d.a)}`,
      `  ${names[1].padEnd(width)}: ${describeAnswer(d.b)}`,
    ].join('\n')
  }).join('\n')
}
