"""Who each submission is by: read from a roster file (`--roster roster.csv`) or from a Gradescope
bulk export's `submission_metadata.yml`, for the gradebook (Gradebook.set_students) and the LMS
exports.

Both files are untrusted input (a bulk export holds what students typed as their names): each
is read with bounds (size, rows, people per submission, field length), YAML without aliases
or tags beyond the plain ones, and anything out of bounds is a RosterError naming the file,
never an exception from deep in a parser. The values are kept as they are; each export escapes
them (grader.outputs.escape).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from dlgrade.grader.boundary import intake

#: What is known of a student; every field is optional.
FIELDS = ("name", "id", "sis_user_id", "sis_login_id", "email", "section")
#: Header names of a roster's columns (case, spaces and dashes aside), and the field each is.
COLUMNS = {"submission": "submission", "name": "name", "student": "name", "id": "id", "canvas_id": "id",
           "sis_user_id": "sis_user_id", "sid": "sis_user_id", "student_id": "sis_user_id",
           "sis_login_id": "sis_login_id", "login": "sis_login_id", "email": "email", "e_mail": "email",
           "section": "section"}
MAX_FILE_BYTES = 8 << 20
MAX_ROWS = 100_000
MAX_FIELD = 320  # an e-mail address is at most 254 characters
MAX_PEOPLE = 20  # students of one (group) submission
METADATA_FILE = "submission_metadata.yml"

People = dict[str, list[dict[str, str]]]


class RosterError(ValueError):
    """A roster or metadata file that cannot be read, or is out of bounds."""


def _read_text(path: Path) -> str:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RosterError(f"{path.name}: larger than {MAX_FILE_BYTES >> 20} MiB")
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise RosterError(f"{path.name}: cannot be read ({e.strerror or e})") from None
    if len(data) > MAX_FILE_BYTES:
        raise RosterError(f"{path.name}: larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RosterError(f"{path.name}: not UTF-8 text (byte {e.start})") from None


def _field(value: object, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RosterError(f"{where}: expected text, found {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_FIELD:
        raise RosterError(f"{where}: longer than {MAX_FIELD} characters")
    return text


def _add(people: People, submission: str, person: dict[str, str], where: str) -> None:
    group = people.setdefault(submission, [])
    if len(group) >= MAX_PEOPLE:
        raise RosterError(f"{where}: more than {MAX_PEOPLE} students for one submission")
    group.append({k: v for k, v in person.items() if v})


def read_roster(path: Path | str) -> People:
    """A roster CSV: a header row, then one row per student; the column `submission` (the
    submission's name in the gradebook: its folder or zip name) is required, the others are any
    of COLUMNS (name, id, sis_user_id or sid, sis_login_id, email, section). Two rows of one
    submission are a group."""
    path = Path(path)
    rows = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        header = next(rows, None)
        if not header:
            raise RosterError(f"{path.name}: empty")
        keys = [COLUMNS.get(h.strip().lower().replace(" ", "_").replace("-", "_")) for h in header]
        if "submission" not in keys:
            raise RosterError(f"{path.name}: no `submission` column (its columns: {', '.join(map(intake.shown, header))})")
        people: People = {}
        for number, row in enumerate(rows, start=2):
            if number > MAX_ROWS + 1:
                raise RosterError(f"{path.name}: more than {MAX_ROWS} rows")
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path.name}, line {number}"
            values = {k: _field(v, where) for k, v in zip(keys, row) if k}
            submission = values.pop("submission", "")
            if not submission:
                raise RosterError(f"{where}: no submission name")
            _add(people, submission, values, where)
    except csv.Error as e:
        raise RosterError(f"{path.name}: not a CSV file ({e})") from None
    return people


def read_gradescope_metadata(path: Path | str) -> People:
    """Gradescope's `submission_metadata.yml` (in a bulk export): for each `submission_<id>`,
    its `:submitters:` with `:name:`, `:sid:` (kept as sis_user_id) and `:email:`."""
    import yaml

    class NoAliases(yaml.BaseLoader):
        """YAML without aliases (an alias can make a small file expand without bound) or tags,
        and with every scalar a string: a name or sid that merely looks like a date or a number is not
        given a type (an impossible date, 2020-02-30, would raise from the constructor)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("aliases are not accepted")
            if getattr(self.peek_event(), "tag", None) not in (None, "!"):
                raise yaml.YAMLError("tags are not accepted")
            return super().compose_node(parent, index)

    path = Path(path)
    try:
        data = yaml.load(_read_text(path), Loader=NoAliases)  # noqa: S506 - strings only, aliases refused
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as e:
        raise RosterError(f"{path.name}: not readable as Gradescope's metadata ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise RosterError(f"{path.name}: expected a mapping of submissions")
    if len(data) > MAX_ROWS:
        raise RosterError(f"{path.name}: more than {MAX_ROWS} submissions")
    people: People = {}
    for key, entry in data.items():
        where = f"{path.name}, {intake.shown(key)}"
        submission = _field(key, where)
        entry = {str(k).strip(":"): v for k, v in entry.items()} if isinstance(entry, dict) else {}
        submitters = entry.get("submitters") or []
        if not isinstance(submitters, list):
            raise RosterError(f"{where}: submitters is not a list")
        for submitter in submitters:
            if not isinstance(submitter, dict):
                raise RosterError(f"{where}: a submitter is not a mapping")
            fields = {str(k).strip(":"): v for k, v in submitter.items()}
            _add(people, submission, {"name": _field(fields.get("name"), where),
                                      "sis_user_id": _field(fields.get("sid"), where),
                                      "email": _field(fields.get("email"), where)}, where)
    return people


def gradebook_names(people: People) -> People:
    """`people` keyed by the names the gradebook gives those submissions (grader.grading.discovery
    names a folder by intake.display_name)."""
    return {intake.display_name(name): who for name, who in people.items()}
