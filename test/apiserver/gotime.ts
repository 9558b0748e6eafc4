// Go's time.Parse for the two layouts the API's timestamps use, with its exact error texts, and the
// re-marshalled forms. metav1.Time decodes with time.RFC3339 (any number of fractional digits, or none);
// metav1.MicroTime with "2006-01-02T15:04:05.000000Z07:00", which takes exactly six fractional digits
// (k8s.io/apimachinery/pkg/apis/meta/v1/time.go and micro_time.go). A port of the parts of Go's
// src/time/format.go those two layouts reach: same chunks, same order of checks, same messages.

export const RFC3339 = '2006-01-02T15:04:05Z07:00'
export const RFC3339_MICRO = '2006-01-02T15:04:05.000000Z07:00'
export type TimeLayout = typeof RFC3339 | typeof RFC3339_MICRO

/** A parsed instant: seconds since the Unix epoch and nanoseconds within the second. */
export interface GoTime { readonly seconds: number, readonly nanos: number }

/** time.ParseError: its message is what the API server returns to the client. */
export class GoTimeParseError extends Error {}

/** time.quote: printable ASCII as is (`"` and `\` escaped), every other byte as \xNN of its UTF-8. */
function quote (s: string): string {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0
    if (c >= 0x80 || c < 0x20) {
      for (const b of Buffer.from(ch, 'utf8')) out += `\\x${b.toString(16).padStart(2, '0')}`
    } else {
      if (ch === '"' || ch === '\\') out += '\\'
      out += ch
    }
  }
  return out + '"'
}

const isDigit = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57

/** getnum: one or two digits (exactly two when `fixed`). */
function getnum (s: string, fixed: boolean): { n: number, rest: string } | undefined {
  if (!isDigit(s, 0)) return undefined
  if (!isDigit(s, 1)) return fixed ? undefined : { n: s.charCodeAt(0) - 48, rest: s.slice(1) }
  return { n: (s.charCodeAt(0) - 48) * 10 + (s.charCodeAt(1) - 48), rest: s.slice(2) }
}

/** atoi: optional sign, then digits only. */
function atoi (s: string): number | undefined {
  let t = s
  let neg = false
  if (t.length > 0 && (t[0] === '-' || t[0] === '+')) { neg = t[0] === '-'; t = t.slice(1) }
  let i = 0
  let x = 0
  for (; i < t.length && isDigit(t, i); i++) x = x * 10 + t.charCodeAt(i) - 48
  if (i !== t.length) return undefined
  return neg ? -x : x
}

/** parseNanoseconds: `value` starts with the separator, `nbytes` counts it and the digits. */
function parseNanoseconds (value: string, nbytes: number): { ns: number, range?: string } | undefined {
  if (value[0] !== '.' && value[0] !== ',') return undefined
  const n = Math.min(nbytes, 10)
  const ns = atoi(value.slice(1, n))
  if (ns === undefined) return undefined
  if (ns < 0) return { ns: 0, range: 'fractional second' }
  return { ns: ns * 10 ** (10 - n) }
}

function isLeap (year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
}

function daysIn (month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 31
}

/** Days from 1970-01-01 to the given proleptic Gregorian date (any year). */
function daysFromCivil (y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

function civilFromDays (z0: number): { y: number, m: number, d: number } {
  const z = z0 + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp + (mp < 10 ? 3 : -9)
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d }
}

type Chunk = { readonly prefix: string, readonly std: 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'frac6' | 'tz', readonly text: string }

const CHUNKS: Readonly<Record<TimeLayout, readonly Chunk[]>> = {
  [RFC3339]: [
    { prefix: '', std: 'year', text: '2006' }, { prefix: '-', std: 'month', text: '01' }, { prefix: '-', std: 'day', text: '02' },
    { prefix: 'T', std: 'hour', text: '15' }, { prefix: ':', std: 'minute', text: '04' }, { prefix: ':', std: 'second', text: '05' },
    { prefix: '', std: 'tz', text: 'Z07:00' }
  ],
  [RFC3339_MICRO]: [
    { prefix: '', std: 'year', text: '2006' }, { prefix: '-', std: 'month', text: '01' }, { prefix: '-', std: 'day', text: '02' },
    { prefix: 'T', std: 'hour', text: '15' }, { prefix: ':', std: 'minute', text: '04' }, { prefix: ':', std: 'second', text: '05' },
    { prefix: '', std: 'frac6', text: '.000000' }, { prefix: '', std: 'tz', text: 'Z07:00' }
  ]
}

