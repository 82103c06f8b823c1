"""Checks that the promtool unit tests cover every rule: each alert both firing and not
firing, and each recording rule evaluated by at least one expression test.

usage: rule_tests.py RULES_TEST.yml
"""

import os
import sys

import yaml


def main():
    test_path = sys.argv[1]
    with open(test_path) as f:
        tests = yaml.safe_load(f)
    alerts, records = set(), set()
    for rule_file in tests["rule_files"]:
        with open(os.path.join(os.path.dirname(test_path), rule_file)) as f:
            for group in yaml.safe_load(f)["groups"]:
                for rule in group["rules"]:
                    (alerts if "alert" in rule else records).add(rule.get("alert") or rule["record"])

    firing, quiet, evaluated = set(), set(), set()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
        for case in group.get("promql_expr_test", []):
            if case.get("exp_samples"):
                evaluated.add(case["expr"].strip())

    failures = [f"alert {a} is never tested firing" for a in sorted(alerts - firing)]
    failures += [f"alert {a} is never tested not firing" for a in sorted(alerts - quiet)]
    failures += [f"recording rule {r} is never evaluated" for r in sorted(records - evaluated)]
    failures += [f"test of unknown alert {a}" for a in sorted((firing | quiet) - alerts)]
    for failure in failures:
        print(f"FAIL rule tests: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"rule tests: {len(alerts)} alerts firing and not firing, {len(records)} recording rules")


if __name__ == "__main__":
    main()
