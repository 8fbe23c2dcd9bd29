#!/usr/bin/python3
# Counts test cases for scripts/test.sh; prints "PASSED FAILED" on one line.
#   count_results.py meson BUILD_DIR   - doctest cases from meson's testlog.json; an executable
#                                        that failed without a doctest summary (crash, sanitizer
#                                        abort) counts as one failed case
#   count_results.py junit FILE.xml    - pytest junit xml: a case with <failure> or <error>
#                                        (teardown errors included) failed, <skipped> not counted
import json
import re
import sys
import xml.etree.ElementTree as ET

DOCTEST = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")


def meson(build_dir):
    passed = failed = 0
    try:
        lines = open(f"{build_dir}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        return 0, 1
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        m = DOCTEST.findall(t.get("stdout") or "")
        if m:
            p, f = sum(int(x[1]) for x in m), sum(int(x[2]) for x in m)
            if not ok and f == 0:
                f = 1          # passed its cases but then failed (leak report, crash at exit)
            passed, failed = passed + p, failed + f
        elif ok:
            passed += 1
        else:
            failed += 1
    return passed, failed


def junit(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, 1
    cases = {}
    for tc in root.iter("testcase"):
        key = (tc.get("classname"), tc.get("name"))
        tags = {child.tag for child in tc}
        state = "failed" if tags & {"failure", "error"} else \
            "skipped" if "skipped" in tags else "passed"
        if cases.get(key) != "failed":   # a teardown error may add a second entry
            cases[key] = state
    states = list(cases.values())
    return states.count("passed"), states.count("failed")


if __name__ == "__main__":
    kind, arg = sys.argv[1], sys.argv[2]
    p, f = meson(arg) if kind == "meson" else junit(arg)
    print(p, f)
