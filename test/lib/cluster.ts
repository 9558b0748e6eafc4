// Shared fixtures for tests that run our programs' shells against the in-memory API server: a started server
// with a kubeconfig, a polling wait, and an announcer that records what the speaker hands it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KubeConfig } from '@kubernetes/client-node'
import { startApiServer, type ApiServer, type ApiServerOptions } from '../apiserver/server.js'
import type { Announcer } from '../../speaker/speaker.js'

export interface TestCluster {
  readonly server: ApiServer
  readonly kubeConfig: KubeConfig
  readonly kubeconfigPath: string
  readonly dir: string
  close(): Promise<void>
}

export async function startTestCluster(opts: ApiServerOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-test-'))
  const server = await startApiServer({ host: '127.0.0.1', port: 0, ...opts })
  const kubeconfigPath = join(dir, 'kubeconfig')
  await server.writeKubeconfig(kubeconfigPath)
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromFile(kubeconfigPath)
  return {
    server, kubeConfig, kubeconfigPath, dir,
    close: async () => { await server.close(); rmSync(dir, { recursive: true, force: true }) },
  }
}

/** Polls until `fn` yields a value (not null/undefined/false); throws naming `what` after `ms`. */
export async function waitFor<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== null && v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 25))
  }
}

/** Stands in for the packet path: records the set the speaker hands over (the packet path has its own tests). */
export class RecordingAnnouncer implements Announcer {
  readonly interfaceName: string
  current = new Set<string>()
  constructor(interfaceName = 'eth0') {
    this.interfaceName = interfaceName
  }
  start(): void {}
  setAnnounced(ips: Iterable<string>): void { this.current = new Set(ips) }
  close(): void {}
}
