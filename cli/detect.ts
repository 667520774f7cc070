import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parseEventsNdjson, runOfflineDetection } from '../control-plane/detection/offline-detect.ts';
import { DEFAULT_RULES_DIR, reportRulesDirs } from '../control-plane/detection/index.ts';
import { loadLibrary, loadScenarioFile, type Scenario } from '../scenarios/index.ts';
import { readRecordedEvents, RECORDED_FORMATS, summarizeRead, type RecordedFormat, type RecordedRead } from '../scenarios/recorded/index.ts';
import { table } from '../lib/text-table.ts';

function scenarioFrom(ref: string): Scenario {
  if (/\.ya?ml$/.test(ref)) return loadScenarioFile(ref);
  const s = loadLibrary().get(ref);
  if (!s) throw new Error(`no library scenario "${ref}" (give a slug from "arcsim scenario list" or a .yaml file)`);
  return s;
}

export function detectCommand(): Command {
  return new Command('detect')
    .description('run the detection rules over recorded events (arcsim NDJSON, recorded Windows telemetry mapped to MDE rows, or a Kubernetes audit log as KubernetesAudit rows) and print the alerts, like wazuh-logtest; a rule for an OS (logsource.product windows/linux/macos) runs only on devices of that OS (from DeviceInfo OSPlatform rows; evtx-json/flat-json: Windows; unknown: every rule)')
    .requiredOption('--events <file>', 'file of events (e.g. written by a scenario play), - for stdin')
    .addOption(new Option('--format <format>', 'arcsim: NDJSON sensor events; evtx-json: evtx_dump JSON (Sysmon 1/3/7/11/12/13/14/22, Security 4624/4625/4688); flat-json: flattened dataset records (EventID, Channel, Hostname, …); k8s-audit: Kubernetes API server audit log (audit.k8s.io/v1 Event, one JSON a line, or an EventList)').choices([...RECORDED_FORMATS]).default('arcsim'))
    .option('--cluster <name>', 'with --format k8s-audit: the cluster the audit log is of (an audit event does not name it)', 'k8s-cluster')
    .option('--rules <dir...>', 'directories of Sigma rule files, read recursively, rule by rule: every rule that loads is used (default: the shipped rules)')
    .option('--strict', 'fail when any rule is refused (default: print the refused count and go on)')
    .option('--scenario <slug|file>', "check the scenario's expected alerts: exit 0 only if exactly they were raised")
    .option('--benign', 'with --scenario: the events are its benign twin, so no alert may be raised')
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const text = readFileSync(opts.events === '-' ? 0 : opts.events, 'utf8');
      const format = opts.format as RecordedFormat;
      let recorded: RecordedRead | undefined;
      let events;
      if (format === 'arcsim') events = parseEventsNdjson(text, opts.events);
      else {
        recorded = readRecordedEvents(text, format, opts.events, { cluster: opts.cluster });
        events = recorded.events;
        // Records that gave no row are reported, never dropped silently.
        process.stderr.write(summarizeRead(recorded) + '\n');
      }
      const dirs: string[] = opts.rules ?? [DEFAULT_RULES_DIR];
      const report = reportRulesDirs(dirs);
      if (report.refused.length) {
        if (opts.strict) throw (report.refused[0] as { error?: Error }).error ?? new Error(report.refused[0]!.message!);
        process.stderr.write(`${report.refused.length} of ${report.results.length} rule(s) refused, the others loaded; see which and why: arcsim rules check ${dirs.join(' ')}\n`);
      }
      // Rules run only on devices of their logsource.product's OS family: the OS comes from the
      // events' DeviceInfo rows (OSPlatform); Windows event logs come from Windows devices.
      const run = await runOfflineDetection(events, { rules: report.set, ...(format === 'evtx-json' || format === 'flat-json' ? { defaultOs: 'windows' } : {}) });
      const alerts = run.alerts;
      if (run.unknownOs.length && format !== 'k8s-audit') {
        process.stderr.write(`${run.unknownOs.length} of ${run.devices} device(s) of unknown OS (no DeviceInfo row with OSPlatform): every rule ran on their events, Windows, Linux and macOS rules alike\n`);
      }
      if (run.playbackEvents) {
        process.stderr.write(`${run.playbackEvents} scenario-playback event(s) (with a DetonationId) of devices of known OS: every rule ran on them (a playback stands for its scenario's platform, not the host's)\n`);
      }
      let verdict: { ok: boolean; lines: string[] } | undefined;
      if (opts.scenario) {
        const s = scenarioFrom(opts.scenario);
        const expected = opts.benign ? [] : s.expect.alerts;
        const lines: string[] = [];
        let ok = true;
        for (const exp of expected) {
          const n = alerts.filter((a) => a.alertType === exp.alertType).length;
          const pass = n === exp.count;
          ok &&= pass;
          lines.push(`${pass ? 'PASS' : 'FAIL'}  ${exp.alertType}: ${n} alert(s), expected ${exp.count}`);
        }
        for (const a of alerts.filter((x) => !expected.some((e) => e.alertType === x.alertType))) {
          ok = false;
          lines.push(`FAIL  unexpected ${a.alertType} (${a.properties.alertDisplayName})`);
        }
        verdict = { ok, lines };
        if (!ok) process.exitCode = 1;
      }
      if (opts.json) {
        const read = recorded && { format: recorded.format, records: recorded.records, mapped: recorded.mapped, rows: recorded.events.length, unmapped: recorded.unmapped, skipped: recorded.skipped, invalid: recorded.invalid };
        process.stdout.write(JSON.stringify({ events: events.length, unknownOsDevices: run.unknownOs.length, ...(read ? { recorded: read } : {}), alerts, ...(verdict ? { ok: verdict.ok, checks: verdict.lines } : {}) }, null, 2) + '\n');
        return;
      }
      process.stdout.write(`${events.length} events, ${alerts.length} alert(s)\n`);
      if (alerts.length) {
        process.stdout.write(table(alerts.map((a) => ({
          alertType: a.alertType, alertDisplayName: a.properties.alertDisplayName, severity: a.severity, count: a.count,
          machine: a.properties.compromisedEntity, start: new Date(a.startTime).toISOString(), end: new Date(a.endTime).toISOString(),
        })), ['alertType', 'alertDisplayName', 'severity', 'count', 'machine', 'start', 'end']) + '\n');
      }
      if (verdict) process.stdout.write([...verdict.lines, verdict.ok ? 'PASS' : 'FAIL'].join('\n') + '\n');
    });
}
