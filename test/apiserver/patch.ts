// The three patch formats the API server accepts on PATCH: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902, with `test`), and Kubernetes strategic merge patch, whose list semantics (merge by key,
// `$patch`, `$setElementOrder`, `$retainKeys`, `$deleteFromPrimitiveList`) come from the OpenAPI schema's
// x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key, as the real server reads them.
import { ApiError, badRequest } from './errors.js'
import { goJson, goJsonString, goLess, goSprintV } from './gofmt.js'
import { clone, deepEqual, isObject, type Json, type JsonObject } from './json.js'

export function mergePatch (target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch)
  const out: JsonObject = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k] ?? null, v)
  }
  return out
}

function patchFailed (message: string): ApiError {
  // What apiserver's patcher answers when a well-formed JSON patch cannot be applied (e.g. a failed test).
  return new ApiError(422, 'Invalid', message)
}

function decodePointer (path: string): string[] {
  if (path === '') return []
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer: "${path}"`)
  return path.slice(1).split('/').map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function arrayIndex (token: string, length: number, forAdd: boolean): number {
  if (forAdd && token === '-') return length
  if (!/^(0|[1-9]\d*)$/.test(token)) throw patchFailed(`invalid array index: ${token}`)
  const i = Number(token)
  if (i > length || (!forAdd && i === length)) throw patchFailed(`array index out of bounds: ${token}`)
  return i
}

/** Returns the parent container and last token of a pointer, failing when the parent is missing. */
function parentOf (doc: Json, tokens: string[], path: string): { parent: JsonObject | Json[], last: string } {
  let cur: Json = doc
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false)] ?? null
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t] ?? null
    else throw patchFailed(`doc is missing path: "${path}": missing value`)
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw patchFailed(`doc is missing path: "${path}": missing value`)
  return { parent: cur, last: tokens[tokens.length - 1] ?? '' }
}

function getAt (doc: Json, path: string): Json {
  let cur: Json = doc
  for (const t of decodePointer(path)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false)] ?? null
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t] ?? null
    else throw patchFailed(`doc is missing path: "${path}": missing value`)
  }
  return cur
}

function addAt (doc: Json, path: string, value: Json): Json {
  const tokens = decodePointer(path)
  if (tokens.length === 0) return value
  const { parent, last } = parentOf(doc, tokens, path)
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value)
  else parent[last] = value
  return doc
}

function removeAt (doc: Json, path: string): Json {
  const tokens = decodePointer(path)
  const { parent, last } = parentOf(doc, tokens, path)
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1)
  else if (Object.hasOwn(parent, last)) delete parent[last]
  else throw patchFailed(`doc is missing path: "${path}": missing value`)
  return doc
}

export function jsonPatch (target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
  let doc = clone(target)
  for (const op of ops) {
    if (!isObject(op)) throw badRequest('invalid JSON patch operation')
    const path = op.path
    if (typeof path !== 'string') throw patchFailed(`missing path in operation ${JSON.stringify(op)}`)
    const value = op.value === undefined ? null : clone(op.value)
    switch (op.op) {
      case 'add': doc = addAt(doc, path, value); break
      case 'remove': doc = removeAt(doc, path); break
      case 'replace': getAt(doc, path); doc = addAt(removeAt(doc, path), path, value); break
      case 'move':
      case 'copy': {
        const from = op.from
        if (typeof from !== 'string') throw patchFailed(`missing from in operation ${JSON.stringify(op)}`)
        const v = clone(getAt(doc, from))
        if (op.op === 'move') doc = removeAt(doc, from)
        doc = addAt(doc, path, v)
        break
      }
      case 'test':
        if (!deepEqual(getAt(doc, path), value)) throw patchFailed(`testing value ${path} failed: test failed`)
        break
      default: throw badRequest(`Unexpected kind: ${String(op.op)}`)
    }
  }
  return doc
}

/** Resolves the patch-relevant parts of an OpenAPI v3 schema: $ref and allOf chains, properties, items. */
export interface SchemaResolver { resolve: (schema: JsonObject | undefined) => JsonObject | undefined }

interface FieldMeta { strategy: string[], mergeKey: string | undefined, schema: JsonObject | undefined }

function fieldMeta (resolver: SchemaResolver, parent: JsonObject | undefined, key: string): FieldMeta {
  const props = resolver.resolve(parent)?.properties
  const prop = isObject(props) ? props[key] : undefined
  if (!isObject(prop)) return { strategy: [], mergeKey: undefined, schema: undefined }
  const strategy = typeof prop['x-kubernetes-patch-strategy'] === 'string' ? prop['x-kubernetes-patch-strategy'].split(',') : []
  const mergeKey = typeof prop['x-kubernetes-patch-merge-key'] === 'string' ? prop['x-kubernetes-patch-merge-key'] : undefined
  return { strategy, mergeKey, schema: prop }
}

function itemSchema (resolver: SchemaResolver, listSchema: JsonObject | undefined): JsonObject | undefined {
  const items = resolver.resolve(listSchema)?.items
  return isObject(items) ? items : undefined
}

function mapValueSchema (resolver: SchemaResolver, schema: JsonObject | undefined): JsonObject | undefined {
  const ap = resolver.resolve(schema)?.additionalProperties
  return isObject(ap) ? ap : undefined
}

export function strategicMergePatch (original: Json, patch: Json, schema: JsonObject | undefined, resolver: SchemaResolver): Json {
  if (!isObject(patch)) throw badRequest('strategic merge patch must be a JSON object')
  const merged = mergeMap(isObject(original) ? original : {}, patch, schema, resolver)
  return merged ?? {}
}

function mergeMap (original: JsonObject, patch: JsonObject, schema: JsonObject | undefined, resolver: SchemaResolver): JsonObject | undefined {
  const directive = patch.$patch
  if (directive === 'delete') return undefined
  if (directive === 'replace') {
    const { $patch: _ignored, ...rest } = patch
    return clone(rest)
  }
  const out: JsonObject = clone(original)
  const orders: Record<string, Json[]> = {}
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders[k.slice('$setElementOrder/'.length)] = v
      continue
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length)
      const cur = out[field]
      if (Array.isArray(cur) && Array.isArray(v)) out[field] = cur.filter(x => !v.some(d => deepEqual(d, x)))
      continue
    }
    if (v === null) { delete out[k]; continue }
    const meta = fieldMeta(resolver, schema, k)
    const cur = out[k]
    if (isObject(v)) {
      // A map-typed field: recurse; its values' schema comes from properties or additionalProperties.
      const sub = meta.schema ?? mapValueSchema(resolver, schema)
      const r = mergeMap(isObject(cur) ? cur : {}, v, sub, resolver)
      if (r === undefined) delete out[k]
      else out[k] = r
    } else if (Array.isArray(v) && meta.strategy.includes('merge')) {
      out[k] = mergeList(Array.isArray(cur) ? cur : [], v, meta.mergeKey, itemSchema(resolver, meta.schema), resolver)
    } else {
      out[k] = clone(v)
    }
  }
  for (const [field, order] of Object.entries(orders)) {
    const cur = out[field]
    const server = original[field]
    if (Array.isArray(cur)) out[field] = applyOrder(cur, order, Array.isArray(server) ? server : [], fieldMeta(resolver, schema, field).mergeKey)
  }
  const retain = patch.$retainKeys
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k]
  }
  return out
}

function keyOf (item: Json, mergeKey: string | undefined): Json | undefined {
  if (mergeKey === undefined) return item
  return isObject(item) ? item[mergeKey] : undefined
}

function mergeList (original: Json[], patch: Json[], mergeKey: string | undefined, items: JsonObject | undefined, resolver: SchemaResolver): Json[] {
  // `{"$patch": "replace"}` among the elements replaces the whole list with the other elements.
  if (patch.some(p => isObject(p) && p.$patch === 'replace')) {
    return clone(patch.filter(p => !(isObject(p) && p.$patch === 'replace')))
  }
  const out = clone(original)
  if (mergeKey === undefined) {
    // A merge list of primitives (e.g. finalizers) is a set union.
    for (const p of patch) if (!out.some(x => deepEqual(x, p))) out.push(clone(p))
    return out
  }
  for (const p of patch) {
    const key = keyOf(p, mergeKey)
    const i = out.findIndex(x => key !== undefined && deepEqual(keyOf(x, mergeKey), key))
    if (isObject(p) && p.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1)
      continue
    }
    if (i >= 0) {
      const cur = out[i]
      const merged = isObject(p) ? mergeMap(isObject(cur) ? cur : {}, p, items, resolver) : clone(p)
      if (merged === undefined) out.splice(i, 1)
      else out[i] = merged
    } else {
      out.push(isObject(p) ? (mergeMap({}, p, items, resolver) ?? {}) : clone(p))
    }
  }
  return out
}

/**
 * `$setElementOrder/<list>` (apimachinery's normalizeElementOrder): the elements the patch names come in
 * the patch's order; elements only the server has keep their server order and are interleaved by their
 * position in the server's list (mergeSortedSlice).
 */
function applyOrder (list: Json[], order: Json[], serverList: Json[], mergeKey: string | undefined): Json[] {
  const wanted = order.map(o => keyOf(o, mergeKey))
  const indexIn = (xs: Json[], item: Json): number => xs.findIndex(x => deepEqual(keyOf(x, mergeKey), keyOf(item, mergeKey)))
  const named: Json[] = []
  for (const w of wanted) {
    const item = list.find(x => deepEqual(keyOf(x, mergeKey), w))
    if (item !== undefined && !named.includes(item)) named.push(item)
  }
  const serverOnly = list.filter(x => !named.includes(x)).sort((a, b) => indexIn(serverList, a) - indexIn(serverList, b))
  const out: Json[] = []
  let i = 0
  let j = 0
  while (i < serverOnly.length || j < named.length) {
    const left = serverOnly[i]
    const right = named[j]
    if (left === undefined) { if (right !== undefined) out.push(right); j++; continue }
    if (right === undefined) { out.push(left); i++; continue }
    const li = indexIn(serverList, left)
    const ri = indexIn(serverList, right)
    if (li >= 0 && ri >= 0 && li < ri) { out.push(left); i++ } else { out.push(right); j++ }
  }
  return out
}

// The patched document as the real server quotes it when the result does not decode (422 on the field
// `patch`). Merge and JSON patches are applied to the JSON text by evanphx/json-patch v4, which keeps
// untouched values as they were written (Go struct order) but re-marshals every object it opened as a Go
// map, keys sorted; strategic merge patches work on a map[string]interface{}, quoted with %+v.

function prunedText (v: Json): string {
  if (Array.isArray(v)) return `[${v.map(prunedText).join(',')}]`
  if (isObject(v)) {
    return `{${Object.keys(v).filter(k => v[k] !== null).sort(goLess).map(k => `${goJsonString(k)}:${prunedText(v[k] ?? null)}`).join(',')}}`
  }
  return goJson(v)
}

function mergeDocsText (cur: JsonObject, patch: JsonObject): string {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(cur)) out.set(k, goJson(v))
  for (const [k, v] of Object.entries(patch)) {
    const c = cur[k]
    if (v === null) out.delete(k)
    // A new value, or one replacing a non-object, is the patch's own with its nulls pruned (opened, sorted).
    else if (c === undefined || c === null || !isObject(c)) out.set(k, prunedText(v))
    else if (!isObject(v)) out.set(k, goJson(v))
    else out.set(k, mergeDocsText(c, v))
  }
  return `{${[...out.keys()].sort(goLess).map(k => `${goJsonString(k)}:${out.get(k) ?? 'null'}`).join(',')}}`
}

/** jsonpatch.MergePatch(current, patch) as text. */
export function mergePatchText (current: Json, patch: Json, result: Json): string {
  if (isObject(current) && isObject(patch)) return mergeDocsText(current, patch)
  return prunedText(result)
}

/** Patch.Apply(current) as text: the root and every container an operation walked through are sorted. */
export function jsonPatchText (result: Json, ops: Json): string {
  const opened = new Set<string>([''])
  for (const op of Array.isArray(ops) ? ops : []) {
    if (!isObject(op)) continue
    for (const p of [op.path, op.from]) {
      if (typeof p !== 'string' || !p.startsWith('/')) continue
      const tokens = p.slice(1).split('/')
      for (let i = 1; i < tokens.length; i++) opened.add(`/${tokens.slice(0, i).join('/')}`)
    }
  }
  return goJson(result, path => opened.has(path))
}

/** fmt.Sprintf("%+v", patchedObjMap). */
export function strategicPatchText (result: Json): string {
  return goSprintV(result)
}
