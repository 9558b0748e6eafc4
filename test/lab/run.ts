// Running the lab's external commands (ip, nft, kubectl, arping, curl). Every call has a deadline so a
// wedged tool cannot hang the lab; failures carry the command line and its stderr, which is what a person
// needs to see when a netns step goes wrong.
import { execFile } from 'node:child_process'

export interface RunOptions {
  /** Kill the command after this long. */
  readonly timeoutMs?: number
  /** Written to the command's stdin. */
  readonly input?: string
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
}

export interface RunResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export class CommandError extends Error {
  readonly result: RunResult
  constructor(argv: readonly string[], result: RunResult) {
    const detail = result.stderr.trim() || result.stdout.trim()
    super(`command failed (exit ${result.code}): ${argv.join(' ')}${detail === '' ? '' : `\n${detail}`}`)
    this.name = 'CommandError'
    this.result = result
  }
}

/** Runs a command and resolves with its exit code and output, whatever the exit code. */
export function runAllowingFailure(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv
  if (file === undefined) return Promise.reject(new Error('empty command'))
  return new Promise(resolve => {
    const child = execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs ?? 15_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ code: 0, stdout, stderr })
          return
        }
        // A numeric code is the exit status; anything else (ENOENT, killed on timeout) is reported as 127/124
        // with the reason appended so the caller's error message says what happened.
        const code = typeof err.code === 'number' ? err.code : err.killed ? 124 : 127
        const why = typeof err.code === 'number' ? '' : `${err.killed ? 'timed out' : err.message}\n`
        resolve({ code, stdout, stderr: why + stderr })
      },
    )
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    else child.stdin?.end()
  })
}

/** Runs a command and rejects with a CommandError unless it exits 0. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const result = await runAllowingFailure(argv, opts)
  if (result.code !== 0) throw new CommandError(argv, result)
  return result.stdout
}

/** `ip netns exec NS argv...` */
export function inNetns(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv]
}

/** Thrown from a `waitFor` attempt to stop waiting at once (the thing waited for can no longer happen). */
export class StopWaiting extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StopWaiting'
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/**
 * Calls `attempt` until it returns a value other than undefined or the deadline passes; bounded in time and,
 * through the interval, in count. The last error (if any) is kept for the timeout message.
 */
export async function waitFor<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  const interval = opts.intervalMs ?? 200
  let lastError: unknown = undefined
  for (;;) {
    try {
      const value = await attempt()
      if (value !== undefined) return value
    } catch (err) {
      if (err instanceof StopWaiting) throw err
      lastError = err
    }
    if (Date.now() + interval > deadline) break
    await sleep(interval)
  }
  const because = lastError instanceof Error ? `: ${lastError.message}` : ''
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${because}`)
}
