import type { OptManager, OptionType, OptionValue } from '../../optmanager.js';

export type OptionJson = { type: OptionType; default: OptionValue; value: OptionValue; help: string; choices: string[] | null };

/**
 * Options in the shape of `GET /options` and `options/update` (web-api.md §6.2): sorted by name,
 * each `{type, default, value, help, choices}`, help text on one line. `names` limits the output
 * to those options.
 */
export function optionsJson(options: OptManager, names?: Iterable<string>): Record<string, OptionJson> {
  const wanted = names ? new Set(names) : null;
  const all = options.toJSON();
  const out: Record<string, OptionJson> = {};
  for (const name of Object.keys(all).sort()) {
    if (wanted && !wanted.has(name)) continue;
    const o = all[name]!;
    out[name] = { type: o.type, default: o.default, value: o.value, help: o.help.replace(/\n/g, ' '), choices: o.choices };
  }
  return out;
}
