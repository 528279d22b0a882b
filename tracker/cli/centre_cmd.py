"""``tracker init``, ``rollup``, ``conflicts``, ``resolve``, ``issue``, ``rebuild`` and ``export``: the centre
folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tracker.terminal import for_terminal, json_bytes


def _say(text: str, *, err: bool = False) -> None:
    """Print one line of output whose text may come from files (escaped for the terminal)."""
    print(for_terminal(text), file=sys.stderr if err else sys.stdout)


def _json_out(data: Any) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(json_bytes(json.dumps(data, indent=2, ensure_ascii=False) + "\n"))
    sys.stdout.buffer.flush()


def add_parser(sub: Any) -> None:
    """Add the centre commands to the top-level sub-parsers."""
    p = sub.add_parser(
        "init", help="create a centre folder (config, register, inbox, archive, ledger, master)",
        description="Create a centre folder: centre.yaml (name, number, readings, paths), the centre "
                    "register, inbox/, archive/, quarantine/, the ledger and an empty master workbook. "
                    "On an existing centre folder, creates only what is missing; nothing is overwritten.")
    p.add_argument("dir", metavar="DIR", help="the centre folder (created if missing)")
    p.add_argument("--name", default="", help="the centre's name")
    p.add_argument("--number", default="", help="the centre's awarding-body number")
    p.add_argument("--reading", default=None, metavar="ID",
                   help="the reading the centre uses where a specification is ambiguous (e.g. criteria-table "
                        "or unit-guidance for L2 Unit 17); asked when not given on a terminal")
    p.add_argument("--clarification", default="", metavar="TEXT",
                   help="the awarding body's clarification of that reading, recorded in centre.yaml")
    p.set_defaults(func=_init)

    p = sub.add_parser(
        "rollup", help="merge the returned workbooks in the inbox into the ledger and the master",
        description="Roll up every workbook in DIR/inbox: each file is archived by content hash, read, "
                    "validated and merged into the ledger; a returned row that contradicts an accepted "
                    "sign-off becomes a conflict (see `tracker conflicts`); unreadable or unidentifiable "
                    "files go to DIR/quarantine. Then the master workbook is rebuilt. Exit code 0 when the "
                    "roll-up ran (even with quarantined files or conflicts), 1 when it could not run (the "
                    "master is open in Excel, another roll-up is running, the folder is not a centre).")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes reading and checking files (default: centre.yaml, else automatic)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar and only the summary line")
    p.set_defaults(func=_rollup)

    p = sub.add_parser(
        "plan", help="the IQA sampling plan: what each IQA should sample next, and why",
        description="Choose, from the ledger and the sampling policy in centre.yaml, the decisions each "
                    "IQA should sample next, each with its reason (trainee, new assessor, referral rate, "
                    "conflict mitigation, a gap in assessor x unit x method, a learner near completion, an "
                    "employer not covered, a referral awaiting re-check), and each assessor's risk rating "
                    "and compliance. Read only: the roll-up stores the plan (master: Sampling plan sheet).")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.add_argument("--csv", metavar="FILE", help="write the planned items as CSV ('-' for standard output)")
    p.set_defaults(func=_plan)

    p = sub.add_parser("conflicts", help="list the open merge conflicts of a centre",
                       description="List open conflicts: a returned row that contradicted an accepted "
                                   "sign-off. Close one with `tracker resolve`.")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.add_argument("--learner", metavar="ULN", help="only this learner's conflicts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_conflicts)

    p = sub.add_parser(
        "resolve", help="close a merge conflict, keeping the accepted or the returned value",
        description="Close an open conflict, named either by --learner ULN --criterion REF (add "
                    "--qualification when the learner is on more than one) or by --conflict ID (the "
                    "number in the master's Conflicts sheet and in `tracker conflicts`). --keep accepted "
                    "leaves the accepted row as it is; --keep returned replaces it with the returned row. "
                    "Recorded in the ledger with who, when and the note; the master is rebuilt.")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.add_argument("--learner", metavar="ULN", help="the learner's ULN")
    p.add_argument("--criterion", metavar="REF", help="the criterion reference, e.g. K1.1")
    p.add_argument("--qualification", metavar="NUMBER", help="qualification number, e.g. 603/4687/5")
    p.add_argument("--conflict", type=int, metavar="ID", help="the conflict's number instead of learner+criterion")
    p.add_argument("--keep", required=True, choices=("accepted", "returned"), help="which value stands")
    p.add_argument("--note", default="", help="why (recorded in the ledger and shown in the master)")
    p.add_argument("--by", default=None, metavar="NAME", help="who decided (default: the logged-in user)")
    p.set_defaults(func=_resolve)

    p = sub.add_parser(
        "issue", help="re-issue learners' current workbooks from the ledger, stamped with their base",
        description="Write each learner's current workbook from the ledger (every accepted value, the "
                    "cover details and the evidence log in place, protected as `tracker new` writes it) "
                    "into OUT/<assessor>/ (default DIR/outbox). Each is stamped with the ledger revision "
                    "it was issued from, so that its return is merged three-way: a field the holder did "
                    "not change never contradicts work returned on another copy meanwhile.")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.add_argument("--learner", action="append", metavar="ULN", help="only this learner (repeatable)")
    p.add_argument("-o", "--output", metavar="OUT", help="output folder (default: DIR/outbox)")
    p.set_defaults(func=_issue)

    p = sub.add_parser(
        "rebuild", help="rebuild the ledger and the master from the archive and the journal",
        description="Make the ledger and the master again from DIR/archive (every received file, replayed "
                    "in the order received, each verified by its hash) and DIR/journal.jsonl (every admin "
                    "decision and every re-issue). Use it when a command says the ledger is damaged. The "
                    "old ledger is kept beside the new one, never deleted.")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.set_defaults(func=_rebuild)

    p = sub.add_parser(
        "export", help="export the criteria and learners tables as CSV, JSON or Parquet",
        description="Write criteria.<ext> (one row per learner x criterion) and learners.<ext> from the "
                    "ledger into OUT (default DIR/export), for scripts and pandas.")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.add_argument("--format", required=True, choices=("csv", "json", "parquet"))
    p.add_argument("-o", "--output", metavar="OUT", help="output folder (default: DIR/export)")
    p.add_argument("--raw", action="store_true",
                   help="CSV: write text exactly as recorded (by default text starting with = + - @, tab or "
                        "carriage return gets a leading ' so that Excel never runs it as a formula)")
    p.set_defaults(func=_export)


def _ask_reading() -> str | None:
    """Ask, on a terminal, which reading the centre uses for each ambiguous qualification (one
    answer for all; Enter keeps each qualification's default)."""
    from tracker.spec.catalogue import list_qualifications

    qs = [q for q in list_qualifications() if q.readings]
    if not qs:
        return None
    for q in qs:
        print(f"{q.title} ({q.number}) is ambiguous; readings:")
        for r in q.readings:
            print(f"  {r.id}{' (default)' if r.default else ''}: {r.description}")
    answer = input("Reading this centre uses (Enter for the default): ").strip()
    return answer or None


def _init(args: argparse.Namespace) -> int:
    from tracker.centre.create import init_centre

    reading = args.reading
    if reading is None and sys.stdin.isatty() and not (Path(args.dir) / "centre.yaml").exists():
        reading = _ask_reading()
    centre, created = init_centre(args.dir, name=args.name, number=args.number, reading=reading,
                                  clarification=args.clarification)
    for qid, rd in sorted(centre.readings.items()):
        print(f"reading for {qid}: {rd}")
    if created:
        _say(f"centre folder {centre.root}: created {', '.join(created)}")
    else:
        _say(f"centre folder {centre.root} is complete; nothing to create")
    _say(f"drop returned workbooks into {centre.inbox}, then run: tracker rollup {args.dir}")
    return 0


def _rollup(args: argparse.Namespace) -> int:
    from tracker.centre.rollup_steps import rollup

    result = rollup(args.dir, workers=args.workers, progress=not (args.quiet or args.json))
    if args.json:
        _json_out(result.to_dict())
        return 0
    if not args.quiet:
        for f in result.files:
            if f.outcome == "merged":
                extra = []
                if f.conflicts_opened:
                    extra.append(f"{f.conflicts_opened} conflict(s)")
                if f.conflicts_closed:
                    extra.append(f"{f.conflicts_closed} conflict(s) closed")
                if f.errors or f.warnings:
                    extra.append(f"{f.errors} error(s), {f.warnings} warning(s)")
                tail = f" ({'; '.join(extra)})" if extra else ""
                _say(f"merged       {f.name}: {f.learner} (ULN {f.uln}), {f.rows_accepted} row(s) accepted{tail}")
            elif f.outcome == "quarantined":
                _say(f"quarantined  {f.name}: {f.reason}")
            elif f.outcome == "skipped":
                _say(f"skipped      {f.name}: {f.reason}")
            else:
                _say(f"no change    {f.name}: {f.reason}")
        for note in result.notes:
            _say(f"note: {note}", err=True)
    merged, quarantined, dup, skipped = (result.count(k) for k in ("merged", "quarantined", "duplicate", "skipped"))
    if result.changed:
        state = f"master rebuilt: {result.master}"
    elif result.master_rebuilt:
        state = f"nothing new; master rebuilt from the ledger: {result.master}"
    else:
        state = f"nothing new; master unchanged: {result.master}"
    decided = f"{result.decisions} decision(s) from the Conflicts sheet applied; " if result.decisions else ""
    left = f", {skipped} skipped" if skipped else ""
    _say(f"{merged} merged, {quarantined} quarantined, {dup} already received{left}; {decided}{result.learners} learner(s), "
          f"{result.open_conflicts} open conflict(s); {result.seconds:.1f} s; {state}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from tracker.centre.plan import RISK_HEADERS, centre_plan, plan_rows, risk_rows, write_plan_csv

    plan = centre_plan(args.dir)
    if args.csv == "-":
        write_plan_csv(plan, sys.stdout)
        return 0
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as f:
            write_plan_csv(plan, f)
    for r in risk_rows(plan):
        info = dict(zip(RISK_HEADERS, r))
        print(f"{info['Assessor']}: {info['Risk']} risk ({info['Reasons']}), rate {float(str(info['Rate'])):.0%}, "
              f"{info['Sampled']} of {info['Met decisions']} sampled, {info['Planned']} planned, "
              f"compliant: {info['Compliant']}")
    for iqa, assessor, learner, qn, unit, ref, kind, reason, _on in plan_rows(plan):
        print(f"  {iqa or '(no IQA)'} samples {learner} {ref} (unit {unit}, {qn}) by {assessor}: {kind}, {reason}")
    print(f"{len(plan.items)} decision(s) planned for sampling")
    return 0


def _conflicts(args: argparse.Namespace) -> int:
    from tracker.centre.conflicts import open_conflicts

    rows = open_conflicts(args.dir, args.learner)
    if args.json:
        _json_out(rows)
        return 0
    if not rows:
        print("no open conflicts")
        return 0
    for r in rows:
        _say(f"#{r['id']}  {r['learner']} (ULN {r['uln']}, {r['qualification_number']}), {r['criterion']}: "
              f"the accepted row is from {r['accepted_file'] or 'an earlier return'}, "
              f"the contradicting one from {r['returned_file'] or 'a later return'}")
        for f in r["fields"]:
            base = f", as issued {_in_words(r['base'].get(f))}" if r["base"] is not None else ""
            _say(f"    {_field_name(f)}: accepted {_in_words(r['accepted'].get(f))}, "
                  f"returned {_in_words(r['returned'].get(f))}{base}")
    print(f"{len(rows)} open conflict(s); close one with: tracker resolve {args.dir} --conflict ID "
          "--keep accepted|returned")
    return 0


def _field_name(key: str) -> str:
    """A criterion-row field by its column header in the workbook ('iqa_sampled' -> 'IQA sampled')."""
    from tracker.workbook import layout as L

    try:
        return L.column_by_key(L.CRITERION_COLUMNS, key).header
    except KeyError:
        return key.replace("_", " ")


def _in_words(value: Any) -> str:
    """A ledger value as a person reads it: 'blank', "Met", 03/02/2025, "E1, E2"."""
    import datetime as dt

    if value is None or value == "" or value == [] or value == ():
        return "blank"
    if isinstance(value, (list, tuple)):
        return '"' + ", ".join(map(str, value)) + '"'
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return f'"{value}"'
    return str(value)


def _resolve(args: argparse.Namespace) -> int:
    from tracker.centre.conflicts import resolve

    r = resolve(args.dir, keep=args.keep, uln=args.learner, criterion=args.criterion,
                qualification=args.qualification, conflict_id=args.conflict, note=args.note, by=args.by)
    _say(f"conflict #{r.conflict_id} ({r.learner}, ULN {r.uln}, {r.criterion}) closed: kept the {r.kept} value; "
          f"master rebuilt: {r.master}")
    return 0


def _issue(args: argparse.Namespace) -> int:
    from tracker.centre.reissue import issue_workbooks

    r = issue_workbooks(args.dir, ulns=args.learner, out=args.output)
    for w in r.workbooks:
        print(w.path)
    print(f"{len(r.workbooks)} workbook(s) issued from ledger revision {r.revision} into {r.outbox}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from tracker.centre.rebuild import rebuild

    r = rebuild(args.dir)
    for problem in r.problems:
        print(f"warning: {problem}", file=sys.stderr)
    kept = f"; the old ledger was kept as {r.kept_old}" if r.kept_old else ""
    print(f"ledger rebuilt from {r.files} archived file(s), {r.decisions} decision(s) and {r.bases} issue(s){kept}; "
          f"master rebuilt: {r.master}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from tracker.centre.export_tables import export

    for path in export(args.dir, args.format, args.output, raw=args.raw):
        _say(str(path))
    return 0
