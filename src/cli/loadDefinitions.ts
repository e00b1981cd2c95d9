import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DefinitionError } from "../errors.js";
import { SourceDataset } from "../dsl/dataset.js";
import { OnDemandFeature } from "../dsl/onDemand.js";
import { OperatorTable, Table } from "../dsl/table.js";
import type { ServeConfig } from "../serving/serveConfig.js";

export type Definition = SourceDataset<string, never> | Table<string, never, never> | OperatorTable<string, never, never> | OnDemandFeature<string, never, never, never>;

export interface LoadedDefinitions {
  readonly definitions: ReadonlyArray<SourceDataset<string, never> | Table<string, never, never> | OperatorTable<string, never, never> | OnDemandFeature<string, never, never, never>>;
  readonly config: ServeConfig;
}

function isDefinition(v: unknown): v is Definition {
  return v instanceof SourceDataset || v instanceof Table || v instanceof OperatorTable || v instanceof OnDemandFeature;
}

/**
 * Loads a definitions module: a .ts file through tsx, a .js/.mjs file
 * through import(). Every exported dataset, table and on-demand feature is
 * applied (also those inside an exported array or a default export); the
 * `serve` export, if any, configures the stores.
 */
export async function loadDefinitions(path: string): Promise<LoadedDefinitions> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new DefinitionError(`definitions module ${abs} does not exist`);
  let mod: Record<string, unknown>;
  try {
    if (/\.[mc]?tsx?$/.test(abs)) {
      // A global (not namespaced) loader: the module and what it imports share
      // the module cache with this process, so its datasets are this freshet's.
      const { register } = await import("tsx/esm/api");
      const unregister = register();
      try {
        mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
      } finally {
        await unregister();
      }
    } else {
      mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
    }
  } catch (cause) {
    throw new DefinitionError(`cannot load the definitions module ${abs}: ${(cause as Error).message}`);
  }
  const found = new Set<Definition>();
  const visit = (v: unknown): void => {
    if (isDefinition(v)) found.add(v);
    else if (Array.isArray(v)) v.forEach(visit);
  };
  for (const [name, value] of Object.entries(mod)) if (name !== "serve") visit(value);
  const config = (mod.serve ?? {}) as ServeConfig;
  if (typeof config !== "object" || config === null) throw new DefinitionError(`the "serve" export of ${abs} must be an object (use defineServe({ ... }))`);
  if (found.size === 0) {
    throw new DefinitionError(
      `${abs} exports no datasets, tables or on-demand features made with this freshet (if it imports "freshet", run the freshet it resolves to: npx freshet serve)`,
    );
  }
  // Datasets first: tables name them.
  const defs = [...found].sort((a, b) => Number(b instanceof SourceDataset) - Number(a instanceof SourceDataset));
  return { definitions: defs, config };
}
