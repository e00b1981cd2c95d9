import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
const path = 'node_modules/vega-datasets/data/flights-3m.parquet'
const t0 = performance.now()
const file = await asyncBufferFromFile(path)
const metadata = await parquetMetadataAsync(file)
const cols = parquetSchema(metadata).children.map(c => c.element.name)
let start = 0, chunks = 0
const types = new Set()
for (const rg of metadata.row_groups) {
  const len = Number(rg.num_rows)
  await parquetRead({ file, metadata, compressors, rowStart: start, rowEnd: start+len, columns: cols, onChunk: (c) => { chunks++; types.add(c.columnName + ':' + c.columnData.constructor.name + ':' + c.rowStart+'-'+c.rowEnd) } })
  start += len
}
console.log('decode only', (performance.now() - t0).toFixed(0), 'ms', chunks, [...types].slice(0,12))
