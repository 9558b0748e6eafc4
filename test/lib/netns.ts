// Shared fixtures for the integration tests that need real links: a veth pair between two network
// namespaces of the test's own (`l2lb-t<tag>-a-<pid>`, so two runs at once never touch each other's; stale
// ones of dead runs are deleted), the skip reason when the machine cannot do it, and a bounded wait.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'

export const run = promisify(execFile)

/**
 * A tool whose failure is an answer (arping or ndisc6 hearing no reply): its exit code (1 when it has none,
 * as on a timeout) and its stdout, whether it succeeded or not.
 */
export async function runStatus(cmd: string, args: string[], opts: { timeout: number }): Promise<{ code: number; out: string }> {
  try {
    return { code: 0, out: (await run(cmd, args, opts)).stdout }
  } catch (err) {
    return {
      code: Number(err instanceof Error ? Reflect.get(err, 'code') : 1) || 1,
      out: err instanceof Error ? String(Reflect.get(err, 'stdout') ?? '') : '',
    }
  }
}

export interface VethPair {
  readonly nsA: string
  readonly nsB: string
  readonly ifA: string
  readonly ifB: string
  /** Deletes stale namespaces of this tag, creates both namespaces and the linked, addressed veth pair. */
  create(): Promise<void>
  /** The veth pair alone, addressed and up (again after `ip link del`). */
  link(): Promise<void>
  /** Deletes both namespaces (and with them the pair); never throws. */
  drop(): Promise<void>
  /** The interface's MAC, 'aa:bb:..', as the kernel shows it. */
  mac(side: 'a' | 'b'): Promise<string>
}

export interface VethOptions {
  /** Addresses with their prefix length, e.g. '192.0.2.201/24'. */
  addrA?: string
  addrB?: string
  /** IPv6 without duplicate address detection: usable at once, no tentative period (RFC 4862 §5.4). */
  nodad?: boolean
}

export function vethPair(tag: string, opts: VethOptions = {}): VethPair {
  const nsA = `l2lb-t${tag}-a-${process.pid}`
  const nsB = `l2lb-t${tag}-b-${process.pid}`
  const ifA = `t${tag}-a`
  const ifB = `t${tag}-b`
  const drop = async (): Promise<void> => {
    for (const ns of [nsA, nsB]) await run('ip', ['netns', 'del', ns]).catch(() => undefined)
  }
  const link = async (): Promise<void> => {
    await run('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB])
    for (const [ns, dev, addr] of [[nsA, ifA, opts.addrA], [nsB, ifB, opts.addrB]] as const) {
      if (addr !== undefined) await run('ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev, ...(opts.nodad === true ? ['nodad'] : [])])
      await run('ip', ['-n', ns, 'link', 'set', dev, 'up'])
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    }
  }
  return {
    nsA, nsB, ifA, ifB, link, drop,
    create: async () => {
      await dropStale(tag)
      await drop()
      await run('ip', ['netns', 'add', nsA])
      await run('ip', ['netns', 'add', nsB])
      await link()
    },
    mac: async side => {
      const [ns, dev] = side === 'a' ? [nsA, ifA] : [nsB, ifB]
      return (await run('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/address`])).stdout.trim()
    },
  }
}

/** Deletes namespaces left by runs of this tag that were killed before their teardown. */
async function dropStale(tag: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list'])
  for (const m of stdout.matchAll(new RegExp(`^(l2lb-t${tag}-[ab]-(\\d+))\\b`, 'gm'))) {
    const [, ns = '', pid = ''] = m
    if (Number(pid) === process.pid || isAlive(Number(pid))) continue
    await run('ip', ['netns', 'del', ns]).catch(() => undefined)
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Why the namespace tests cannot run here, or null: they need Linux, root, working `ip netns`, the built
 * addon when `addonPath` is given, and each tool in `tools` ([command, how to install]).
 */
export async function netnsSkipReason(addonPath?: string, tools: ReadonlyArray<readonly [cmd: string, install: string]> = []): Promise<string | null> {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'not root'
  if (addonPath !== undefined && !existsSync(addonPath)) return `the addon is not built (${addonPath}); run npm run install`
  try {
    await run('ip', ['netns', 'list'])
  } catch (err) {
    return `ip netns does not work: ${err instanceof Error ? err.message : String(err)}`
  }
  for (const [cmd, install] of tools) {
    try {
      await run(cmd, ['-V'])
    } catch {
      return `${cmd} is not installed (${install})`
    }
  }
  return null
}

/** Polls `cond` until it holds or `timeoutMs` passes, so a loaded machine delays a test rather than failing it. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) return false
    await new Promise(r => setTimeout(r, stepMs))
  }
  return true
}

/** A number inside a JSON value, NaN when absent. */
export function pick(value: unknown, ...keys: string[]): number {
  let v = value
  for (const k of keys) v = typeof v === 'object' && v !== null ? Reflect.get(v, k) : undefined
  return typeof v === 'number' ? v : NaN
}
