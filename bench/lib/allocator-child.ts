// One measurement of the allocator bench, in a process of its own (bench/allocator.ts starts it):
//
//   node --expose-gc --import tsx bench/lib/allocator-child.ts IPv4|IPv6 <assigned> goal|random
//
// It primes both families' code, measures, and prints JSON lines on stdout: `log` lines, then one `result`.
import { print } from '../../test/lib/json-agent.js'
import { measure, prime } from './allocator-measure.js'

const [family, assigned, mode] = process.argv.slice(2)
if ((family !== 'IPv4' && family !== 'IPv6') || !Number.isInteger(Number(assigned)) || (mode !== 'goal' && mode !== 'random')) {
  process.stderr.write('usage: allocator-child.ts IPv4|IPv6 <assigned> goal|random\n')
  process.exit(2)
}
prime()
const m = measure(family, Number(assigned), mode === 'random', line => print({ event: 'log', line }))
print({ event: 'result', ...m })
