// The body of the speaker's config-parsing thread (config-parser.ts): a pool ConfigMap's text in, parsePoolConfig's
// result out. Apart from the responders' thread so that reading even the largest valid config (1 MiB, 55,000
// ranges: about a second of CPU) never delays an ARP or NDP answer.
import { parentPort } from 'node:worker_threads'
import { parsePoolConfig } from '../controller/core/pool-config.js'

parentPort?.on('message', (text: unknown) => {
  parentPort?.postMessage(typeof text === 'string' ? parsePoolConfig(text) : { ok: false, errors: [{ path: 'config', message: 'not text', fix: 'pass the ConfigMap\'s config key' }] })
})
