// The one-way import rule of docs/architecture.md ("Layout and the one-way import rule"), checked over the
// sources so a newcomer's import that breaks it fails here rather than in a review: controller/ and speaker/
// are peers standing on internal/, neither imports from the other, internal/ imports from neither, and the
// pure core folders import only core folders (and no Kubernetes client at run time).
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter(e => e.isFile() && e.name.endsWith('.ts'))
    .map(e => relative(root, join(e.parentPath, e.name)))
}

interface ImportLine { readonly file: string, readonly line: number, readonly spec: string, readonly typeOnly: boolean, readonly target: string | null }

/** Every static or dynamic import of a file; target: the repository path a relative import names, else null. */
function importsOf(file: string): ImportLine[] {
  const out: ImportLine[] = []
  const text = readFileSync(join(root, file), 'utf8')
  const re = /(import\s+type\b[^'"]*?from\s*|import\b[^'"]*?from\s*|import\s*\(\s*|export\b[^'"]*?from\s*)(['"])([^'"]+)\2/g
  for (const m of text.matchAll(re)) {
    const spec = m[3]!
    const line = text.slice(0, m.index).split('\n').length
    const target = spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) : null
    out.push({ file, line, spec, typeOnly: m[1]!.startsWith('import type') || /^import\s*\{\s*type\b[^}]*\}\s*from/.test(m[0]), target })
  }
  return out
}

const top = (path: string): string => path.split('/')[0]!
const isCore = (path: string): boolean => /^(internal|controller|speaker)\/core\//.test(path)

const all = ['internal', 'controller', 'speaker'].flatMap(sources).flatMap(importsOf)

t.test('the sources are there to check', async t => {
  for (const dir of ['internal', 'controller', 'speaker']) {
    t.ok(all.some(i => top(i.file) === dir), `${dir}/ has imports`)
  }
})

t.test('controller/ and speaker/ do not import from each other', async t => {
  const crossing = all.filter(i => i.target !== null && (
    (top(i.file) === 'controller' && top(i.target) === 'speaker') ||
    (top(i.file) === 'speaker' && top(i.target) === 'controller')))
  t.same(crossing.map(i => `${i.file}:${i.line} ${i.spec}`), [], 'shared code goes to internal/')
})

t.test('internal/ imports only from internal/', async t => {
  const upward = all.filter(i => top(i.file) === 'internal' && i.target !== null && top(i.target) !== 'internal')
  t.same(upward.map(i => `${i.file}:${i.line} ${i.spec}`), [])
})

t.test('the core folders import only core folders: their own program\'s and internal/core', async t => {
  const impure = all.filter(i => isCore(i.file) && i.target !== null &&
    !(isCore(i.target) && (top(i.target) === 'internal' || top(i.target) === top(i.file))))
  t.same(impure.map(i => `${i.file}:${i.line} ${i.spec}`), [])
  const client = all.filter(i => isCore(i.file) && i.spec === '@kubernetes/client-node' && !i.typeOnly)
  t.same(client.map(i => `${i.file}:${i.line}`), [], 'a core module uses the client\'s types only')
})
