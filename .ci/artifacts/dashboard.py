"""Checks the Grafana dashboard: valid JSON, the namespace/node/pod variables, unique
panel ids, every query on the templated data source, every metric it names either one
of this exporter's, one Prometheus records for each scrape, or one recorded by the
example's recording rules, and cores and
bytes shown in the right units. Writes each query, with the Grafana variables replaced
by values, as a recording rule to a file, for `promtool check rules` to parse.

usage: dashboard.py DASHBOARD.json RECORDING_RULES.yml PROMQL_OUT.yml
"""

import json
import re
import sys

import yaml

EXPORTER_METRICS = {
    "kube_metrics_server_pod_cpu",
    "kube_metrics_server_pod_mem",
    "kube_metrics_server_node_cpu",
    "kube_metrics_server_node_mem",
    "kube_metrics_server_up",
    "kube_metrics_server_read_errors_total",
    "kube_metrics_server_quantity_parse_errors_total",
    "kube_metrics_server_pods_without_metadata",
    "kube_metrics_server_pod_index_pods",
    "kube_metrics_server_build_info",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
} | {
    "kube_metrics_server_read_duration_seconds" + suffix
    for suffix in ("_bucket", "_sum", "_count")
}
# The series Prometheus itself records for every scrape of the exporter.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
CORE_UNITS = {"short", "suffix: cores"}
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan",
}
# Values that stand in for Grafana's variables when the query is parsed as PromQL.
VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$namespace": ".*",
    "$node": ".*",
    "$pod": ".*",
}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def metric_names(expr):
    """The metric names in a PromQL expression: identifiers that are not functions,
    keywords, label names or label values."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS or re.fullmatch(r"\d+[smhdwy]", name):
            continue
        names.add(name)
    return names


def panels_of(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def main():
    dashboard_path, rules_path, out_path = sys.argv[1:]
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    with open(rules_path) as f:
        recorded = {
            rule["record"]
            for group in yaml.safe_load(f)["groups"]
            for rule in group["rules"]
            if "record" in rule
        }
    allowed = EXPORTER_METRICS | SCRAPE_SERIES | recorded

    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    check(variables.get("datasource", {}).get("type") == "datasource", "no datasource variable")
    queries = []  # (where, PromQL)
    for name, label in (("namespace", "namespace"), ("node", "node"), ("pod", "pod")):
        variable = variables.get(name)
        if not check(variable is not None, f"no ${name} template variable"):
            continue
        definition = variable.get("definition", "")
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", definition)
        if check(match is not None, f"${name}: expected label_values(...), got {definition!r}"):
            check(match.group(2) == label, f"${name} takes the values of label {match.group(2)}")
            queries.append((f"variable ${name}", match.group(1)))
        check(variable.get("query", {}).get("query") == definition, f"${name}: query and definition differ")

    ids = set()
    for panel in panels_of(dashboard):
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        check(panel.get("id") not in ids, f"{where}: duplicate id")
        ids.add(panel.get("id"))
        check("gridPos" in panel, f"{where}: no gridPos")
        if panel.get("type") == "row":
            continue
        check(panel.get("datasource", {}).get("uid") == "${datasource}", f"{where}: datasource")
        targets = panel.get("targets", [])
        check(targets, f"{where}: no queries")
        kinds = set()
        for target in targets:
            expr = target.get("expr", "")
            check(target.get("datasource", {}).get("uid") == "${datasource}", f"{where}: target datasource")
            queries.append((where, expr))
            for name in metric_names(expr):
                if name.endswith("_cpu") or name.endswith("_cpu:sum"):
                    kinds.add("cores")
                elif name.endswith("_mem") or name.endswith("_mem:sum"):
                    kinds.add("bytes")
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        units = {defaults.get("unit")} - {None}
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            units |= {p["value"] for p in override.get("properties", []) if p.get("id") == "unit"}
        if "cores" in kinds:
            check(units & CORE_UNITS, f"{where}: CPU in cores needs one of {sorted(CORE_UNITS)}, has {units}")
        if "bytes" in kinds:
            check("bytes" in units, f"{where}: memory needs unit bytes, has {units}")
        check(
            units <= (CORE_UNITS if "cores" in kinds else set()) | ({"bytes"} if "bytes" in kinds else set())
            or not kinds,
            f"{where}: unit {units} does not fit {kinds}",
        )

    rules = []
    for index, (where, expr) in enumerate(queries):
        names = metric_names(expr)
        check(names, f"{where}: names no metric: {expr!r}")
        for name in sorted(names - allowed):
            failures.append(f"{where}: {name} is neither this exporter's metric nor a recording rule")
        promql = expr
        for variable, value in VARIABLES.items():
            promql = promql.replace(variable, value)
        check("$" not in promql, f"{where}: unknown Grafana variable in {expr!r}")
        rules.append({"record": f"dashboard_query_{index}", "expr": promql})
    with open(out_path, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, sort_keys=False)
    print(f"dashboard: {len(queries)} queries, {len(ids)} panels")


if __name__ == "__main__":
    main()
    if failures:
        for failure in failures:
            print(f"FAIL dashboard: {failure}", file=sys.stderr)
        sys.exit(1)
