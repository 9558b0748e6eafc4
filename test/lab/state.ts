// `.lab/state.json`: what a running lab is made of, so `npm run lab -- down` (another process, maybe much
// later) can stop exactly those processes and namespaces.
import path from 'node:path'
import { readFile, writeFile, rename } from 'node:fs/promises'
import type { ProcessRecord } from './processes.js'

export interface LabState {
  readonly version: 1
  readonly startedAt: string
  readonly stateDir: string
  readonly nodeCount: number
  /** The machine's kubeconfig (server on the root link). */
  readonly kubeconfig: string
  readonly netns: string[]
  readonly processes: ProcessRecord[]
}

export function statePath(stateDir: string): string {
  return path.join(stateDir, 'state.json')
}

export async function saveState(state: LabState): Promise<void> {
  // Write-then-rename so a `down` racing a starting lab never reads half a file.
  const file = statePath(state.stateDir)
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n')
  await rename(`${file}.tmp`, file)
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function toProcessRecord(v: unknown): ProcessRecord | null {
  if (!isRecord(v)) return null
  const { name, pid, log, argv, container } = v
  if (typeof name !== 'string' || typeof pid !== 'number' || typeof log !== 'string' || !Array.isArray(argv)) return null
  return {
    name, pid, log, argv: argv.filter((a): a is string => typeof a === 'string'),
    ...(typeof container === 'string' ? { container } : {}),
  }
}

/** The saved state, or null when there is none (or it is unreadable: `down` then falls back to names). */
export async function loadState(stateDir: string): Promise<LabState | null> {
  let text: string
  try {
    text = await readFile(statePath(stateDir), 'utf8')
  } catch {
    return null
  }
  let v: unknown
  try { v = JSON.parse(text) } catch { return null }
  if (!isRecord(v) || v.version !== 1) return null
  const netns = Array.isArray(v.netns) ? v.netns.filter((n): n is string => typeof n === 'string') : []
  const processes = Array.isArray(v.processes) ? v.processes.map(toProcessRecord).filter((p): p is ProcessRecord => p !== null) : []
  return {
    version: 1,
    startedAt: typeof v.startedAt === 'string' ? v.startedAt : '',
    stateDir,
    nodeCount: typeof v.nodeCount === 'number' ? v.nodeCount : 3,
    kubeconfig: typeof v.kubeconfig === 'string' ? v.kubeconfig : path.join(stateDir, 'kubeconfig'),
    netns,
    processes,
  }
}
