/**
 * `hookrelay apps create|show|update`, `hookrelay keys create|delete` and `hookrelay portal link|revoke`:
 * the tenants, their app-scoped keys and their customers' portal links, through the API.
 */
import type { Command } from 'commander';
import { apiClient } from '../api';
import { resolveApi } from '../context';
import { OperationError, UsageError } from '../io';
import { missingSubcommand, positiveInt, type Runtime } from '../runtime';

function print(rt: Runtime, json: boolean, value: unknown): void {
  if (json) rt.out.json(value);
  else rt.out.line(JSON.stringify(value, null, 2));
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerApps(program: Command, rt: Runtime): void {
  const apps = program.command('apps').description('create and look at apps (tenants) through the API');
  missingSubcommand(apps);
  apps
    .command('create')
    .summary('create an app (admin key) and print it; its id is what every other command takes as --app')
    .requiredOption('--name <name>', 'a name for people')
    .option('--known-event-types-only', 'refuse events of a type the catalog does not list (422)')
    .action(async (o: { name: string; knownEventTypesOnly?: boolean }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const body = { name: o.name, ...(o.knownEventTypesOnly ? { knownEventTypesOnly: true } : {}) };
      print(rt, g.opts.json === true, await api.createApp(body));
    });
  apps
    .command('update')
    .summary("change an app's name, or whether it takes only the catalog's event types (admin key)")
    .requiredOption('--app <appId>', 'the app')
    .option('--name <name>', 'a new name')
    .option('--known-event-types-only', 'refuse events of a type the catalog does not list (422)')
    .option('--any-event-type', 'take events of any type again (the default)')
    .action(
      async (
        o: { app: string; name?: string; knownEventTypesOnly?: boolean; anyEventType?: boolean },
        cmd: Command,
      ) => {
        const g = rt.globals(cmd);
        if (o.knownEventTypesOnly && o.anyEventType)
          throw new UsageError('--known-event-types-only and --any-event-type exclude each other');
        const body = {
          ...(o.name === undefined ? {} : { name: o.name }),
          ...(o.knownEventTypesOnly ? { knownEventTypesOnly: true } : {}),
          ...(o.anyEventType ? { knownEventTypesOnly: false } : {}),
        };
        if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give at least one option');
        const api = apiClient(resolveApi(g.opts, rt.io));
        print(rt, g.opts.json === true, await api.updateApp(o.app, body));
      },
    );
  apps
    .command('show')
    .summary('print an app')
    .requiredOption('--app <appId>', 'the app')
    .action(async (o: { app: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      print(rt, g.opts.json === true, await api.getApp(o.app));
    });

  const keys = program.command('keys').description("create and revoke an app's own API keys (admin key)");
  missingSubcommand(keys);
  keys
    .command('create')
    .summary('create an app-scoped key and print it: the key is shown this once')
    .requiredOption('--app <appId>', 'the app the key may act on (it alone)')
    .option('--name <name>', 'a name for people')
    .action(async (o: { app: string; name?: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      print(rt, g.opts.json === true, await api.createKey(o.app, o.name === undefined ? {} : { name: o.name }));
    });
  keys
    .command('delete')
    .summary('revoke a key: it stops working at once')
    .requiredOption('--app <appId>', 'the app the key belongs to')
    .requiredOption('--key <keyId>', 'the key id (hr_key_..., not the key itself)')
    .option('--yes', 'do not ask for confirmation')
    .action(async (o: { app: string; key: string; yes?: boolean }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      if (!(await rt.confirm(`Revoke key ${o.key} of app ${o.app}?`, o.yes)))
        throw new OperationError('not revoked: the confirmation was declined');
      await api.deleteKey(o.app, o.key);
      if (g.opts.json) rt.out.json({ revoked: o.key });
      else rt.out.line(`revoked key ${o.key}`);
    });

  const portal = program.command('portal').description("links to an app's portal for its customer");
  missingSubcommand(portal);
  portal
    .command('link')
    .summary('mint a portal link (the URL carries its token, shown once)')
    .requiredOption('--app <appId>', 'the app')
    .option('--capability <read|manage>', 'what the link may do (repeat; default read and manage)', collect)
    .option('--ttl <seconds>', 'how long the link works, 3600 to 604800 s', positiveInt('--ttl', 604_800))
    .action(async (o: { app: string; capability?: string[]; ttl?: number }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      // As given: the API checks the values and its 400 names what is wrong.
      const body = {
        ...(o.capability ? { capabilities: o.capability as ('read' | 'manage')[] } : {}),
        ...(o.ttl === undefined ? {} : { ttlSeconds: o.ttl }),
      };
      const link = await api.createPortalLink(o.app, body);
      if (g.opts.json) rt.out.json(link);
      else {
        rt.out.line(link.url);
        rt.out.line(`expires ${link.expiresAt}`);
      }
    });
  portal
    .command('revoke')
    .summary('end every portal link and session of the app, at once')
    .requiredOption('--app <appId>', 'the app')
    .option('--yes', 'do not ask for confirmation')
    .action(async (o: { app: string; yes?: boolean }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      if (!(await rt.confirm(`End every portal link of app ${o.app}?`, o.yes)))
        throw new OperationError('nothing ended: the confirmation was declined');
      await api.endPortalSessions(o.app);
      if (g.opts.json) rt.out.json({ revoked: o.app });
      else rt.out.line(`ended every portal link of app ${o.app}`);
    });
}
