// The life cycle both programs share: serve /metrics /healthz /readyz, start, and on SIGTERM/SIGINT close the
// program (the speaker withdraws and gives its Lease up there) before the observe server, then exit.
import type { Logger } from 'pino'
import { ObserveServer } from './http-server.js'
import type { MetricsRegistry } from './metrics.js'

export interface Program {
  readonly ready: boolean
  start(): Promise<void>
  close(): Promise<void>
}

export interface RunOptions {
  readonly log: Logger
  readonly listen: { readonly host: string; readonly port: number }
  readonly metrics: MetricsRegistry
  readonly program: Program
}

export async function runProgram({ log, listen, metrics, program }: RunOptions): Promise<void> {
  const observe = new ObserveServer({
    host: listen.host, port: listen.port, metrics,
    ready: () => (program.ready ? { ready: true, reason: 'ok' } : { ready: false, reason: 'caches not synced' }),
  })
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    await program.close()
    await observe.close()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  await observe.start()
  await program.start()
}
