// Label and field selectors with the grammar of k8s.io/apimachinery/pkg/labels and /fields.
import { badRequest } from './errors.js'

export type LabelRequirement =
  | { readonly op: 'exists' | 'notexists', readonly key: string }
  | { readonly op: 'in' | 'notin', readonly key: string, readonly values: readonly string[] }

export type LabelSelector = readonly LabelRequirement[]

/** Splits on commas that are not inside parentheses (the `in (a,b)` sets). */
function splitTopLevel (s: string): string[] {
  const out: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of s) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) { out.push(cur); cur = '' } else cur += ch
  }
  out.push(cur)
  return out
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

function checkKey (key: string, whole: string): string {
  if (!KEY.test(key)) throw badRequest(`unable to parse requirement: found '${key}', expected: identifier in selector "${whole}"`)
  return key
}

function checkValue (value: string, whole: string): string {
  if (!VALUE.test(value)) throw badRequest(`unable to parse requirement: invalid label value: "${value}" in selector "${whole}"`)
  return value
}

export function parseLabelSelector (s: string): LabelSelector {
  const reqs: LabelRequirement[] = []
  if (s.trim() === '') return reqs
  for (const raw of splitTopLevel(s)) {
    const part = raw.trim()
    let m: RegExpExecArray | null
    if ((m = /^!\s*(\S+)$/.exec(part)) !== null) {
      reqs.push({ op: 'notexists', key: checkKey(m[1] ?? '', s) })
    } else if ((m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)) !== null) {
      const values = (m[3] ?? '').split(',').map(v => checkValue(v.trim(), s))
      reqs.push({ op: m[2] === 'in' ? 'in' : 'notin', key: checkKey(m[1] ?? '', s), values })
    } else if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part)) !== null) {
      const key = checkKey(m[1] ?? '', s)
      const value = checkValue(m[3] ?? '', s)
      reqs.push({ op: m[2] === '!=' ? 'notin' : 'in', key, values: [value] })
    } else if (/^\S+$/.test(part)) {
      reqs.push({ op: 'exists', key: checkKey(part, s) })
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt in selector "${s}"`)
    }
  }
  return reqs
}

export function matchesLabels (sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return sel.every(r => {
    const has = Object.hasOwn(labels, r.key)
    switch (r.op) {
      case 'exists': return has
      case 'notexists': return !has
      case 'in': return has && r.values.includes(labels[r.key] ?? '')
      // `!=` and notin match objects that lack the key, as in apimachinery.
      case 'notin': return !has || !r.values.includes(labels[r.key] ?? '')
    }
    return false
  })
}

export interface FieldRequirement { readonly field: string, readonly value: string, readonly equal: boolean }
export type FieldSelector = readonly FieldRequirement[]

/** Field selectors: `f=v`, `f==v`, `f!=v`, joined by commas; only fields the resource supports. */
export function parseFieldSelector (s: string, supported: readonly string[]): FieldSelector {
  const reqs: FieldRequirement[] = []
  if (s.trim() === '') return reqs
  for (const raw of s.split(',')) {
    const part = raw.trim()
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part)
    if (m === null) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`)
    const field = m[1] ?? ''
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`)
    reqs.push({ field, value: m[3] ?? '', equal: m[2] !== '!=' })
  }
  return reqs
}

export function matchesFields (sel: FieldSelector, fields: Readonly<Record<string, string>>): boolean {
  return sel.every(r => ((fields[r.field] ?? '') === r.value) === r.equal)
}
