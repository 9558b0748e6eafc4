// What a real kube-apiserver does with a custom resource's body through its CRD's structural schema
// (`openAPIV3Schema`), in the order it does it: pruning of unknown fields (apiextensions-apiserver
// pkg/apiserver/schema/pruning), defaulting (schema/defaulting) and validation (kube-openapi's validate, as
// apiextensions-apiserver pkg/apiserver/validation calls it). Only the cheap keywords are checked; README.md
// lists what is not. Pure functions over JSON.
import { fieldRequired, fieldUnsupported, showValue, type StatusCause } from './errors.js'
import { clone, isObject, type Json, type JsonObject } from './json.js'

/** The JSON type name kube-openapi reports for a value (`"string"`, `"integer"`, `"null"`, ...). */
function typeName (v: Json): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number'
  return typeof v === 'object' ? 'object' : typeof v
}

function propsOf (s: JsonObject): JsonObject | undefined {
  return isObject(s.properties) ? s.properties : undefined
}

const join = (path: string, k: string): string => path === '' ? k : `${path}.${k}`

/**
 * Drops the fields the schema does not declare (unless `x-kubernetes-preserve-unknown-fields`), returning
 * their paths sorted (`spec.foo`), as the server's Warning headers name them. `metadata`, `apiVersion` and
 * `kind` at the root are the server's, never pruned here.
 */
export function pruneStructural (root: JsonObject, schema: JsonObject): string[] {
  const unknown: string[] = []
  const walk = (v: Json, s: JsonObject | undefined, path: string): void => {
    if (s === undefined || s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-embedded-resource'] === true) return
    if (isObject(v)) {
      const props = propsOf(s)
      const extra = isObject(s.additionalProperties) ? s.additionalProperties : undefined
      for (const k of Object.keys(v)) {
        if (path === '' && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue
        const p = props?.[k]
        if (isObject(p)) walk(v[k] ?? null, p, join(path, k))
        else if (extra !== undefined) walk(v[k] ?? null, extra, join(path, k))
        else if (s.additionalProperties !== true) { unknown.push(join(path, k)); delete v[k] }
      }
    } else if (Array.isArray(v)) {
      const items = isObject(s.items) ? s.items : undefined
      v.forEach((x, i) => walk(x, items, `${path}[${i}]`))
    }
  }
  walk(root, schema, '')
  return unknown.sort()
}

/** Fills in each absent property that has a `default`, in every object the body has (not in absent ones). */
export function defaultStructural (root: JsonObject, schema: JsonObject): void {
  const walk = (v: Json, s: JsonObject | undefined): void => {
    if (s === undefined) return
    if (isObject(v)) {
      const props = propsOf(s)
      for (const [k, p] of Object.entries(props ?? {})) {
        if (!isObject(p)) continue
        if (v[k] === undefined && p.default !== undefined) v[k] = clone(p.default)
        if (v[k] !== undefined) walk(v[k] ?? null, p)
      }
      const extra = isObject(s.additionalProperties) ? s.additionalProperties : undefined
      if (props === undefined && extra !== undefined) for (const k of Object.keys(v)) walk(v[k] ?? null, extra)
    } else if (Array.isArray(v)) {
      const items = isObject(s.items) ? s.items : undefined
      for (const x of v) walk(x, items)
    }
  }
  walk(root, schema)
}

/**
 * The schema's verdict on an object, as 422 causes in kube-openapi's words: `type` (FieldValueTypeInvalid
 * `Invalid value: "string": spec.x in body must be of type array: "string"`), `required` (FieldValueRequired,
 * reported after the object's properties), `enum`, `minimum`/`maximum` (also exclusive), `minLength`/
 * `maxLength`, `minItems`/`maxItems`, `nullable`. The root's `metadata`, `apiVersion` and `kind` are the
 * server's own checks.
 */
export function validateStructural (root: JsonObject, schema: JsonObject): StatusCause[] {
  const causes: StatusCause[] = []
  const bad = (path: string, v: Json, detail: string): void => {
    causes.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: ${showValue(v)}: ${path} in body ${detail}` })
  }
  const walk = (v: Json, s: JsonObject, path: string): void => {
    if (v === null) {
      if (s.nullable === true || s['x-kubernetes-preserve-unknown-fields'] === true || s.type === undefined) return
    }
    const type = typeof s.type === 'string' ? s.type : undefined
    const actual = typeName(v)
    const intOrString = s['x-kubernetes-int-or-string'] === true
    if (intOrString ? actual !== 'integer' && actual !== 'string' : type !== undefined && actual !== type && !(type === 'number' && actual === 'integer')) {
      const expected = intOrString ? 'integer,string' : type ?? ''
      causes.push({ reason: 'FieldValueTypeInvalid', field: path, message: `Invalid value: "${actual}": ${path} in body must be of type ${expected}: "${actual}"` })
      return
    }
    if (Array.isArray(s.enum) && !s.enum.some(e => JSON.stringify(e) === JSON.stringify(v))) {
      causes.push(fieldUnsupported(path, v, s.enum.map(e => typeof e === 'string' ? e : JSON.stringify(e))))
    }
    if (typeof v === 'number') {
      if (typeof s.minimum === 'number' && (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum)) bad(path, v, `should be greater than ${s.exclusiveMinimum === true ? '' : 'or equal to '}${s.minimum}`)
      if (typeof s.maximum === 'number' && (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum)) bad(path, v, `should be less than ${s.exclusiveMaximum === true ? '' : 'or equal to '}${s.maximum}`)
    }
    if (typeof v === 'string') {
      const n = [...v].length
      if (typeof s.maxLength === 'number' && n > s.maxLength) causes.push({ reason: 'FieldValueTooLong', field: path, message: `Too long: may not be more than ${s.maxLength} bytes` })
      if (typeof s.minLength === 'number' && n < s.minLength) bad(path, v, `should be at least ${s.minLength} chars long`)
    }
    if (Array.isArray(v)) {
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) causes.push({ reason: 'FieldValueTooMany', field: path, message: `Too many: ${v.length}: must have at most ${s.maxItems} items` })
      if (typeof s.minItems === 'number' && v.length < s.minItems) bad(path, v.length, `should have at least ${s.minItems} items`)
      const items = isObject(s.items) ? s.items : undefined
      if (items !== undefined) v.forEach((x, i) => walk(x, items, `${path}[${i}]`))
    }
    if (isObject(v)) {
      const props = propsOf(s) ?? {}
      for (const k of Object.keys(props).sort()) {
        const p = props[k]
        if (path === '' && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue
        if (isObject(p) && v[k] !== undefined) walk(v[k] ?? null, p, join(path, k))
      }
      const extra = isObject(s.additionalProperties) ? s.additionalProperties : undefined
      if (extra !== undefined) for (const k of Object.keys(v).sort()) if (props[k] === undefined) walk(v[k] ?? null, extra, join(path, k))
      for (const r of Array.isArray(s.required) ? s.required : []) {
        if (typeof r === 'string' && v[r] === undefined) causes.push(fieldRequired(join(path, r)))
      }
    }
  }
  walk(root, schema, '')
  return causes
}

/** Keys sorted at every level: how Go marshals the map[string]interface{} a custom resource is stored as. */
export function sortKeysDeep (v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeysDeep)
  if (!isObject(v)) return v
  const out: JsonObject = {}
  for (const k of Object.keys(v).sort()) out[k] = sortKeysDeep(v[k] ?? null)
  return out
}
