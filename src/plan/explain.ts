import { formatDuration } from "../core/duration.js";
import { sourceOf, unionBranches, type PlanNode } from "./nodes.js";

/** A short, indented text rendering of a table's plan, root first. */
export function explainTable(table: { readonly name: string; readonly root: PlanNode }): string {
  const lines = [`table ${table.name}`];
  let node: PlanNode = table.root;
  let depth = 1;
  for (;;) {
    lines.push(`${"  ".repeat(depth)}${describe(node)}`);
    if (node.kind === "source") break;
    node = node.input;
    depth++;
  }
  return lines.join("\n");
}

function describeWindow(size: number, hop: number | undefined): string {
  if (size === Number.POSITIVE_INFINITY) return "forever";
  if (hop === undefined) return formatDuration(size);
  return hop === size ? `tumbling ${formatDuration(size)}` : `hopping ${formatDuration(size)} every ${formatDuration(hop)}`;
}

function describe(node: PlanNode): string {
  switch (node.kind) {
    case "source": {
      const s = node.source;
      const keys = s.keys.length > 0 ? ` keys=[${s.keys.join(", ")}]` : "";
      return `source ${s.name} time=${s.timestamp}${keys} lateness=${s.lateness}ms`;
    }
    case "filter":
      return "filter";
    case "map":
      return "map";
    case "assign":
      return `assign ${node.field}: ${node.type.kind}`;
    case "select":
      return `select ${node.fields.join(", ")}`;
    case "drop":
      return `drop ${node.fields.join(", ")}`;
    case "rename":
      return `rename ${Object.entries(node.mapping).map(([a, b]) => `${a} -> ${b}`).join(", ")}`;
    case "dropNull":
      return `dropNull ${node.fields.length === 0 ? "(any field)" : node.fields.join(", ")}`;
    case "explode":
      return `explode ${node.field}`;
    case "dedup":
      return `dedup by [${node.by.join(", ") || "all fields"}] within ${formatDuration(node.window)}`;
    case "intervalJoin":
      return `interval join ${sourceOf(node.other).name} on [${node.on.join(", ")}] = [${node.otherOn.join(", ")}], right from ${node.lower === 0 ? "0ms" : formatDuration(node.lower)} before to ${node.upper === 0 ? "0ms" : formatDuration(node.upper)} after`;
    case "union":
      return `union with ${[...new Set(unionBranches(node.other).map((b) => b.source.name))].join(" ∪ ")}`;
    case "join":
      return `${node.how} join ${node.right.name} on [${node.on.join(", ")}]${node.within === undefined ? "" : ` within ${formatDuration(node.within)}`} as of event time`;
    case "operator":
      return `operator by [${node.keys.join(", ")}]${node.countWindow === undefined ? " per record" : ` on count windows of ${node.countWindow.size} every ${node.countWindow.slide}`} -> ${Object.keys(node.output).join(", ")} (concurrency ${node.concurrency})`;
    case "aggregate": {
      const aggs = Object.entries(node.aggregations).map(
        ([name, a]) => `${name}=${a.kind}(${a.field ?? "*"}, ${a.gap !== undefined ? `session gap ${formatDuration(a.gap)}` : describeWindow(a.window, a.hop)})`,
      );
      return `aggregate by [${node.keys.join(", ")}]: ${aggs.join(", ")}`;
    }
  }
}
