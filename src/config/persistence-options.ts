// mosquitto.conf's persistence options, read as Mosquitto reads them, on moat's SQLite store:
// persistence (and its old name retained_persistence), persistence_file, persistence_location; moat's
// persistence_sync; and autosave_interval / autosave_on_changes, which moat has no use for (it
// commits every event-loop turn before acknowledging, not a snapshot every N seconds), accepted
// with a warning so a Mosquitto config still starts.
import { bool, freeText, global, oneOf, type OptionContext, type OptionSpec } from './option-kit.js';

function autosaveNotNeeded(ctx: OptionContext): void {
  if (freeText(ctx, '1800') === undefined) return;
  ctx.warn(
    `${ctx.line.option} is not needed with moat: it commits what it acknowledges to the persistence file every event-loop turn, ` +
      'so there is no snapshot to schedule (Mosquitto loses everything since its last autosave in a crash). Fix: remove the line.',
  );
}

export const PERSISTENCE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  persistence: { scope: 'global', example: 'true', apply: global('persistence', (ctx) => bool(ctx, 'true')) },
  // Mosquitto 2.0.11 still reads this old name of `persistence` (undocumented).
  retained_persistence: { scope: 'global', example: 'true', apply: global('persistence', (ctx) => bool(ctx, 'true')) },
  // A name in persistence_location (Mosquitto joins the two); with no location, a name goes in moat's
  // state directory and a path is used as written.
  persistence_file: { scope: 'global', example: 'moat.db', apply: global('persistenceFile', (ctx) => freeText(ctx, 'moat.db')) },
  persistence_location: {
    scope: 'global',
    example: '/var/lib/moat/',
    apply: global('persistenceLocation', (ctx) => freeText(ctx, '/var/lib/moat/')),
  },
  persistence_sync: {
    scope: 'global',
    example: 'normal',
    apply: global('persistenceSync', (ctx) => oneOf(ctx, ['normal', 'full'] as const, 'normal')),
  },
  autosave_interval: { scope: 'global', example: '1800', apply: autosaveNotNeeded },
  autosave_on_changes: { scope: 'global', example: 'false', apply: autosaveNotNeeded },
};
