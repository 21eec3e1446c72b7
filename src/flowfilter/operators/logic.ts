import type { AnyFlow } from '../../flows.js';
import { FilterNode, type FilterTree } from './node.js';

/** An And/Or operand is shown in parentheses, as mitmproxy does. */
function describeOperand(node: FilterNode): string {
  return node instanceof And || node instanceof Or ? `(${node.toString()})` : node.toString();
}

/** An And/Or operand written so it parses back as one operand (spaces keep `~q )` legal). */
function expressionOperand(node: FilterNode): string {
  return node instanceof And || node instanceof Or ? `( ${node.toExpression()} )` : node.toExpression();
}

/** `a & b & ...` (and juxtaposition at the top level): all operands match, checked in order. */
export class And extends FilterNode {
  constructor(readonly children: readonly FilterNode[]) {
    super();
  }
  match(flow: AnyFlow): boolean {
    const c = this.children;
    for (let i = 0; i < c.length; i++) if (!c[i]!.match(flow)) return false;
    return true;
  }
  toString(): string {
    return this.children.map(describeOperand).join(' and ');
  }
  toExpression(): string {
    return this.children.map(expressionOperand).join(' & ');
  }
  toTree(): FilterTree {
    return ['&', this.children.map((c) => c.toTree())];
  }
}

/** `a | b | ...`: any operand matches, checked in order. */
export class Or extends FilterNode {
  constructor(readonly children: readonly FilterNode[]) {
    super();
  }
  match(flow: AnyFlow): boolean {
    const c = this.children;
    for (let i = 0; i < c.length; i++) if (c[i]!.match(flow)) return true;
    return false;
  }
  toString(): string {
    return this.children.map(describeOperand).join(' or ');
  }
  toExpression(): string {
    return this.children.map(expressionOperand).join(' | ');
  }
  toTree(): FilterTree {
    return ['|', this.children.map((c) => c.toTree())];
  }
}

/** `!x`. */
export class Not extends FilterNode {
  constructor(readonly child: FilterNode) {
    super();
  }
  match(flow: AnyFlow): boolean {
    return !this.child.match(flow);
  }
  toString(): string {
    return `not ${describeOperand(this.child)}`;
  }
  toExpression(): string {
    return `!${expressionOperand(this.child)}`;
  }
  toTree(): FilterTree {
    return ['!', this.child.toTree()];
  }
}
