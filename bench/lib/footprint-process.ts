// The footprint bench's process helpers: start a program, note when it says it is ready, read its memory from
// /proc/PID/status, stop it by its PID. Linux only (/proc).
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

/** Memory of one process, MiB, from /proc/PID/status. */
export interface ProcMemory {
  /** Resident set (VmRSS): what the kubelet's working set and a memory limit are close to. */
  readonly rss: number
  /** Anonymous pages (RssAnon): heaps, malloc, stacks; what grows with work. */
  readonly anon: number
  /** File-backed pages (RssFile): mostly the node binary's own text, shared between processes. */
  readonly file: number
  /** Peak resident set so far (VmHWM). */
  readonly peak: number
}

const MIB_PER_KB = 1 / 1024

function statusField(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)
  if (m === null) throw new Error(`no ${key} in /proc status`)
  return Number(m[1]) * MIB_PER_KB
}

export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return { rss: statusField(status, 'VmRSS'), anon: statusField(status, 'RssAnon'), file: statusField(status, 'RssFile'), peak: statusField(status, 'VmHWM') }
}

export interface StartedRun {
  /** From spawn() to the ready line, ms. */
  readonly readyMs: number
  /** Memory at the moment the ready line arrived. */
  readonly atReady: ProcMemory
  /** Memory after `settleMs` more of idling (timers, first GCs). */
  readonly settled: ProcMemory
}

export interface StartOptions {
  readonly argv: readonly string[]
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  /** A line of the program's output (stdout or stderr) that means "ready". */
  readonly ready: (line: string) => boolean
  readonly timeoutMs: number
  readonly settleMs: number
  /** Called with the program's PID after the settled measurement, before it is stopped (e.g. a heap snapshot). */
  readonly whileRunning?: (pid: number) => Promise<void>
}

/** SIGTERM by PID, SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Starts a program, measures it at its ready line and after settling, then stops it (SIGTERM, by PID). */
export async function startAndMeasure(o: StartOptions): Promise<StartedRun> {
  const [command, ...args] = o.argv
  if (command === undefined) throw new Error('empty argv')
  const t0 = performance.now()
  const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] })
  const tail: string[] = []
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within ${o.timeoutMs} ms: ${o.argv.join(' ')}\n${tail.join('\n')}`)), o.timeoutMs)
      const onLine = (line: string): void => {
        tail.push(line)
        if (tail.length > 20) tail.shift()
        if (o.ready(line)) {
          clearTimeout(timer)
          resolve(performance.now() - t0)
        }
      }
      for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', onLine)
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`exited (${code ?? signal}) before ready: ${o.argv.join(' ')}\n${tail.join('\n')}`))
      })
    })
    const pid = child.pid
    if (pid === undefined) throw new Error('no pid')
    const atReady = procMemory(pid)
    await new Promise(resolve => setTimeout(resolve, o.settleMs))
    const settled = procMemory(pid)
    await o.whileRunning?.(pid)
    return { readyMs, atReady, settled }
  } finally {
    await stopChild(child)
  }
}

/** Runs a process to its end; resolves with the time from spawn() to exit, ms. Throws on a non-zero exit. */
export async function timeToExit(argv: readonly string[], cwd: string): Promise<number> {
  const [command, ...args] = argv
  if (command === undefined) throw new Error('empty argv')
  const t0 = performance.now()
  const child = spawn(command, args, { cwd, stdio: 'ignore' })
  const code = await new Promise<number | null>(resolve => child.once('exit', c => resolve(c)))
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}`)
  return performance.now() - t0
}

/** Runs a process that prints one JSON line on stdout and exits; returns that line parsed. */
export async function jsonFromChild(argv: readonly string[], cwd: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const [command, ...args] = argv
  if (command === undefined) throw new Error('empty argv')
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>(resolve => child.once('exit', c => resolve(c)))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${argv.slice(0, 4).join(' ')} ... exited ${code}: ${err.trim().split('\n').slice(-5).join('\n')}`)
  const parsed: unknown = JSON.parse(out.trim().split('\n').pop() ?? 'null')
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`no JSON line from ${argv.join(' ')}: ${out}`)
  return { ...parsed }
}
