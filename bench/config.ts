// The worst pool ConfigMaps, in both programs' code paths (issue "No ConfigMap takes l2lb down"): for each case
// of bench/lib/config-cases.ts, what the controller does with it (parse, then the allocator takes the pools
// while 64 Services hold addresses) and what a speaker does (parse, then the advertisement of those 64), each
// beside js-yaml's load of the same text alone, the floor any parser of this format pays, measured in the
// same run. Figures: CPU ms, the longest event-loop block in ms (what a Lease renewal timer would be late by)
// and the extra peak resident memory in MiB. Goal: every case accepted or refused within 1 s of CPU and
// 64 MiB in both programs. Each measurement runs in a fresh process (bench/lib/config-child.ts), bounded by
// CHILD_TIMEOUT_MS: a case that hangs is reported at that bound, never waited out, and with the node flags
// config/default gives that program (the speaker's --max-semi-space-size=1 is V8's, so it holds for its
// config-parsing thread too: about 15% less CPU and 30 MiB less peak there than without it).
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CONFIG_CASES } from './lib/config-cases.js'
import { compared, round, type Figure, type RunGroup } from './lib/figures.js'
import { shippedNodeFlags } from './lib/shipped-args.js'

const execFileAsync = promisify(execFile)
const CHILD_TIMEOUT_MS = 30_000
const childPath = fileURLToPath(new URL('./lib/config-child.ts', import.meta.url))

interface ChildResult { outcome: string, cpuMs: number, maxBlockMs: number, extraPeakRssMiB: number }

async function measure(caseName: string, path: 'yaml' | 'controller' | 'speaker'): Promise<ChildResult> {
  try {
    const flags = path === 'yaml' ? [] : shippedNodeFlags(path)
    const { stdout } = await execFileAsync(process.execPath, [...flags, '--expose-gc', '--import', 'tsx', childPath, caseName, path], { timeout: CHILD_TIMEOUT_MS, maxBuffer: 1 << 20 })
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ChildResult
  } catch (err) {
    const e = err as { killed?: boolean, signal?: string, message?: string }
    const why = e.killed === true ? `no answer in ${CHILD_TIMEOUT_MS} ms` : `died: ${(e.message ?? '').split('\n')[0] ?? ''}`
    return { outcome: why, cpuMs: CHILD_TIMEOUT_MS, maxBlockMs: CHILD_TIMEOUT_MS, extraPeakRssMiB: Number.NaN }
  }
}

export const run: RunGroup = async log => {
  const figures: Figure[] = []
  for (const c of CONFIG_CASES) {
    const yaml = await measure(c.name, 'yaml')
    for (const path of ['controller', 'speaker'] as const) {
      const m = await measure(c.name, path)
      const within = m.cpuMs <= 1000 && m.extraPeakRssMiB <= 64
      log(`${c.name.padEnd(20)} ${path.padEnd(10)} ${m.cpuMs.toFixed(0).padStart(6)} ms CPU (yaml alone ${yaml.cpuMs.toFixed(0)}), block ${m.maxBlockMs.toFixed(0)} ms, +${m.extraPeakRssMiB.toFixed(1)} MiB ${within ? 'ok ' : 'OVER'} ${m.outcome.slice(0, 70)}`)
      const name = `config.${c.name}.${path}`
      figures.push(compared(`${name}.cpu_ms`, round(m.cpuMs, 1), 'ms', `config.${c.name}.yaml_load.cpu_ms`, Math.max(round(yaml.cpuMs, 1), 0.1)))
      figures.push({ name: `${name}.max_block_ms`, value: round(m.maxBlockMs, 1), unit: 'ms' })
      figures.push({ name: `${name}.extra_peak_rss_mib`, value: round(m.extraPeakRssMiB, 1), unit: 'MiB' })
    }
  }
  return figures
}
