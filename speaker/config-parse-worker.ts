// The body of the speaker's config-parsing thread (config-parser.ts): a pool ConfigMap's text in, parsePoolConfig's
// errors or the config's lookup index (core/advertisement.ts: sorting 55,000 ranges is work too) out. Apart from the responders' thread so that reading even the largest valid config (1 MiB, 55,000
// ranges: about a second of CPU) never delays an ARP or NDP answer.
import { parentPort } from 'node:worker_threads'
import { parsePoolConfig } from '../internal/core/pool-config.js'
import { indexPools } from './core/advertisement.js'
import type { IndexedConfigResult } from './config-parser.js'

parentPort?.on('message', (text: unknown) => {
  const parsed = parsePoolConfig(typeof text === 'string' ? text : '')
  const reply: IndexedConfigResult = parsed.ok ? { ok: true, index: indexPools(parsed.config) } : parsed
  parentPort?.postMessage(reply)
})
