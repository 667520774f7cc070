import { isExtensionName } from '../protocol/extensions.ts';
import type { MessageOf } from '../protocol/messages.ts';
import type { Logger } from '../lib/logger.ts';
import type { Extensions } from './extension-state.ts';
import { describeRun, type Playback } from './playback.ts';
import type { ScenarioRunner } from './scheduler.ts';

type CommandReply = Omit<MessageOf<'command-result'>, 'v' | 'type' | 'id'>;

/**
 * Carries out one `command` from the control plane and returns its result: install or remove an
 * extension, change the heartbeat, cancel a run, or play a scenario (waiting for the host's
 * current run). Never throws: a failure is a result with `ok: false`.
 */
export async function handleCommand(msg: MessageOf<'command'>, d: {
  logger: Logger;
  extensions: Extensions;
  runner: ScenarioRunner;
  playback: Playback;
  /** Sets the heartbeat interval (s) and returns the one in force. */
  heartbeat: (sec?: number) => number;
  /** The installed extensions changed. */
  extensionsChanged: () => void;
}): Promise<CommandReply> {
  const c = msg.command;
  if (c.action === 'set-extension') {
    if (!isExtensionName(c.name)) return { ok: false, message: `unknown extension ${c.name}` };
    try {
      d.extensions.set(c.name, c.enabled); // writes extensions.json: a full disk must not escape
    } catch (err) {
      return { ok: false, message: `could not record extension ${c.name}: ${(err as Error).message}` };
    }
    d.logger.info(`extension ${c.name} ${c.enabled ? 'installed' : 'removed'}`);
    d.extensionsChanged();
    return { ok: true, message: `${c.name} ${c.enabled ? 'enabled' : 'disabled'}` };
  }
  if (c.action === 'update-config') {
    return { ok: true, message: `heartbeat every ${d.heartbeat(c.heartbeatIntervalSec || undefined)} s` };
  }
  if (c.action === 'cancel-scenario') {
    const found = d.runner.cancel(c.detonationId);
    return { ok: found, detonationId: c.detonationId, message: found ? 'cancelled; its cleanup phase plays' : 'no such run is playing' };
  }
  try {
    const { validateScenario } = await import('../scenarios/index.ts'); // not evaluated until a scenario comes
    const scenario = validateScenario(c.scenario, 'command.scenario');
    const r = (await d.runner.run({ ...c, scenario, source: 'command' }, 'wait'))!;
    const notCollected = d.playback.takeNotCollected(c.detonationId);
    return {
      ok: !r.failure && !r.cancelled, detonationId: c.detonationId, events: r.released, notCollected,
      message: r.failure || r.cancelled ? describeRun(r) : undefined,
    };
  } catch (err) {
    // A typed refusal keeps its code, so the caller can tell it (e.g. ARCSIM_E_PLAY_WRONG_OS) from a failure.
    const code = (err as { code?: unknown }).code;
    return { ok: false, detonationId: c.detonationId, message: `${typeof code === 'string' && code.startsWith('ARCSIM_E_') ? `${code}: ` : ''}${(err as Error).message}` };
  }
}
