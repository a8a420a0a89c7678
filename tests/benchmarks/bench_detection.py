"""Detection benchmark: recall on planted attacks, calm on benign look-alikes and attack-free orgs.

Run: uv run python tests/benchmarks/bench_detection.py [--seeds 11 12 13] [--scales 1 5] [--quick]
     [--calibration] [--days 45] [--json results.json] [--work DIR]

For each seed and scale it generates the labelled scenario library (`workbench.sample.scenarios`)
into a temporary folder, runs `workbench ingest` and `workbench scan --all --format json` as
subprocesses (falling back to `--since <first day + 7> --until <last day>` where `scan` has no
`--all`), and matches the findings with the labels. It does the same for an org set with no attack
(benign look-alikes only). Evaluation seeds are 11 12 13; calibration seeds are 1 2 3 (tune on
those, report on these). Output is Markdown, ready to paste into the README.

A finding matches a label when the org matches, the entity id is the label's (or the label's
addresses meet the finding's evidence addresses), and the finding's window overlaps
[label start - 1 h, label end + 24 h].
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.sample.scenarios import ATTACKS, BENIGN, Label, generate_scenarios

EVALUATION_SEEDS = [11, 12, 13]
CALIBRATION_SEEDS = [1, 2, 3]
SEVERITIES = ["low", "medium", "high", "critical"]
HISTORY_DAYS = 7  # days before the first judged day
CLI = [sys.executable, "-m", "workbench.cli"]


@dataclass
class Run:
    """One generate -> ingest -> scan pass and what it found."""

    seed: int
    scale: float
    attacks: bool
    labels: list[Label]
    findings: list[dict[str, Any]]
    orgs: int
    judged_days: int
    events: int = 0
    generate_s: float = 0.0
    ingest_s: float = 0.0
    scan_s: float = 0.0
    scan_error: str = ""
    matches: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # label index -> findings

    @property
    def org_days(self) -> int:
        return max(1, self.orgs * self.judged_days)


def _parse_ts(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def matches(finding: dict[str, Any], label: Label) -> bool:
    """Whether a finding names this label's entity (or addresses) at about its time."""
    if finding.get("org_id") != label.org_id:
        return False
    ips = set((finding.get("evidence") or {}).get("ips") or [])
    if (finding.get("entity_id") or "")[:15] != label.entity_id and not (ips & set(label.ips)):
        return False
    start, end = _parse_ts(finding["window_start"]), _parse_ts(finding["window_end"])
    return start <= label.end + timedelta(hours=24) and end >= label.start - timedelta(hours=1)


def severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def best_severity(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "-"
    return max((f["severity"] for f in findings), key=severity_rank)


def _run(args: list[str], timeout: float = 3600) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return done, time.perf_counter() - started


def scan_has_all() -> bool:
    """Whether `workbench scan` knows `--all` (judge every day with enough history)."""
    done, _ = _run([*CLI, "scan", "--help"])
    return "--all" in done.stdout


def one_run(seed: int, scale: float, days: int, orgs: int, attacks: bool, work: Path, use_all: bool) -> Run:
    """Generate, ingest and scan one labelled org set."""
    folder = work / f"seed{seed}-x{scale:g}-{'attack' if attacks else 'calm'}"
    shutil.rmtree(folder, ignore_errors=True)
    logs, db = folder / "logs", folder / "store.duckdb"
    started = time.perf_counter()
    labels = generate_scenarios(logs, seed=seed, scale=scale, days=days, orgs=orgs, attacks=attacks)
    run = Run(seed, scale, attacks, labels, [], orgs, max(0, days - HISTORY_DAYS))
    run.generate_s = time.perf_counter() - started
    done, run.ingest_s = _run([*CLI, "ingest", str(logs), "--db", str(db)])
    if done.returncode != 0:
        run.scan_error = f"ingest exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        return run
    added = re.search(r"([\d,]+)\s+events\s+added", done.stdout)
    run.events = int(added.group(1).replace(",", "")) if added else 0
    scan = [*CLI, "scan", "--db", str(db), "--format", "json"]
    if use_all:
        scan.append("--all")
    else:
        first, last = _span(logs)
        scan += ["--since", (first + timedelta(days=HISTORY_DAYS)).isoformat(), "--until", last.isoformat()]
    done, run.scan_s = _run(scan)
    if done.returncode not in (0, 1, 4):
        run.scan_error = f"scan exited {done.returncode}: {done.stderr.strip()[-3000:]}"
        return run
    if done.returncode == 4:
        run.scan_error = "scan incomplete (a detector failed): " + done.stderr.strip()[-2000:]
    try:
        run.findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError as exc:
        run.scan_error = f"scan output is not JSON ({exc}): {done.stderr.strip()[-2000:]}"
        return run
    for index, label in enumerate(labels):
        run.matches[index] = [f for f in run.findings if matches(f, label)]
    return run


def _span(logs: Path) -> tuple[Any, Any]:
    days = sorted({p.name[:10] for p in logs.rglob("*.csv*")})
    return datetime.fromisoformat(days[0]).date(), datetime.fromisoformat(days[-1]).date()


def false_alarms(run: Run, at_least: str = "high") -> list[dict[str, Any]]:
    """Findings at or above a severity that match no attack label (benign matches count)."""
    attack_labels = [label for label in run.labels if label.kind == "attack"]
    return [
        f
        for f in run.findings
        if severity_rank(f["severity"]) >= severity_rank(at_least)
        and not any(matches(f, label) for label in attack_labels)
    ]


def per_org_day(run: Run, at_least: str = "low") -> float:
    return (
        sum(1 for f in run.findings if severity_rank(f["severity"]) >= severity_rank(at_least)) / run.org_days
    )


def label_table(run: Run) -> list[str]:
    lines = [
        f"#### seed {run.seed}, scale {run.scale:g}",
        "",
        "| scenario | kind | entity | window (UTC) | best severity | detectors |",
        "|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate([*ATTACKS, *BENIGN])}
    indexed = sorted(
        enumerate(run.labels), key=lambda item: (item[1].kind != "attack", order[item[1].scenario])
    )
    for index, label in indexed:
        found = run.matches.get(index, [])
        detectors: dict[str, str] = {}
        for f in found:
            if severity_rank(f["severity"]) > severity_rank(detectors.get(f["detector"])):
                detectors[f["detector"]] = f["severity"]
        named = ", ".join(f"{d} ({s})" for d, s in sorted(detectors.items())) or "-"
        lines.append(
            f"| {label.scenario} | {label.kind} | `{label.entity_label}` `{label.entity_id}` "
            f"| {label.start:%m-%d %H:%M} to {label.end:%m-%d %H:%M} | {best_severity(found)} | {named} |"
        )
    return lines


def summary_table(pairs: list[tuple[Run, Run | None]]) -> list[str]:
    lines = [
        "| seed | scale | events | generate s | ingest s | scan s | attacks >= medium | attacks >= high "
        "| false high/crit | findings / org-day | calm: high/crit | calm: medium+ / org-day "
        "| calm: findings / org-day |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run, calm in pairs:
        attacks = [i for i, label in enumerate(run.labels) if label.kind == "attack"]
        medium = sum(1 for i in attacks if severity_rank(best_severity(run.matches.get(i, []))) >= 1)
        high = sum(1 for i in attacks if severity_rank(best_severity(run.matches.get(i, []))) >= 2)
        calm_cells = (
            [str(len(false_alarms(calm))), f"{per_org_day(calm, 'medium'):.2f}", f"{per_org_day(calm):.2f}"]
            if calm
            else ["-", "-", "-"]
        )
        lines.append(
            f"| {run.seed} | {run.scale:g} | {run.events:,} | {run.generate_s:.1f} | {run.ingest_s:.1f} "
            f"| {run.scan_s:.1f} | {medium}/{len(attacks)} | {high}/{len(attacks)} | {len(false_alarms(run))} "
            f"| {per_org_day(run):.2f} | " + " | ".join(calm_cells) + " |"
        )
    return lines


def recall_matrix(runs: list[Run]) -> list[str]:
    header = "| scenario | kind | " + " | ".join(f"s{r.seed} x{r.scale:g}" for r in runs) + " |"
    lines = [header, "|---|---|" + "---|" * len(runs)]
    for scenario in [*ATTACKS, *BENIGN]:
        cells = []
        for run in runs:
            found = [
                f
                for i, label in enumerate(run.labels)
                if label.scenario == scenario
                for f in run.matches.get(i, [])
            ]
            present = any(label.scenario == scenario for label in run.labels)
            cells.append(best_severity(found) if present else "n/a")
        kind = "attack" if scenario in ATTACKS else "benign"
        lines.append(f"| {scenario} | {kind} | " + " | ".join(cells) + " |")
    return lines


def false_alarm_lines(run: Run, calm: Run | None) -> list[str]:
    lines = []
    for name, source in (("attack run", run), ("calm run", calm)):
        if source is None:
            continue
        alarms = false_alarms(source)
        if alarms:
            lines.append(f"false high/critical, seed {source.seed} x{source.scale:g}, {name}:")
            for f in sorted(alarms, key=lambda f: (f["detector"], f["window_start"]))[:25]:
                lines.append(
                    f"- {f['severity']} {f['detector']} on {f.get('entity_label')} ({f.get('entity_id')}) "
                    f"{f['window_start'][:16]}: {str(f.get('explanation', ''))[:160]}"
                )
            if len(alarms) > 25:
                lines.append(f"- ... and {len(alarms) - 25} more")
    return lines


def to_json(run: Run) -> dict[str, Any]:
    return {
        "seed": run.seed,
        "scale": run.scale,
        "attacks": run.attacks,
        "events": run.events,
        "generate_s": run.generate_s,
        "ingest_s": run.ingest_s,
        "scan_s": run.scan_s,
        "scan_error": run.scan_error,
        "judged_org_days": run.org_days,
        "labels": [
            {**label.to_json(), "matched": [f["id"] for f in run.matches.get(i, [])]}
            for i, label in enumerate(run.labels)
        ],
        "findings": run.findings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the evaluation seeds 11 12 13)")
    parser.add_argument("--calibration", action="store_true", help="use the calibration seeds 1 2 3")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--orgs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="first seed only, scale 1, 30 days")
    parser.add_argument("--no-calm", action="store_true", help="skip the attack-free runs")
    parser.add_argument("--json", type=Path, help="write the raw results (labels, findings, matches) here")
    parser.add_argument("--work", type=Path, help="keep the generated logs and stores in this folder")
    args = parser.parse_args()
    seeds = args.seeds or (CALIBRATION_SEEDS if args.calibration else EVALUATION_SEEDS)
    scales, days = args.scales, args.days
    if args.quick:
        seeds, scales, days = seeds[:1], [1.0], min(days, 30)
    work = args.work or Path(tempfile.mkdtemp(prefix="workbench-bench-detection-"))
    work.mkdir(parents=True, exist_ok=True)
    use_all = scan_has_all()
    kind = (
        "calibration"
        if set(seeds) <= set(CALIBRATION_SEEDS)
        else "evaluation"
        if set(seeds) <= set(EVALUATION_SEEDS)
        else "mixed"
    )
    print(
        f"## Detection benchmark ({kind} seeds {' '.join(map(str, seeds))}; scales {' '.join(map(str, scales))})"
    )
    print()
    print(
        f"Calibration seeds: {' '.join(map(str, CALIBRATION_SEEDS))} (tune on these); evaluation seeds: "
        f"{' '.join(map(str, EVALUATION_SEEDS))} (report these). {days} days x {args.orgs} orgs; scan "
        + ("`--all`" if use_all else "`--since <first day + 7> --until <last day>` (no `--all` yet)")
        + "."
    )
    print()
    pairs: list[tuple[Run, Run | None]] = []
    try:
        for seed in seeds:
            for scale in scales:
                run = one_run(seed, scale, days, args.orgs, True, work, use_all)
                calm = None if args.no_calm else one_run(seed, scale, days, args.orgs, False, work, use_all)
                pairs.append((run, calm))
                for source in (run, calm):
                    if source and source.scan_error:
                        print(f"> seed {seed} x{scale:g}: {source.scan_error}", file=sys.stderr)
                print("\n".join(label_table(run)))
                print()
                details = false_alarm_lines(run, calm)
                if details:
                    print("\n".join(details))
                    print()
                sys.stdout.flush()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("### Summary")
    print()
    print("\n".join(summary_table(pairs)))
    print()
    print("### Best severity per scenario")
    print()
    print("\n".join(recall_matrix([run for run, _ in pairs])))
    print()
    print(
        "false high/crit: high or critical findings matching no attack label (benign look-alikes count as "
        "false); findings / org-day: all findings over judged org-days; calm: the same seed and scale "
        "with no attack planted."
    )
    if args.json:
        payload = [{"run": to_json(run), "calm": to_json(calm) if calm else None} for run, calm in pairs]
        args.json.write_text(json.dumps(payload, indent=1, default=str))
        print(f"\nraw results: {args.json}")


if __name__ == "__main__":
    main()
