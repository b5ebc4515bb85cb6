// Query an in-memory list with the same filters and options as a *.query method.

import { applyOptions, matchRow, parseFilters, parseOptions } from "./query.js";

export function queryRows(rows: unknown[], rawFilters: unknown, rawOptions: unknown, attrs: { filters?: string; options?: string } = {}): unknown {
  const filters = parseFilters(rawFilters, attrs.filters ?? "filters");
  const options = parseOptions(rawOptions, attrs.options ?? "options");
  const matched = filters.length ? rows.filter((r) => matchRow(r, filters)) : rows;
  return applyOptions(matched, options, {});
}
