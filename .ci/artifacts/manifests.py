"""Checks one rendering of deploy/ (the output of `kubectl kustomize`) for what a schema
cannot see: RBAC that is exactly what the exporter needs, bindings whose ServiceAccount
subject is in the ServiceAccount's own namespace, a hardened pod, and a Service and
ServiceMonitor that find it. Writes the built-in objects to a file for
kubernetes-validate and prints how many there are.

usage: manifests.py VARIANT RENDERED.yaml BUILTIN_OUT.yaml
VARIANT: cluster, servicemonitor, namespaced, namespaced-node-metrics, resources or relocated
"""

import sys

import yaml

NAME = "metrics-server-prom"
IMAGE = "ghcr.io/metrics-server-prom/metrics-server-prom:0.1.0"
PORT = 9100
# Kinds that are not part of Kubernetes itself and so have no schema to validate against.
CUSTOM_GROUPS = {"monitoring.coreos.com"}

POD_RULES = {("", "pods"): {"get", "list", "watch"}}
POD_METRICS_RULES = {("metrics.k8s.io", "pods"): {"get", "list"}}
NODE_METRICS_RULES = {("metrics.k8s.io", "nodes"): {"get", "list"}}
NODE_WATCH_RULES = {("", "nodes"): {"get", "list", "watch"}}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def key(doc):
    meta = doc.get("metadata", {})
    return doc["kind"], meta.get("namespace"), meta["name"]


def describe(doc):
    kind, namespace, name = key(doc)
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


