// Hermetic state: every test process gets its own moat state directory (XDG_STATE_HOME), made when
// the kit is loaded and removed at exit, so a broker started without persistence settings writes
// its default moat.db there, never in the user's ~/.local/state, and test files running side by
// side never share (or lock each other out of) one persistence file. startMoat gives each broker
// it starts a directory of its own on top of this.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_STATE_HOME = mkdtempSync(join(tmpdir(), 'moat-state-'));
process.env['XDG_STATE_HOME'] = TEST_STATE_HOME;
process.once('exit', () => rmSync(TEST_STATE_HOME, { recursive: true, force: true }));
