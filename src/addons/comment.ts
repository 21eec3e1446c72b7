import type { Loader } from '../addonmanager.js';
import type { Flow } from '../flow.js';
import type { Master } from '../master.js';

/** The `flow.comment` command. */
export class Comment {
  readonly name = 'comment';
  private master!: Master;

  load(loader: Loader): void {
    this.master = loader.master;
    loader.addCommand(
      'flow.comment',
      { help: 'Add a comment to a flow', params: [{ name: 'flow', type: 'flow[]' }, { name: 'comment', type: 'str' }] },
      (flows: Flow[], comment: string) => this.setComment(flows, comment),
    );
  }

  private async setComment(flows: Flow[], comment: string): Promise<void> {
    for (const f of flows) f.comment = comment;
    await this.master.addons.trigger('update', [...flows]);
  }
}