def group_of(doc):
    api_version = doc["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def granted(role):
    """The (group, resource) -> verbs a Role or ClusterRole grants; no wildcards allowed."""
    grants = {}
    for rule in role.get("rules") or []:
        check(
            not rule.get("nonResourceURLs") and not rule.get("resourceNames"),
            f"{describe(role)}: rules must name whole resources, no URLs or names",
        )
        for field in ("apiGroups", "resources", "verbs"):
            check("*" not in rule.get(field, []), f"{describe(role)}: wildcard in {field}")
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                grants.setdefault((group, resource), set()).update(rule.get("verbs", []))
    return grants


def main():
    variant, rendered, builtin_out = sys.argv[1:]
    with open(rendered) as f:
        docs = [doc for doc in yaml.safe_load_all(f) if doc]
    by_key = {key(doc): doc for doc in docs}
    check(len(by_key) == len(docs), "two objects share a kind, namespace and name")

    accounts = [doc for doc in docs if doc["kind"] == "ServiceAccount"]
    check(len(accounts) == 1, f"expected one ServiceAccount, found {len(accounts)}")
    account = accounts[0]
    sa_namespace = account["metadata"]["namespace"]
    expected_namespace = "monitoring" if variant == "relocated" else NAME
    check(sa_namespace == expected_namespace, f"ServiceAccount in {sa_namespace}")
    check(
        ("Namespace", None, sa_namespace) in by_key,
        f"the ServiceAccount's namespace {sa_namespace} is not created",
    )

    # Every binding: the subject is the ServiceAccount where it really lives, and the
    # role it refers to is part of the same rendering.
    bindings = [doc for doc in docs if doc["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    grants_per_scope = {}  # namespace (None: cluster-wide) -> {(group, resource): verbs}
    for binding in bindings:
        subjects = binding.get("subjects") or []
        check(len(subjects) == 1, f"{describe(binding)}: expected one subject")
        for subject in subjects:
            check(subject.get("kind") == "ServiceAccount", f"{describe(binding)}: subject kind")
            check(
                subject.get("name") == account["metadata"]["name"],
                f"{describe(binding)}: subject {subject.get('name')} is not the ServiceAccount",
            )
            check(
                subject.get("namespace") == sa_namespace,
                f"{describe(binding)}: subject namespace {subject.get('namespace')!r} is not "
                f"the ServiceAccount's namespace {sa_namespace!r} (every request would be 403)",
            )
        ref = binding["roleRef"]
        binding_namespace = binding["metadata"].get("namespace")
        role_namespace = binding_namespace if ref["kind"] == "Role" else None
        role = by_key.get((ref["kind"], role_namespace, ref["name"]))
        if not check(role is not None, f"{describe(binding)}: {ref['kind']} {ref['name']} missing"):
            continue
        scope = None if binding["kind"] == "ClusterRoleBinding" else binding_namespace
        for resource, verbs in granted(role).items():
            grants_per_scope.setdefault(scope, {}).setdefault(resource, set()).update(verbs)

    roles = [doc for doc in docs if doc["kind"] in ("Role", "ClusterRole")]
    bound = set()
    for binding in bindings:
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        bound.add((ref["kind"], namespace, ref["name"]))
    for role in roles:
        check(key(role) in bound, f"{describe(role)} is bound to nothing")

    deployment = by_key.get(("Deployment", sa_namespace, NAME))
    if not check(deployment is not None, "Deployment missing"):
        return
    args = deployment["spec"]["template"]["spec"]["containers"][0].get("args", [])
    namespace_args = [arg for arg in args if arg.startswith("--namespaces=")]

    if variant in ("cluster", "servicemonitor", "relocated", "resources"):
        expected = {None: {**POD_RULES, **POD_METRICS_RULES, **NODE_METRICS_RULES}}
        if variant == "resources":
            expected[None].update(NODE_WATCH_RULES)
            check("--resources" in args, f"the resources variant must pass --resources, got {args}")
        check(not namespace_args, "the cluster-wide variant must not pass --namespaces")
        check(
            all(doc["kind"] not in ("Role", "RoleBinding") for doc in docs),
            "the cluster-wide variant has no Roles",
        )
    else:
        watched = namespace_args[0].split("=", 1)[1].split(",") if namespace_args else []
        check(len(namespace_args) == 1 and all(watched), f"expected one --namespaces, got {args}")
        expected = {ns: {**POD_RULES, **POD_METRICS_RULES} for ns in watched}
        if variant == "namespaced-node-metrics":
            expected[None] = dict(NODE_METRICS_RULES)
    check(
        grants_per_scope == expected,
        f"RBAC grants {sorted(grants_per_scope.items(), key=str)} "
        f"differ from what the exporter needs {sorted(expected.items(), key=str)}",
    )

    check_pod(deployment, account)
    service = by_key.get(("Service", sa_namespace, NAME))
    if check(service is not None, "Service missing"):
        check_service(service, deployment)
        monitors = [doc for doc in docs if doc["kind"] == "ServiceMonitor"]
        check(len(monitors) == (variant == "servicemonitor"), f"{len(monitors)} ServiceMonitors")
        for monitor in monitors:
            check_service_monitor(monitor, service)

    builtin = [doc for doc in docs if group_of(doc) not in CUSTOM_GROUPS]
    with open(builtin_out, "w") as f:
        yaml.safe_dump_all(builtin, f, sort_keys=False)
    print(len(builtin))


def check_pod(deployment, account):
    where = describe(deployment)
    spec = deployment["spec"]
    check(spec.get("replicas") == 1, f"{where}: one replica, or every series is exported twice")
    pod = spec["template"]["spec"]
    check(pod.get("serviceAccountName") == account["metadata"]["name"], f"{where}: serviceAccountName")
    check(pod.get("automountServiceAccountToken") is not False, f"{where}: the token is needed")
    pod_security = pod.get("securityContext", {})
    check(pod_security.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot")
    check(pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccomp")
    containers = pod["containers"]
    check(len(containers) == 1, f"{where}: one container")
    container = containers[0]
    check(container.get("image") == IMAGE, f"{where}: image {container.get('image')}")
    security = container.get("securityContext", {})
    check(security.get("runAsNonRoot") is True, f"{where}: container runAsNonRoot")
    check(security.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
    check(security.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation")
    check(security.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: drop ALL capabilities")
    check(not security.get("capabilities", {}).get("add"), f"{where}: no added capabilities")
    check(security.get("privileged") in (None, False), f"{where}: not privileged")
    for bound in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            check(resource in container.get("resources", {}).get(bound, {}), f"{where}: {bound}.{resource}")
    ports = {port.get("name"): port for port in container.get("ports", [])}
    check(ports.get("metrics", {}).get("containerPort") == PORT, f"{where}: port metrics {PORT}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path and get.get("port") == "metrics", f"{where}: {probe} on {path}")


def check_service(service, deployment):
    where = describe(service)
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"].get("selector", {})
    check(selector and selector.items() <= template_labels.items(), f"{where}: selector misses the pod")
    check(
        deployment["spec"]["selector"]["matchLabels"].items() <= template_labels.items(),
        f"{describe(deployment)}: selector misses its own pods",
    )
    ports = service["spec"]["ports"]
    check(
        [(p.get("name"), p.get("port"), p.get("targetPort")) for p in ports] == [("metrics", PORT, "metrics")],
        f"{where}: expected one port metrics {PORT} -> metrics, got {ports}",
    )


def check_service_monitor(monitor, service):
    where = describe(monitor)
    check(monitor["apiVersion"] == "monitoring.coreos.com/v1", f"{where}: apiVersion")
    spec = monitor.get("spec", {})
    match = spec.get("selector", {}).get("matchLabels", {})
    check(match and match.items() <= service["metadata"].get("labels", {}).items(), f"{where}: selector misses the Service")
    service_namespace = service["metadata"]["namespace"]
    names = spec.get("namespaceSelector", {}).get("matchNames")
    check(
        names == [service_namespace] or (names is None and monitor["metadata"]["namespace"] == service_namespace),
        f"{where}: namespaceSelector misses {service_namespace}",
    )
    endpoints = spec.get("endpoints", [])
    check(len(endpoints) == 1, f"{where}: one endpoint")
    for endpoint in endpoints:
        check(endpoint.get("port") == "metrics", f"{where}: endpoint port must be the Service's port name")
        check(endpoint.get("path", "/metrics") == "/metrics", f"{where}: path")
        check(endpoint.get("honorLabels") is True, f"{where}: honorLabels keeps the pod's namespace/pod/container")


if __name__ == "__main__":
    main()
    if failures:
        for failure in failures:
            print(f"FAIL {sys.argv[1]}: {failure}", file=sys.stderr)
        sys.exit(1)
