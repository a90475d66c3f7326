"""JUnit XML, for CI dashboards (format "junit")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dlgrade.grader.outputs import escape
from dlgrade.grader.outputs.formats import Output, Result, property_message, show_replay, shown


NAME = "junit"


def default_out(one_submission: bool) -> str:
    return "junit.xml"


def write(results: list[Result], out: Output) -> list[Path]:
    return out.emit(ET.tostring(junit_xml(results).getroot(), encoding="unicode", xml_declaration=True) + "\n")


def junit_xml(results: list[Result]) -> ET.ElementTree:
    """JUnit XML: a <testsuites> root, one <testsuite> per submission, one <testcase> per
    property (classname: the exercise). Points sit in the suite's <properties>: `points` and
    `max_points` for the submission, `points:<exercise>` and `max_points:<exercise>` per exercise.

    A failed property is a <failure>; one not checked because an earlier one blocked it is
    <skipped>; one not checked because its exercise could not be loaded (missing, module error,
    forbidden import) is an <error>, since that exercise earns nothing and must not look skipped.
    A submission that could not be graded at all is a suite of one <error> testcase."""
    root = ET.Element("testsuites", name="dlgrade")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in results:
        replay = show_replay(r)
        suite = ET.SubElement(root, "testsuite", name=r["name"], timestamp=r.get("graded_at", ""),
                              time=f"{float(r.get('seconds', 0.0)):.3f}")
        props = ET.SubElement(suite, "properties")
        for key, value in (("points", r.get("score")), ("max_points", r.get("max_score"))):
            ET.SubElement(props, "property", name=key, value=shown(value))
        ET.SubElement(props, "property", name="status", value=r["status"])
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if r["status"] == "error":
            case = ET.SubElement(suite, "testcase", classname="dlgrade", name="grading")
            ET.SubElement(case, "error", message=r.get("error") or "could not be graded")
            counts.update(tests=1, errors=1)
        for e in r.get("exercises", []):
            ET.SubElement(props, "property", name=f"points:{e['name']}", value=shown(e["points"]))
            ET.SubElement(props, "property", name=f"max_points:{e['name']}", value=shown(e["max_points"]))
            if e.get("override"):
                ET.SubElement(props, "property", name=f"override:{e['name']}",
                              value=f"{shown(e['override']['original'])} -> {shown(e['points'])}: {e['override']['reason']}")
            loaded = e.get("status", "checked") in ("checked", "not_implemented")
            for p in e.get("properties", []):
                case = ET.SubElement(suite, "testcase", classname=e["name"], name=p["name"])
                counts["tests"] += 1
                if p["passed"]:
                    continue
                text = property_message(p, replay)
                if not p["checked"]:
                    kind = "skipped" if loaded else "error"
                    ET.SubElement(case, kind, message=(p.get("message") or e.get("reason") or kind).splitlines()[0])
                    counts["skipped" if loaded else "errors"] += 1
                else:
                    failure = ET.SubElement(case, "failure", message=text.splitlines()[0])
                    failure.text = text
                    counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.ElementTree(escape.xml_tree(root))
