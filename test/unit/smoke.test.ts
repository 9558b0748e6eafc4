import t from 'tap'
t.test('toolchain runs TypeScript tests', async t => { t.equal(typeof 1n, 'bigint') })
