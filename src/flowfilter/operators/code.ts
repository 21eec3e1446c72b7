/** `~c N`: the HTTP response status code. */
import type { AnyFlow } from '../../flows.js';
import type { HTTPFlow } from '../../http.js';
import { FilterNode, type FilterTree } from './node.js';

export class StatusCodeIs extends FilterNode {
  readonly code = 'c';
  /** The number as a canonical decimal string (leading zeros dropped; there is no upper bound). */
  readonly digits: string;
  /** The number to compare with, or NaN when it is too large to be any status code. */
  private readonly value: number;

  constructor(digits: string) {
    super();
    this.digits = BigInt(digits).toString();
    const n = Number(this.digits);
    this.value = Number.isSafeInteger(n) ? n : NaN;
  }

  match(flow: AnyFlow): boolean {
    if (flow.type !== 'http') return false;
    const response = (flow as HTTPFlow).response;
    return !!response && response.statusCode === this.value;
  }
  toString(): string {
    return `response code is ${this.digits}`;
  }
  toExpression(): string {
    return `~c ${this.digits}`;
  }
  toTree(): FilterTree {
    return ['~c', this.digits];
  }
}
