import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetReadObjects, parquetSchema } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
const path = 'node_modules/vega-datasets/data/flights-3m.parquet'
const mode = process.argv[2]
const t0 = performance.now()
const file = await asyncBufferFromFile(path)
const metadata = await parquetMetadataAsync(file)
const cols = parquetSchema(metadata).children.map(c => c.element.name)
let n = 0, start = 0, sum = 0
for (const rg of metadata.row_groups) {
  const len = Number(rg.num_rows)
  const end = start + len
  if (mode === 'objects') {
    const rows = await parquetReadObjects({ file, metadata, compressors, rowStart: start, rowEnd: end })
    n += rows.length
  } else {
    const data = new Map()
    await parquetRead({ file, metadata, compressors, rowStart: start, rowEnd: end, columns: cols, onChunk: (c) => { 
      const a = data.get(c.columnName) ?? []; a.push(c); data.set(c.columnName, a) } })
    const arrs = cols.map(c => { const chunks = data.get(c); return chunks.length === 1 ? chunks[0].columnData : chunks.flatMap(x=>Array.from(x.columnData)) })
    const rows = new Array(len)
    if (mode === 'fn') {
      const make = new Function('a', 'i', 'return {' + cols.map((c, j) => JSON.stringify(c) + ': a[' + j + '][i]').join(',') + '}')
      for (let i = 0; i < len; i++) rows[i] = make(arrs, i)
    } else {
      for (let i = 0; i < len; i++) { const o = {}; for (let j = 0; j < cols.length; j++) o[cols[j]] = arrs[j][i]; rows[i] = o }
    }
    n += rows.length
  }
  start = end
}
console.log(mode, n, (performance.now() - t0).toFixed(0), 'ms')