/** time.Parse(layout, value) for RFC3339 and RFC3339Micro; throws GoTimeParseError with Go's message. */
export function parseGoTime (layout: TimeLayout, input: string): GoTime {
  const cannot = (valueElem: string, layoutElem: string): GoTimeParseError =>
    new GoTimeParseError(`parsing time ${quote(input)} as ${quote(layout)}: cannot parse ${quote(valueElem)} as ${quote(layoutElem)}`)
  const outOfRange = (what: string): GoTimeParseError => new GoTimeParseError(`parsing time ${quote(input)}: ${what} out of range`)
  let value = input
  let year = 0
  let month = -1
  let day = -1
  let hour = 0
  let min = 0
  let sec = 0
  let nsec = 0
  let zoneOffset = 0
  const chunks = CHUNKS[layout]
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c]
    if (chunk === undefined) break
    // skip(): every prefix here is one character; the error shows the value from that point.
    if (!value.startsWith(chunk.prefix)) throw cannot(value, chunk.prefix)
    value = value.slice(chunk.prefix.length)
    const hold = value
    let bad = false
    let range = ''
    switch (chunk.std) {
      case 'year': {
        if (value.length < 4 || !isDigit(value, 0)) { bad = true; break }
        const y = atoi(value.slice(0, 4))
        value = value.slice(4)
        if (y === undefined) bad = true
        else year = y
        break
      }
      case 'month': {
        const g = getnum(value, true)
        if (g === undefined) { bad = true; break }
        month = g.n
        value = g.rest
        if (month <= 0 || month > 12) range = 'month'
        break
      }
      case 'day': {
        const g = getnum(value, true)
        if (g === undefined) { bad = true; break }
        day = g.n
        value = g.rest
        break
      }
      case 'hour': {
        const g = getnum(value, false)
        if (g === undefined) { bad = true; break }
        hour = g.n
        value = g.rest
        if (hour >= 24) range = 'hour'
        break
      }
      case 'minute': {
        const g = getnum(value, true)
        if (g === undefined) { bad = true; break }
        min = g.n
        value = g.rest
        if (min >= 60) range = 'minute'
        break
      }
      case 'second': {
        const g = getnum(value, true)
        if (g === undefined) { bad = true; break }
        sec = g.n
        value = g.rest
        if (sec >= 60) { range = 'second'; break }
        // A fraction the layout does not spell out is still accepted after the seconds (any length).
        const nextIsFrac = chunks[c + 1]?.std === 'frac6'
        if (!nextIsFrac && value.length >= 2 && (value[0] === '.' || value[0] === ',') && isDigit(value, 1)) {
          let n = 2
          while (n < value.length && isDigit(value, n)) n++
          const f = parseNanoseconds(value, n)
          if (f === undefined) bad = true
          else { nsec = f.ns; range = f.range ?? '' }
          value = value.slice(n)
        }
        break
      }
      case 'frac6': {
        if (value.length < 7) { bad = true; break }
        const f = parseNanoseconds(value, 7)
        if (f === undefined) bad = true
        else { nsec = f.ns; range = f.range ?? '' }
        value = value.slice(7)
        break
      }
      case 'tz': {
        if (value.length >= 1 && value[0] === 'Z') { value = value.slice(1); zoneOffset = 0; break }
        if (value.length < 6 || value[3] !== ':') { bad = true; break }
        const sign = value[0]
        const hh = getnum(value.slice(1, 3), true)
        const mm = hh === undefined ? undefined : getnum(value.slice(4, 6), true)
        value = value.slice(6)
        if (hh === undefined || mm === undefined) bad = true
        // Offsets are range-checked with > (24 hours and 60 minutes are accepted), before the sign.
        const hr = hh?.n ?? 0
        const mi = mm?.n ?? 0
        if (hr > 24) range = 'time zone offset hour'
        if (mi > 60) range = 'time zone offset minute'
        zoneOffset = (hr * 60 + mi) * 60
        if (sign === '-') zoneOffset = -zoneOffset
        else if (sign !== '+') bad = true
        break
      }
    }
    if (range !== '') throw outOfRange(range)
    if (bad) throw cannot(hold, chunk.text)
  }
  if (value.length !== 0) throw new GoTimeParseError(`parsing time ${quote(input)}: extra text: ${quote(value)}`)
  if (month < 0) month = 1
  if (day < 0) day = 1
  if (day < 1 || day > daysIn(month, year)) throw outOfRange('day')
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - zoneOffset
  return { seconds, nanos: nsec }
}

/** Go's zero time.Time (0001-01-01T00:00:00Z), which metav1.Time and MicroTime marshal as JSON null. */
const ZERO_SECONDS = daysFromCivil(1, 1, 1) * 86400

/** t.UTC().Format(layout); null for the zero time, as MarshalJSON writes it. */
export function formatGoTime (layout: TimeLayout, t: GoTime): string | null {
  if (t.seconds === ZERO_SECONDS && t.nanos === 0) return null
  const days = Math.floor(t.seconds / 86400)
  const rest = t.seconds - days * 86400
  const { y, m, d } = civilFromDays(days)
  const pad = (n: number, w: number): string => String(n).padStart(w, '0')
  const year = y < 0 ? `-${pad(-y, 4)}` : pad(y, 4)
  const clock = `${pad(Math.floor(rest / 3600), 2)}:${pad(Math.floor(rest / 60) % 60, 2)}:${pad(rest % 60, 2)}`
  const fraction = layout === RFC3339_MICRO ? `.${pad(Math.floor(t.nanos / 1000), 6)}` : ''
  return `${year}-${pad(m, 2)}-${pad(d, 2)}T${clock}${fraction}Z`
}
