// Parses `host:port` (or `[v6]:port`) for the metrics/health listener; bad input is a value with a message.
export type ListenAddress = { ok: true; host: string; port: number } | { ok: false; error: string }

export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim())
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) {
    return { ok: false, error: `"${text}" is not host:port; write e.g. 0.0.0.0:7472 or [::]:7472` }
  }
  return { ok: true, host: m[1] ?? (m[2] || '0.0.0.0'), port }
}
