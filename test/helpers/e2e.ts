/**
 * The shared set-up of an end-to-end test file: the target (embedded stack or a deployment), a
 * recording receiver, and an admin API client, started before the file's tests and stopped after.
 */
import { afterAll, beforeAll } from 'vitest';
import { RecordingReceiver, type Behaviour } from './receiver';
import { startTarget, testApi, type Api, type Target } from './target';

export interface System {
  readonly target: Target;
  readonly receiver: RecordingReceiver;
  readonly api: Api;
  /** A fresh receiver URL answering `behaviours`, as the target's functions reach this machine. */
  hook(behaviours?: Behaviour[]): string;
}

export function useSystem(env: Record<string, string> = {}): System {
  let target: Target | undefined;
  let receiver: RecordingReceiver | undefined;
  let api: Api | undefined;
  const ready = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('the system is used before beforeAll ran');
    return x;
  };

  beforeAll(async () => {
    receiver = await new RecordingReceiver().start();
    target = await startTarget(env);
    api = testApi(target);
  });

  afterAll(async () => {
    await target?.stop();
    await receiver?.stop();
  });

  return {
    get target() {
      return ready(target);
    },
    get receiver() {
      return ready(receiver);
    },
    get api() {
      return ready(api);
    },
    hook(behaviours: Behaviour[] = [200]) {
      const url = new URL(ready(receiver).endpoint(behaviours));
      url.hostname = ready(target).receiverHost;
      return url.toString();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
