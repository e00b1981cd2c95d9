import { asyncBufferFromFile, parquetMetadataAsync, parquetScan, parquetSchema } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
const path = 'node_modules/vega-datasets/data/flights-3m.parquet'
const mode = process.argv[2]
const t0 = performance.now()
const file = await asyncBufferFromFile(path)
const metadata = await parquetMetadataAsync(file)
const cols = parquetSchema(metadata).children.map(c => c.element.name)
const scan = await parquetScan({ file, metadata, compressors, columns: cols })
let n = 0
const make = new Function('a', 'i', 'return {' + cols.map((c, j) => JSON.stringify(c) + ': a[' + j + '][i]').join(',') + '}')
for (const { rowStart, rowEnd } of scan.ranges) {
  const arrs = await Promise.all(cols.map(column => scan.readColumn({ column, rowStart, rowEnd })))
  const len = rowEnd - rowStart
  for (let s = 0; s < len; s += 65536) {
    const e = Math.min(len, s + 65536)
    const rows = new Array(e - s)
    if (mode === 'fn') for (let i = s; i < e; i++) rows[i - s] = make(arrs, i)
    else for (let i = s; i < e; i++) { const o = {}; for (let j = 0; j < cols.length; j++) o[cols[j]] = arrs[j][i]; rows[i - s] = o }
    n += rows.length
  }
}
console.log('scan', mode, n, (performance.now() - t0).toFixed(0), 'ms')
