// The OpenAPI v3 schemas of the golden documents, used the way the real server uses its Go types:
// decoding drops unknown fields (reported under fieldValidation=Strict/Warn), rejects wrongly typed
// values and timestamps their Go type cannot parse, and strategic merge patch reads each list's patch
// strategy and merge key.
import { DecodeError } from './errors.js'
import { formatGoTime, GoTimeParseError, parseGoTime, RFC3339, RFC3339_MICRO } from './gotime.js'
import { isObject, type Json, type JsonObject } from './json.js'
import type { SchemaResolver } from './patch.js'

export class SchemaIndex implements SchemaResolver {
  private readonly components = new Map<string, JsonObject>()
  private readonly byGvk = new Map<string, JsonObject>()

  /** Adds one OpenAPI v3 document's components. */
  add (doc: Json): void {
    const schemas = isObject(doc) && isObject(doc.components) && isObject(doc.components.schemas) ? doc.components.schemas : {}
    for (const [name, s] of Object.entries(schemas)) {
      if (!isObject(s)) continue
      this.components.set(name, s)
      const gvks = s['x-kubernetes-group-version-kind']
      if (Array.isArray(gvks)) {
        for (const g of gvks) {
          if (isObject(g)) this.byGvk.set(`${String(g.group)}/${String(g.version)}/${String(g.kind)}`, s)
        }
      }
    }
  }

  forKind (group: string, version: string, kind: string): JsonObject | undefined {
    return this.byGvk.get(`${group}/${version}/${kind}`)
  }

  resolve (schema: JsonObject | undefined): JsonObject | undefined {
    let s = schema
    for (let depth = 0; s !== undefined && depth < 10; depth++) {
      const ref = typeof s.$ref === 'string' ? s.$ref : undefined
      const allOf = Array.isArray(s.allOf) ? s.allOf[0] : undefined
      const target = ref ?? (isObject(allOf) && typeof allOf.$ref === 'string' ? allOf.$ref : undefined)
      if (target === undefined) return s
      s = this.components.get(target.replace('#/components/schemas/', ''))
    }
    return s
  }
}

export interface DecodeContext { readonly kind: string, readonly version: string }

function goType (s: JsonObject): string {
  if (s.type === 'integer') return s.format === 'int64' ? 'int64' : 'int32'
  if (s.type === 'number') return 'float64'
  if (s.type === 'boolean') return 'bool'
  return 'string'
}

function jsonTypeName (v: Json): string {
  if (Array.isArray(v)) return 'array'
  if (isObject(v)) return 'object'
  return typeof v
}

/**
 * Removes the fields the schema does not know (returning their paths, e.g. `spec.ports[0].foo`) and
 * rejects what decoding into the Go struct rejects, with the decoder's 400: a value of the wrong JSON type
 * (noted, decoding goes on, the first one is reported at the end, as encoding/json's saved errors are) or a
 * timestamp its type cannot parse (at once: metav1.Time and MicroTime's UnmarshalJSON fail the decode).
 * Timestamps are rewritten as Go re-marshals them; map keys are put in sorted order, the order Go writes.
 */
export function pruneUnknown (index: SchemaIndex, root: JsonObject, schema: JsonObject | undefined, ctx: DecodeContext): string[] {
  const unknown: string[] = []
  const fail = (detail: string): DecodeError => new DecodeError(`${ctx.kind} in version "${ctx.version}" cannot be handled as a ${ctx.kind}: ${detail}`, detail)
  let typeError: DecodeError | undefined
  const wrongType = (path: string, v: Json, s: JsonObject): void => {
    typeError ??= fail(`json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ${ctx.kind}.${path} of type ${goType(s)}`)
  }
  const walk = (v: Json, sch: JsonObject | undefined, path: string, setValue: (x: Json) => void): void => {
    const time = timeKind(sch)
    if (time !== undefined && typeof v === 'string') {
      try {
        setValue(normalizeTime(v, time))
      } catch (e) {
        if (e instanceof GoTimeParseError) throw fail(e.message)
        throw e
      }
      return
    }
    const s = index.resolve(sch)
    if (s === undefined || v === null) return
    if (s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-embedded-resource'] === true) return
    if (s['x-kubernetes-int-or-string'] === true || s.format === 'int-or-string') {
      if (typeof v !== 'number' && typeof v !== 'string') wrongType(path, v, { type: 'string' })
      return
    }
    const join = (k: string): string => path === '' ? k : `${path}.${k}`
    switch (s.type) {
      case 'object': {
        if (!isObject(v)) { wrongType(path, v, s); return }
        const props = isObject(s.properties) ? s.properties : undefined
        const extra = isObject(s.additionalProperties) ? s.additionalProperties : undefined
        for (const k of Object.keys(v)) {
          const p = props?.[k]
          if (isObject(p)) walk(v[k] ?? null, p, join(k), x => { v[k] = x })
          else if (extra !== undefined) walk(v[k] ?? null, extra, join(k), x => { v[k] = x })
          else if (props !== undefined || s.additionalProperties === false) { unknown.push(join(k)); delete v[k] }
        }
        if (props === undefined && extra !== undefined) {
          // Go serialises maps with sorted keys (labels, annotations, selector, data, ...).
          const entries = Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
          for (const [k] of entries) delete v[k]
          for (const [k, x] of entries) v[k] = x
        }
        return
      }
      case 'array': {
        if (!Array.isArray(v)) { wrongType(path, v, s); return }
        const items = isObject(s.items) ? s.items : undefined
        v.forEach((x, i) => walk(x, items, `${path}[${i}]`, y => { v[i] = y }))
        return
      }
      case 'string': if (typeof v !== 'string') wrongType(path, v, s); return
      case 'boolean': if (typeof v !== 'boolean') wrongType(path, v, s); return
      case 'integer': if (typeof v !== 'number' || !Number.isInteger(v)) wrongType(path, v, s); return
      case 'number': if (typeof v !== 'number') wrongType(path, v, s)
    }
  }
  walk(root, schema, '', () => undefined)
  if (typeError !== undefined) throw typeError
  return unknown
}

/** metav1.Time or metav1.MicroTime, from the $ref (both are `type: string, format: date-time` in OpenAPI). */
function timeKind (schema: JsonObject | undefined): 'time' | 'micro' | undefined {
  const allOf = Array.isArray(schema?.allOf) ? schema?.allOf[0] : undefined
  const ref = typeof schema?.$ref === 'string' ? schema.$ref : isObject(allOf) && typeof allOf.$ref === 'string' ? allOf.$ref : ''
  if (ref.endsWith('.meta.v1.Time')) return 'time'
  if (ref.endsWith('.meta.v1.MicroTime')) return 'micro'
  return undefined
}

/**
 * A timestamp decoded and re-marshalled as the Go types do: metav1.Time parses RFC 3339 (any fraction, or
 * none) and writes whole seconds; MicroTime parses "2006-01-02T15:04:05.000000Z07:00" (exactly six
 * fractional digits) and writes six. Both write UTC with `Z`, and null for Go's zero time. Throws
 * GoTimeParseError with Go's message when the text does not parse.
 */
export function normalizeTime (text: string, kind: 'time' | 'micro'): string | null {
  const layout = kind === 'micro' ? RFC3339_MICRO : RFC3339
  return formatGoTime(layout, parseGoTime(layout, text))
}
