// Access to test/apiserver/golden/: responses captured from a real kube-apiserver 1.32 and the exact
// requests of kubectl 1.32 (public Kubernetes API data; golden/README.md lists the captures). The stand-in
// serves discovery and OpenAPI documents from there (filtered to what it implements) so their shapes are
// the real ones rather than a hand-written approximation, and the tests compare its answers with them.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** `test/apiserver/golden`, beside this file: part of the repository, so a fresh clone has it. */
export function goldenDir (): string {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'golden')
  if (!existsSync(dir)) throw new Error(`golden directory not found at ${dir}`)
  return dir
}

export interface GoldenResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Parses one `*.txt` capture: `# ...` request lines, the HTTP status line, headers, a blank line, the body. */
export function readGolden (dir: string, file: string): GoldenResponse {
  const text = readFileSync(join(dir, file), 'utf8')
  const lines = text.split('\n')
  let i = 0
  while (i < lines.length && (lines[i] ?? '').startsWith('#')) i++
  const statusLine = lines[i] ?? ''
  const m = /^HTTP\/[\d.]+ (\d+)/.exec(statusLine)
  if (m === null) throw new Error(`${file}: no HTTP status line`)
  i++
  const headers: Record<string, string> = {}
  for (; i < lines.length && (lines[i] ?? '') !== ''; i++) {
    const line = lines[i] ?? ''
    const c = line.indexOf(':')
    if (c > 0) headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim()
  }
  return { status: Number(m[1]), headers, body: lines.slice(i + 1).join('\n') }
}

export function readGoldenJson (dir: string, file: string): unknown {
  return JSON.parse(readGolden(dir, file).body)
}

export function readGoldenFile (dir: string, file: string): string {
  return readFileSync(join(dir, file), 'utf8')
}

/** The request a capture was made with: method, path (with query), the `# Content-Type:` and `# Body:` lines if any. */
export function readGoldenRequest (dir: string, file: string): { method: string, path: string, contentType: string | undefined, body: string | undefined } {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n')
  const first = /^# (\w+) (\S+)/.exec(lines[0] ?? '')
  if (first === null) throw new Error(`${file}: no request line`)
  const header = (name: string): string | undefined => lines.find(l => l.startsWith(`# ${name}: `))?.slice(`# ${name}: `.length)
  return { method: first[1] ?? '', path: first[2] ?? '', contentType: header('Content-Type'), body: header('Body') }
}
