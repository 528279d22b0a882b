"""The roll-up's own issue types: why a returned file was not merged, and what a merge noticed
about the learner's identity (a changed name, a second workbook, a workbook copied from another
learner's). They are stored with the file's other issues and shown on the master's Issues sheet.
"""

from __future__ import annotations

from tracker.issues import Severity, issue_type

UNKNOWN_LEARNER = issue_type(
    "centre-unknown-learner", Severity.ERROR, "Returned workbook names no learner",
    "{name} was not merged: {reason}",
    "A returned workbook is matched to a learner by the ULN on its cover sheet (with the "
    "qualification number), never by its file name. This file gives no valid ULN, so it cannot be "
    "matched; it was moved to the quarantine folder and nothing in it was merged.",
    "Correct the ULN on the workbook's cover sheet and drop the file into the inbox again.",
    group="centre")
UNKNOWN_QUALIFICATION = issue_type(
    "centre-unknown-qualification", Severity.ERROR, "Returned workbook names no installed qualification",
    "{name} was not merged: {reason}",
    "The workbook's qualification number (on the cover sheet, or on the workbook's hidden details "
    "sheet) is missing or is not "
    "an installed qualification, so its criteria cannot be checked; it was moved to the "
    "quarantine folder.",
    "Correct the qualification number on the workbook's cover and drop the file into the inbox again. "
    "If the qualification is new to the centre, whoever looks after tracker installs it first (there "
    "is no way to do this from Excel: `tracker spec add FILE.yaml --centre CENTRE`).", group="centre")
UNREADABLE = issue_type(
    "centre-unreadable", Severity.ERROR, "Returned file cannot be read",
    "{name} was not merged: {reason}",
    "The file is not a learner workbook tracker can open (damaged, cut short, password "
    "protected, not a spreadsheet, or built to harm the computer that opens it). It was moved to the quarantine "
    "folder; the rest of the roll-up went on.",
    "Open it in Excel or LibreOffice; if it opens, save it as an Excel Workbook (.xlsx) without a password and drop "
    "it into the inbox again. Otherwise ask the assessor for the file again.", group="centre")
IDENTITY_MISMATCH = issue_type(
    "centre-identity-mismatch", Severity.ERROR, "ULN belongs to another learner",
    "{name} was not merged: its ULN {uln} is on file for '{known}', but this workbook names "
    "'{learner}' and is not a workbook seen for them before",
    "Two people must never be merged into one record. The ULN in this workbook is already held by "
    "a learner with a different name, and the workbook is a different one from theirs, so it is "
    "probably another learner's workbook with a mistyped (or copied) ULN.",
    "Check the ULN on the workbook's cover sheet against the learner's record and correct it; if it "
    "really is the same person under a new name, correct the name on their original workbook.",
    group="centre")
NAME_CHANGED = issue_type(
    "centre-name-changed", Severity.WARNING, "Learner's name changed",
    "The learner's name changed from '{old}' to '{new}' in a workbook already on file for ULN {uln}",
    "The same workbook (tracker tells workbooks apart by a hidden id) for the same ULN now gives a different learner name. The return "
    "was merged and the new name used.",
    "If the change is a correction, nothing to do. If not, correct the name on the cover sheet.",
    group="centre")
NEW_WORKBOOK = issue_type(
    "centre-new-workbook", Severity.INFO, "Second workbook for a learner",
    "This is a different workbook (id {workbook_id}) from the one on file for {name} (ULN {uln}); "
    "it was merged into the same learner record",
    "Returns are matched by ULN and qualification number. A learner whose workbook was replaced "
    "(lost, or re-issued) is still one learner; rows that contradict what was accepted from the "
    "old workbook show as conflicts.",
    "Nothing to do if the learner was given a new workbook.", group="centre")
WORKBOOK_SHARED = issue_type(
    "centre-workbook-shared", Severity.WARNING, "Workbook copied from another learner's",
    "This workbook has the same workbook id as the one on file for {other} (ULN {other_uln}): it "
    "was probably copied from theirs",
    "Each learner's workbook is generated with its own id. The same id for two learners means one "
    "workbook was copied to start another, and may still hold the first learner's sign-offs.",
    "Check every sign-off in this workbook belongs to this learner; make each new learner's "
    "workbook with the add-in's New learner workbook button rather than copying another's.", group="centre")

BASE_UNTRUSTED = issue_type(
    "centre-base-untrusted", Severity.WARNING, "Workbook's issue stamp not recognised",
    "The hidden stamp saying which issue of the ledger this workbook came from {why}; it was merged "
    "as a workbook with no base (every change compared with the accepted values)",
    "A workbook written by `tracker issue` carries a stamp of the ledger revision it was issued "
    "from, so that a field the workbook did not change never contradicts newer work on another "
    "copy. This stamp does not match anything this centre issued (altered, or from another "
    "centre's ledger), so it was not trusted.",
    "Nothing to do if the workbook is genuine; conflicts it raised are listed on the Conflicts sheet.",
    group="centre")
BASE_FUTURE = issue_type(
    "centre-base-future", Severity.ERROR, "Workbook issued from a ledger revision not reached",
    "{name} was not merged: its stamp says it was issued from ledger revision {revision}, but the "
    "ledger is at revision {current}",
    "A workbook cannot have been issued from a revision the ledger has not reached: the ledger was "
    "probably restored from an old copy, or the stamp was altered. The file was quarantined.",
    "There is no way to do this from Excel: if the ledger was restored from a backup, whoever looks "
    "after tracker runs `tracker rebuild`; then drop the file into the inbox again.", group="centre")

METADATA_MISMATCH = issue_type(
    "centre-metadata-mismatch", Severity.ERROR, "Hidden metadata contradicts the cover",
    "{name} was not merged: {reason}",
    "Every workbook tracker makes records, on a very hidden sheet, the qualification it was made "
    "for. This file's cover names another qualification, so the file contradicts itself (edited, "
    "or assembled from two workbooks): merging it could enrol the learner on a qualification they "
    "are not on. It was moved to the quarantine folder and nothing in it was merged.",
    "Check which qualification the learner is on. If the cover is wrong, put back the qualification "
    "number; if the learner changed qualification, give them a workbook made for it (the add-in's New "
    "learner workbook button). Then drop the file into the inbox again.", group="centre")

ROLLUP_CODES = (UNKNOWN_LEARNER, UNKNOWN_QUALIFICATION, UNREADABLE, IDENTITY_MISMATCH, NAME_CHANGED,
                NEW_WORKBOOK, WORKBOOK_SHARED, BASE_UNTRUSTED, BASE_FUTURE,
                METADATA_MISMATCH)


__all__ = ["BASE_FUTURE", "BASE_UNTRUSTED", "IDENTITY_MISMATCH",
           "METADATA_MISMATCH", "NAME_CHANGED", "NEW_WORKBOOK", "ROLLUP_CODES", "UNKNOWN_LEARNER",
           "UNKNOWN_QUALIFICATION", "UNREADABLE", "WORKBOOK_SHARED"]
