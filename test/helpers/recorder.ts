import type { HTTPFlow } from '../../src/index.js';

/**
 * An addon that collects finished HTTP flows (at `response` or `error`) from an in-process
 * proxy, in the order they finish.
 */
export function flowRecorder() {
  const flows: HTTPFlow[] = [];
  return {
    flows,
    addon: {
      name: 'recorder',
      response(f: HTTPFlow) {
        flows.push(f);
      },
      error(f: HTTPFlow) {
        flows.push(f);
      },
    },
  };
}
