"""Checks that the pieces of the compose demo refer to each other correctly, which the
compose schema cannot see: the files it mounts exist, the shipped kubeconfig points at
the simulator service and its port, Prometheus scrapes the exporter service, Grafana's
data source is the Prometheus service and its dashboard folder is the one mounted, and
the real-cluster service mounts the kubeconfig the way the original image did.

usage: compose.py EXAMPLE_DIR
"""

import os
import sys

import yaml

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def mounts(service):
    """(source, target, options) of each short-syntax volume."""
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        yield parts[0], parts[1], parts[2] if len(parts) > 2 else ""


def main():
    example = sys.argv[1]
    compose = load(os.path.join(example, "docker-compose.yml"))
    services = compose["services"]
    for name in ("simulator", "exporter", "exporter-real-cluster", "prometheus", "grafana"):
        check(name in services, f"no service {name}")
    if failures:
        return

    for name, service in services.items():
        for source, _, _ in mounts(service):
            if source.startswith("./"):
                check(os.path.exists(os.path.join(example, source)), f"{name}: {source} does not exist")
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            check(
                os.path.isfile(os.path.join(example, context, "Dockerfile")),
                f"{name}: no Dockerfile in build context {context}",
            )

    simulator = services["simulator"]
    command = simulator.get("command", [])
    check(command[:1] == ["simulate"], f"simulator: command {command}")
    listen = command[command.index("--listen-address") + 1] if "--listen-address" in command else ""
    check(listen.startswith("0.0.0.0:"), f"simulator must listen on all interfaces, not {listen!r}")
    port = listen.rsplit(":", 1)[-1]

    exporter = services["exporter"]
    kubeconfig_mounts = [m for m in mounts(exporter) if m[1] == "/etc/kube/config"]
    if check(len(kubeconfig_mounts) == 1, "exporter: no kubeconfig at /etc/kube/config"):
        source, _, options = kubeconfig_mounts[0]
        check(options == "ro", "exporter: mount the kubeconfig read-only")
        kubeconfig = load(os.path.join(example, source))
        servers = [c["cluster"]["server"] for c in kubeconfig["clusters"]]
        check(servers == [f"http://simulator:{port}"], f"{source}: server {servers}, simulator on :{port}")
        check(
            kubeconfig["current-context"] in [c["name"] for c in kubeconfig["contexts"]],
            f"{source}: current-context names no context",
        )

    real = services["exporter-real-cluster"]
    check(real.get("profiles") == ["real-cluster"], "exporter-real-cluster: profile real-cluster")
    check(
        ("${HOME}/.kube/config", "/etc/kube/config", "ro") in set(mounts(real)),
        "exporter-real-cluster: mount ${HOME}/.kube/config:/etc/kube/config:ro",
    )
    check("KUBE_CONTEXT" in real.get("environment", {}), "exporter-real-cluster: KUBE_CONTEXT")
    check(
        "exporter" in real.get("networks", {}).get("default", {}).get("aliases", []),
        "exporter-real-cluster: must answer as exporter, the name Prometheus scrapes",
    )
    env_example = os.path.join(example, "env-example")
    if check(os.path.isfile(env_example), "no env-example"):
        with open(env_example) as f:
            settings = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        # The exporter takes an empty KUBE_CONTEXT as the name of a context.
        check("KUBE_CONTEXT=" not in settings, "env-example: an empty KUBE_CONTEXT names no context")

    prometheus = services["prometheus"]
    config_dir = [m for m in mounts(prometheus) if m[1] == "/etc/prometheus"]
    check(config_dir == [("./prometheus", "/etc/prometheus", "ro")], "prometheus: mount ./prometheus")
    config = load(os.path.join(example, "prometheus", "prometheus.yml"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs.get("metrics-server-prom", {})
    targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
    check(targets == ["exporter:9100"], f"job metrics-server-prom scrapes {targets}, not exporter:9100")
    check(job.get("honor_labels") is True, "job metrics-server-prom: honor_labels")
    check(any(p.endswith(":9100") for p in exporter.get("ports", [])), "exporter: publish 9100")

    grafana = services["grafana"]
    grafana_mounts = {target: source for source, target, _ in mounts(grafana)}
    provisioning = grafana_mounts.get("/etc/grafana/provisioning")
    if check(provisioning is not None, "grafana: mount provisioning at /etc/grafana/provisioning"):
        base = os.path.join(example, provisioning)
        sources = load(os.path.join(base, "datasources", "prometheus.yml"))["datasources"]
        check(
            [(s["type"], s["url"]) for s in sources] == [("prometheus", "http://prometheus:9090")],
            f"grafana data sources {sources}",
        )
        providers = load(os.path.join(base, "dashboards", "metrics-server-prom.yml"))["providers"]
        for provider in providers:
            path = provider["options"]["path"]
            source = grafana_mounts.get(path)
            if check(source is not None, f"grafana: dashboard folder {path} is not mounted"):
                dashboards = [f for f in os.listdir(os.path.join(example, source)) if f.endswith(".json")]
                check(dashboards, f"grafana: no dashboard in {source}")
    home = grafana.get("environment", {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "")
    folder, _, file = home.rpartition("/")
    check(
        folder in grafana_mounts and os.path.isfile(os.path.join(example, grafana_mounts[folder], file)),
        f"grafana: home dashboard {home} is not a mounted file",
    )
    print("compose: services, mounts, kubeconfig, scrape target and Grafana provisioning agree")


if __name__ == "__main__":
    main()
    for failure in failures:
        print(f"FAIL compose: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
