// Long-running lab processes (API server, controller, speakers, nginx, kube roles). Each is started
// detached with its output in a log file, so it outlives `npm run lab -- up`, and is stopped later by the
// PID recorded at start: never by name.
import { spawn } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { sleep } from './run.js'

export interface ProcessRecord {
  /** A short label: `apiserver`, `speaker-l2lb-node1`, `pod-ingress` ... */
  readonly name: string
  readonly pid: number
  readonly log: string
  readonly argv: readonly string[]
  /**
   * Set when the program runs in a container (`npm run lab -- --image`): its name. `pid` is then the host PID of
   * the container's first process (node), so signals, liveness and /proc reach the program itself, not podman.
   */
  readonly container?: string
}

export interface StartOptions {
  readonly name: string
  readonly argv: readonly string[]
  readonly log: string
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
}

/** Starts a detached process writing stdout and stderr to `log`; resolves once it has a PID. */
export function startProcess(opts: StartOptions): Promise<ProcessRecord> {
  const [file, ...args] = opts.argv
  if (file === undefined) return Promise.reject(new Error(`${opts.name}: empty command`))
  const fd = openSync(opts.log, 'a')
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    })
    child.once('error', err => {
      closeSync(fd)
      reject(new Error(`${opts.name}: could not start ${opts.argv.join(' ')}: ${err.message}`))
    })
    child.once('spawn', () => {
      closeSync(fd)
      const pid = child.pid
      // Not waited on: `down` may run in another process, so the PID is all we keep.
      child.unref()
      if (pid === undefined) reject(new Error(`${opts.name}: no PID`))
      else resolve({ name: opts.name, pid, log: opts.log, argv: opts.argv })
    })
  })
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM means it exists but is not ours to signal; as root that does not happen, but it is alive.
    return err instanceof Error && 'code' in err && err.code === 'EPERM'
  }
}

/**
 * SIGTERM, wait up to `graceMs` for exit, then SIGKILL. nginx's master stops its workers on SIGTERM, which is
 * why the polite signal comes first. Children of the lab that we reap nowhere become zombies of init once
 * we exit, so "gone" is judged by kill(pid, 0) failing or /proc saying zombie.
 */
export async function stopProcess(pid: number, graceMs = 3000): Promise<'exited' | 'killed' | 'absent'> {
  if (!isAlive(pid) || isZombie(pid)) return 'absent'
  try { process.kill(pid, 'SIGTERM') } catch { return 'absent' }
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    await sleep(50)
    if (!isAlive(pid) || isZombie(pid)) return 'exited'
  }
  try { process.kill(pid, 'SIGKILL') } catch { return 'exited' }
  for (let i = 0; i < 40 && isAlive(pid) && !isZombie(pid); i++) await sleep(25)
  return 'killed'
}

function isZombie(pid: number): boolean {
  try {
    // /proc/PID/stat: "pid (comm) S ..."; comm may contain spaces or parens, so read after the last ')'.
    const stat = readProcStat(pid)
    const close = stat.lastIndexOf(')')
    const state = stat.slice(close + 2, close + 3)
    return state === 'Z'
  } catch {
    return false
  }
}

function readProcStat(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8')
}
