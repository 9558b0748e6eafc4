// What every e2e test in the netns lab does before its own steps: say why it cannot run here, bring a lab
// up, stop it in teardown, and stand down when another lab got there first.
import type { Test } from 'tap'
import { Lab, LabBusyError, labPrerequisites, runningLabNetns, type LabOptions } from './lab.js'

/** Why the lab cannot run here (missing tools, not root, a lab already running); null when it can. */
export async function labSkipReason(): Promise<string | null> {
  const problems = await labPrerequisites()
  if (problems.length > 0) return problems.join('; ')
  const busy = await runningLabNetns()
  if (busy.length > 0) return `a lab is already running (${busy.join(', ')}); stop it with \`npm run lab -- down\``
  return null
}

/**
 * Brings a lab up for test `t` and stops it in t's teardown (`beforeStop` first, `afterStop` last). Null when
 * another lab started between the check and ours (tests of several people share a machine): t then plans 0
 * with the reason.
 */
export async function labForTest(t: Test, opts: LabOptions, hooks: { beforeStop?: () => Promise<unknown>; afterStop?: () => Promise<unknown> } = {}): Promise<Lab | null> {
  const lab = new Lab(opts)
  t.teardown(async () => {
    await hooks.beforeStop?.()
    const problems = await lab.stop()
    if (problems.length > 0) t.comment(`teardown: ${problems.join('; ')}`)
    await hooks.afterStop?.()
  })
  try {
    await lab.up()
  } catch (err) {
    if (err instanceof LabBusyError) {
      t.plan(0, err.message)
      return null
    }
    throw err
  }
  return lab
}
