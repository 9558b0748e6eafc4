// How Go prints values into the texts the real server returns: strconv.Quote (%q), encoding/json's
// string escaping, fmt's %v of decoded JSON (map[...] [...]), and the Warning header's quoting.
import { isObject, type Json } from './json.js'

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u

/** strconv.Quote: `"` and `\` escaped, printable runes as they are, the rest as \a..\v, \xNN, \uNNNN, \UNNNNNNNN. */
export function goQuote (s: string): string {
  let out = '"'
  for (const ch of s) {
    let c = ch.codePointAt(0) ?? 0
    // A lone surrogate cannot come out of Go's UTF-8 decoding: it is U+FFFD there.
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd
    const r = String.fromCodePoint(c)
    if (r === '"' || r === '\\') { out += `\\${r}`; continue }
    if (PRINTABLE.test(r)) { out += r; continue }
    switch (r) {
      case '\x07': out += '\\a'; continue
      case '\b': out += '\\b'; continue
      case '\f': out += '\\f'; continue
      case '\n': out += '\\n'; continue
      case '\r': out += '\\r'; continue
      case '\t': out += '\\t'; continue
      case '\v': out += '\\v'; continue
    }
    if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += `\\U${c.toString(16).padStart(8, '0')}`
  }
  return out + '"'
}

/** A JSON string as encoding/json writes it: HTML-safe (<, >, & escaped) and U+2028/U+2029 escaped. */
export function goJsonString (s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, c => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`)
}

/**
 * Compact JSON as encoding/json writes it; object keys in their current order, or sorted (a Go map) where
 * `sortAt(path)` says so. `path` is the JSON pointer of the value.
 */
export function goJson (v: Json, sortAt: (path: string) => boolean = () => false, path = ''): string {
  if (Array.isArray(v)) return `[${v.map((x, i) => goJson(x, sortAt, `${path}/${i}`)).join(',')}]`
  if (isObject(v)) {
    const keys = Object.keys(v)
    if (sortAt(path)) keys.sort(goLess)
    return `{${keys.map(k => `${goJsonString(k)}:${goJson(v[k] ?? null, sortAt, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`)}`).join(',')}}`
  }
  if (typeof v === 'string') return goJsonString(v)
  return JSON.stringify(v)
}

/** Go orders strings by their UTF-8 bytes. */
export function goLess (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** %v of a number: integers as the int64 they decode to, other floats as strconv 'g' shortest (%e from 1e+06). */
function goNumber (n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString()
  const [mant = '', exp = '0'] = n.toExponential().split('e')
  const e = Number(exp)
  if (e < -4 || e >= 6) return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  return String(n)
}

/** fmt's %v (and %+v) of an unstructured value: map[k:v ...] with sorted keys, [a b], <nil>. */
export function goSprintV (v: Json): string {
  if (v === null) return '<nil>'
  if (Array.isArray(v)) return `[${v.map(goSprintV).join(' ')}]`
  if (isObject(v)) return `map[${Object.keys(v).sort(goLess).map(k => `${k}:${goSprintV(v[k] ?? null)}`).join(' ')}]`
  if (typeof v === 'number') return goNumber(v)
  return String(v)
}

/**
 * The Warning header's value (k8s.io/apimachinery/pkg/util/net NewWarningHeader): `299 - "text"` with
 * only `"` and `\` escaped. Undefined for a text the server would not send (control characters).
 */
export function warningHeader (text: string): string | undefined {
  if (/\p{Cc}/u.test(text)) return undefined
  return `299 - "${text.replace(/["\\]/g, c => `\\${c}`)}"`
}
