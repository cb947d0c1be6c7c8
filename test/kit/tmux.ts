// A terminal for tests of full-screen commands: a detached tmux session on its own server (-L NAME,
// so a test never touches anyone's tmux), typed into with send-keys and read with capture-pane.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const TMUX_BINARY = '/usr/bin/tmux';

let sessions = 0;

export interface TmuxSession {
  readonly socket: string;
  /** The screen as text; with `escapes`, with the colour escape sequences (capture-pane -e). */
  capture(escapes?: boolean): Promise<string>;
  /** Polls the screen until `done(screen)` is true; throws with the last screen after timeoutMs. */
  waitFor(done: (screen: string) => boolean, what: string, timeoutMs?: number, escapes?: boolean): Promise<string>;
  /** tmux display-message -p FORMAT: the pane's state, e.g. '#{alternate_on} #{cursor_flag}'. */
  display(format: string): Promise<string>;
  /** Resizes the window (and so the pane): the program gets SIGWINCH. */
  resize(width: number, height: number): Promise<void>;
  /** tmux send-keys: key names ("q", "C-c", "Enter") as tmux reads them. */
  sendKeys(...keys: string[]): Promise<void>;
  /** Ends the session and its server (kill-server on this socket only). */
  kill(): Promise<void>;
}

/**
 * Starts `command args` in a width×height tmux pane. When the command exits the pane stays, showing
 * "[exited N]" (a shell prints it), so a test can read the exit code from the screen.
 */
export async function startTmux(command: string, args: readonly string[], size = { width: 120, height: 40 }, env: Readonly<Record<string, string>> = {}): Promise<TmuxSession> {
  const socket = `moat-test-${process.pid}-${++sessions}`;
  const quoted = [command, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const assignments = Object.entries(env).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`).join(' ');
  // The shell keeps the pane open after the command, with its exit code on the screen.
  const script = `${assignments} ${quoted}; echo "[exited $?]"; sleep 600`;
  await run(TMUX_BINARY, ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-x', String(size.width), '-y', String(size.height), '/bin/sh', '-c', script]);
  const target = ['-t', '0'];
  const session: TmuxSession = {
    socket,
    async capture(escapes = false) {
      const { stdout } = await run(TMUX_BINARY, ['-L', socket, 'capture-pane', '-p', ...(escapes ? ['-e'] : []), ...target]);
      return stdout;
    },
    async waitFor(done, what, timeoutMs = 15_000, escapes = false) {
      const deadline = Date.now() + timeoutMs;
      let screen = '';
      while (Date.now() < deadline) {
        screen = await session.capture(escapes);
        if (done(screen)) return screen;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`tmux: timed out after ${timeoutMs} ms waiting for ${what}; the screen:\n${screen}`);
    },
    async display(format) {
      const { stdout } = await run(TMUX_BINARY, ['-L', socket, 'display-message', '-p', ...target, format]);
      return stdout.trim();
    },
    async resize(width, height) {
      await run(TMUX_BINARY, ['-L', socket, 'resize-window', ...target, '-x', String(width), '-y', String(height)]);
    },
    async sendKeys(...keys) {
      await run(TMUX_BINARY, ['-L', socket, 'send-keys', ...target, ...keys]);
    },
    async kill() {
      await run(TMUX_BINARY, ['-L', socket, 'kill-server']).catch(() => undefined);
      // tmux leaves the socket file behind: remove it (its folder is tmux's default, /tmp/tmux-UID).
      await rm(join(process.env['TMUX_TMPDIR'] ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket), { force: true });
    },
  };
  return session;
}
