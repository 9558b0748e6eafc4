// The integration tests' children: a test file re-runs itself under `ip netns exec` (a packet socket binds
// to an interface of its own namespace) and speaks JSON lines with its parent, commands on stdin and
// events on stdout. `print` and `commands` are the child's side, `Agent` the parent's.
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
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

/** Child side: each command line as an object to `handle`; `onEnd` once stdin closes. */
export function commands(handle: (cmd: Record<string, unknown>) => void, onEnd: () => void): void {
  const lines = createInterface({ input: process.stdin })
  lines.on('line', line => {
    let cmd: unknown
    try {
      cmd = JSON.parse(line)
    } catch {
      return
    }
    if (typeof cmd === 'object' && cmd !== null) handle({ ...cmd })
  })
  lines.on('close', onEnd)
}

/** Parent side: a child speaking JSON lines; `next(event)` returns that event's next occurrence (bounded wait). */
export class Agent {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #events: AgentEvent[] = []
  readonly #consumed = new Map<string, number>()
  #stderr = ''
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
    this.#exit = new Promise(resolve => child.on('exit', code => resolve(code)))
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
    const ok = await until(() => this.all(event).length > seen || this.#child.exitCode !== null, timeoutMs, 10)
    const e = this.all(event)[seen]
    if (!ok || e === undefined) throw new Error(`no '${event}' from the child (exit ${this.#child.exitCode}); stderr: ${this.#stderr}`)
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
