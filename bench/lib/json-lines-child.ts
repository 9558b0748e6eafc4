// A child process that speaks JSON lines (commands on stdin, events on stdout), as the datapath bench's
// agents do. `next(event)` waits, bounded, for that event's next occurrence; kill() is by the child's pid.
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'

export interface ChildEvent {
  readonly event: string
  readonly [k: string]: unknown
}

export class JsonLinesChild {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #events: ChildEvent[] = []
  readonly #consumed = new Map<string, number>()
  #stderr = ''
  #spawnFailed = false
  readonly #exit: Promise<number | null>

  constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child
    createInterface({ input: child.stdout }).on('line', line => {
      try {
        const e: unknown = JSON.parse(line)
        if (typeof e === 'object' && e !== null) this.#events.push({ ...e, event: String(Reflect.get(e, 'event')) })
      } catch {
        this.#stderr = `${this.#stderr}(stdout) ${line}\n`.slice(-4000)
      }
    })
    child.stderr.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000)
    })
    // Without a listener a failed spawn (ENOENT) would be an uncaught 'error' event.
    child.on('error', err => {
      this.#spawnFailed = true
      this.#stderr += `spawn error: ${err.message}\n`
    })
    // A child that never started emits 'error' and no 'exit': end() must not wait for it forever.
    this.#exit = new Promise(resolve => {
      child.on('exit', code => resolve(code))
      child.on('error', () => resolve(child.exitCode))
    })
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  send(cmd: Record<string, unknown>): void {
    this.#child.stdin.write(`${JSON.stringify(cmd)}\n`)
  }

  async next(event: string, timeoutMs = 15_000): Promise<ChildEvent> {
    const seen = this.#consumed.get(event) ?? 0
    const end = performance.now() + timeoutMs
    for (;;) {
      const e = this.#events.filter(x => x.event === event)[seen]
      if (e !== undefined) {
        this.#consumed.set(event, seen + 1)
        return e
      }
      const failure = this.#events.find(x => x.event === 'error')
      if (failure !== undefined || this.#spawnFailed || this.#child.exitCode !== null || performance.now() > end) {
        const why = failure !== undefined ? String(failure.message) : this.#child.exitCode !== null ? `exit ${this.#child.exitCode}` : 'timeout'
        throw new Error(`no '${event}' from the child (${why}); stderr: ${this.#stderr.trim()}`)
      }
      await sleep(10)
    }
  }

  /** Closes stdin (the agent closes its socket and exits); SIGKILL by pid if it has not within `graceMs`. */
  async end(graceMs = 3_000): Promise<number | null> {
    this.#child.stdin.end()
    const timer = setTimeout(() => this.kill(), graceMs)
    const code = await this.#exit
    clearTimeout(timer)
    return code
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null && this.#child.pid !== undefined) {
      try {
        process.kill(this.#child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}
