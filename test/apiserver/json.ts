// Plain JSON values and the few typed accessors the server needs, so the logic never casts.
export type Json = null | boolean | number | string | Json[] | JsonObject
export interface JsonObject { [key: string]: Json }

export function isObject (v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function objectAt (o: JsonObject | undefined, key: string): JsonObject | undefined {
  const v = o?.[key]
  return isObject(v) ? v : undefined
}

export function arrayAt (o: JsonObject | undefined, key: string): Json[] | undefined {
  const v = o?.[key]
  return Array.isArray(v) ? v : undefined
}

export function stringAt (o: JsonObject | undefined, key: string): string | undefined {
  const v = o?.[key]
  return typeof v === 'string' ? v : undefined
}

export function numberAt (o: JsonObject | undefined, key: string): number | undefined {
  const v = o?.[key]
  return typeof v === 'number' ? v : undefined
}

export function clone<T extends Json> (v: T): T {
  return structuredClone(v)
}

export function deepEqual (a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every(k => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

/** Parses a request body as a JSON object (the only shape the API accepts for objects and patches). */
export function parseJson (text: string): Json {
  const v: unknown = JSON.parse(text)
  return toJson(v)
}

function toJson (v: unknown): Json {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v
  if (Array.isArray(v)) return v.map(toJson)
  if (typeof v === 'object') {
    const out: JsonObject = {}
    for (const [k, x] of Object.entries(v)) out[k] = toJson(x)
    return out
  }
  throw new TypeError(`not JSON: ${typeof v}`)
}

/**
 * Re-creates `o` with keys in `order` first (those present), then the rest in their current order. Go
 * serialises struct fields in declaration order; matching it keeps responses byte-comparable in shape.
 */
export function orderKeys (o: JsonObject, order: readonly string[]): JsonObject {
  const out: JsonObject = {}
  for (const k of order) if (Object.hasOwn(o, k)) out[k] = o[k] ?? null
  for (const [k, v] of Object.entries(o)) if (!Object.hasOwn(out, k)) out[k] = v
  return out
}
