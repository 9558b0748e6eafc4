// `npm run bench` runs every group; `npm run bench -- allocator datapath` runs those. A group is any module
// `bench/<group>.ts` exporting `run: RunGroup` (bench/lib/figures.ts): adding a file is all it takes. Results
// merge into bench/results.json (docs/reference.md, "Bench results format"): the figures of the groups run
// replace their old ones, the others stay.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Figure, Results, RunGroup } from './lib/figures.js'

const here = dirname(fileURLToPath(import.meta.url))
const resultsPath = join(here, 'results.json')

function availableGroups(): string[] {
  return readdirSync(here)
    .filter(f => f.endsWith('.ts') && f !== 'main.ts' && !f.endsWith('.d.ts'))
    .map(f => f.slice(0, -3))
    .sort()
}

function isGroup(mod: unknown): mod is { run: RunGroup } {
  return typeof mod === 'object' && mod !== null && 'run' in mod && typeof mod.run === 'function'
}

function isFigure(v: unknown): v is Figure {
  if (typeof v !== 'object' || v === null) return false
  const o: Record<string, unknown> = { ...v }
  return typeof o.name === 'string' && typeof o.value === 'number' && typeof o.unit === 'string'
}

function readPrevious(): Figure[] {
  if (!existsSync(resultsPath)) return []
  try {
    const doc: unknown = JSON.parse(readFileSync(resultsPath, 'utf8'))
    const figures = typeof doc === 'object' && doc !== null && 'figures' in doc ? doc.figures : []
    return Array.isArray(figures) ? figures.filter(isFigure) : []
  } catch {
    return [] // an unreadable file is replaced, not merged
  }
}

function table(figures: readonly Figure[]): string {
  const rows = figures.map(f => [
    f.name,
    String(f.value),
    f.unit,
    f.baseline ? `${f.baseline.name}: ${f.baseline.value}` : '',
    f.ratio !== undefined ? String(f.ratio) : '',
  ])
  const head = ['figure', 'value', 'unit', 'baseline', 'ratio']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => (i === 1 || i === 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
  return [line(head), line(widths.map(w => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

async function main(): Promise<number> {
  const available = availableGroups()
  const wanted = process.argv.slice(2).filter(a => a !== '--')
  const unknown = wanted.filter(g => !available.includes(g))
  if (unknown.length > 0) {
    console.error(`unknown bench group ${unknown.join(', ')}; available: ${available.join(', ')}`)
    return 2
  }
  const groups = wanted.length > 0 ? wanted : available
  const fresh: Figure[] = []
  for (const g of groups) {
    const mod: unknown = await import(pathToFileURL(join(here, `${g}.ts`)).href)
    if (!isGroup(mod)) {
      console.error(`bench/${g}.ts exports no run function`)
      return 2
    }
    console.error(`# ${g}`)
    const start = performance.now()
    const figures = await mod.run(line => console.error(`  ${line}`))
    console.error(`# ${g}: ${figures.length} figures in ${((performance.now() - start) / 1000).toFixed(1)} s`)
    fresh.push(...figures)
  }
  const kept = readPrevious().filter(f => !groups.some(g => f.name.startsWith(`${g}.`)))
  const results: Results = {
    machine: `${cpus().length} cores, Node ${process.version}`,
    at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    figures: [...kept, ...fresh].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  }
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`)
  console.log(table(fresh))
  console.log(`(written to bench/results.json)`)
  return 0
}

process.exitCode = await main()
