// The integration tests' children: a test file re-runs itself under `ip netns exec` (a packet socket binds
// to an interface of its own namespace) and speaks JSON lines with its parent, commands on stdin and
// events on stdout. `print` and `commands` are the child's side, `Agent` the parent's.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PacketSocket } from '../../native/index.js'
import { until } from './netns.js'

export interface AgentEvent {
  event: string
  /** When the child printed it (ms since the epoch, sub-millisecond). */
  at: number
  [k: string]: unknown
}

/** Child side: one event line, stamped with the time. */
export function print(e: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ at: performance.timeOrigin + performance.now(), ...e }) + '\n')
}

/**
 * Child side: each command line as an object to `handle`, one at a time and in order (an async handler, such as
 * a bounded burst, finishes before the next command is looked at); a handler that throws is reported as an
 * `error` event. `onEnd` runs once stdin closes and the last command is done.
 */
export function commands(handle: (cmd: Record<string, unknown>) => Promise<void> | void, onEnd: () => void): void {
  const lines = createInterface({ input: process.stdin })
  let chain: Promise<void> = Promise.resolve()
  lines.on('line', line => {
    let cmd: unknown
    try {
      cmd = JSON.parse(line)
    } catch {
      return
    }
    if (typeof cmd !== 'object' || cmd === null) return
    const c: Record<string, unknown> = { ...cmd }
    chain = chain.then(() => handle(c)).catch(err => print({ event: 'error', message: String(err) }))
  })
  lines.on('close', () => void chain.then(onEnd))
}

/** What the responder agents drive: ArpResponder and NdpResponder alike. */
export interface DrivenResponder {
  readonly mac: Buffer | undefined
  setAnnounced(ips: Iterable<string>): void
  start(): void
  stats(): unknown
  close(): void
}

/**
 * Child side: announces `ips` (comma-separated) and starts `r`, then answers the commands
 * `{cmd: 'announce', ips}` (event 'announced') and `{cmd: 'stats'}` (event 'stats'); closes it on end.
 */
export function serveResponder(r: DrivenResponder, ips: string): void {
  r.setAnnounced(ips.split(',').filter(Boolean))
  r.start()
  commands(cmd => {
    if (cmd.cmd === 'announce' && Array.isArray(cmd.ips)) {
      r.setAnnounced(cmd.ips.map(String))
      print({ event: 'announced', id: cmd.id })
    } else if (cmd.cmd === 'stats') {
      print({ event: 'stats', id: cmd.id, stats: r.stats() })
    }
  }, () => r.close())
  print({ event: 'ready', mac: r.mac?.toString('hex') })
}

/** Child side: a packet socket for `protocol` that prints every frame (event 'frame') and sends on `{cmd: 'send', hex}`. */
export function serveCapture(iface: string, protocol: number): void {
  const sock = PacketSocket.open({ interface: iface, protocol })
  sock.on('frame', f => print({ event: 'frame', hex: f.toString('hex') }))
  commands(cmd => {
    if (cmd.cmd === 'send') {
      sock.send(Buffer.from(String(cmd.hex), 'hex'))
      print({ event: 'sent', id: cmd.id })
    }
  }, () => sock.close())
  print({ event: 'ready', mac: sock.mac.toString('hex') })
}

/** Parent side: the test file `fileUrl` run again as a child inside network namespace `ns`, with `env` added. */
export function startInNetns(fileUrl: string, ns: string, env: Record<string, string>): Agent {
  return startUnder(['ip', 'netns', 'exec', ns], fileUrl, env)
}

/**
 * Parent side: the test file `fileUrl` run again as a child under the command `wrapper` (which runs the
 * rest of its argv, as `ip netns exec NS` or `setpriv` do), from the repository root, with `env` added.
 */
export function startUnder(wrapper: readonly [string, ...string[]], fileUrl: string, env: Record<string, string>): Agent {
  const file = fileURLToPath(fileUrl)
  const [cmd, ...args] = wrapper
  return new Agent(spawn(cmd, [...args, process.execPath, '--import', 'tsx', file], {
    cwd: path.resolve(path.dirname(file), '..', '..'), env: { ...process.env, ...env },
  }))
}

/** Parent side: a child speaking JSON lines; `next(event)` returns that event's next occurrence (bounded wait). */
export class Agent {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #events: AgentEvent[] = []
  readonly #consumed = new Map<string, number>()
  #stderr = ''
  #spawnFailed = false
  readonly #exit: Promise<number | null>

  constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child
    createInterface({ input: child.stdout }).on('line', line => {
      try {
        const e: unknown = JSON.parse(line)
        if (typeof e === 'object' && e !== null) {
          this.#events.push({ ...e, event: String(Reflect.get(e, 'event')), at: Number(Reflect.get(e, 'at')) })
        }
      } catch {
        this.#stderr += `(stdout) ${line}\n`
      }
    })
    child.stderr.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-4000) })
    // Without a listener a failed spawn (ENOENT) would be an uncaught 'error'; such a child never emits 'exit'.
    child.on('error', err => { this.#spawnFailed = true; this.#stderr += `spawn error: ${err.message}\n` })
    this.#exit = new Promise(resolve => {
      child.on('exit', code => resolve(code))
      child.on('error', () => resolve(child.exitCode))
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  send(cmd: Record<string, unknown>): void {
    this.#child.stdin.write(JSON.stringify(cmd) + '\n')
  }

  all(event: string): AgentEvent[] {
    return this.#events.filter(e => e.event === event)
  }

  count(event: string): number {
    return this.all(event).length
  }

  /** The next unconsumed `event`; with timeoutMs 0, the last one already seen (not consuming). */
  async next(event: string, timeoutMs = 10_000): Promise<AgentEvent> {
    if (timeoutMs === 0) {
      const last = this.all(event).at(-1)
      if (last === undefined) throw new Error(`no '${event}' seen`)
      return last
    }
    const seen = this.#consumed.get(event) ?? 0
    const ok = await until(() => this.all(event).length > seen || this.#child.exitCode !== null || this.#spawnFailed, timeoutMs, 10)
    const e = this.all(event)[seen]
    if (!ok || e === undefined) {
      const errors = event === 'error' ? [] : this.all('error').map(x => String(x.message ?? x.code))
      throw new Error(`no '${event}' from the child (exit ${this.#child.exitCode}${errors.length ? `; errors: ${errors.join(', ')}` : ''}); stderr: ${this.#stderr}`)
    }
    this.#consumed.set(event, seen + 1)
    return e
  }

  end(): void {
    this.#child.stdin.end()
  }

  /** The exit code; SIGKILL (by pid) if the child has not exited within 5 s. */
  async exited(): Promise<number | null> {
    const timer = setTimeout(() => this.kill(), 5000)
    const code = await this.#exit
    clearTimeout(timer)
    return code
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.pid !== undefined) this.#child.kill('SIGKILL')
  }
}
