"""Checks the Dockerfile without a Docker engine: two stages, dependencies built in a
layer of their own before the sources are copied, CI's build command
(`cargo build --release --locked`) and no other, a toolchain no older than the crate's
rust-version, and a final image that runs /metrics-server-prom as a numeric non-root
user with port 9100 exposed. Also that .dockerignore lets in what the COPYs need and
nothing else. Writes the commands of the dependency step that come before its
`cargo build` (the stub crate) to STUB_OUT.sh, for a replay outside Docker.

usage: dockerfile.py REPO_DIR STUB_OUT.sh
"""

import json
import os
import re
import sys
import tomllib

BUILD_COMMAND = "cargo build --release --locked"

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def instructions(text):
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical = ""
    for line in text.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        word, _, rest = logical.strip().partition(" ")
        yield word.upper(), " ".join(rest.split())
        logical = ""


def version(text):
    return tuple(int(part) for part in text.split("."))


def main():
    repo, stub_out = sys.argv[1:]
    with open(os.path.join(repo, "Dockerfile")) as f:
        steps = list(instructions(f.read()))
    with open(os.path.join(repo, "Cargo.toml"), "rb") as f:
        package = tomllib.load(f)["package"]

    args = dict(a.split("=", 1) for i, a in steps if i == "ARG" and "=" in a)
    stages, current = [], None
    for instruction, arguments in steps:
        if instruction == "FROM":
            current = {"from": arguments, "steps": []}
            stages.append(current)
        elif current is not None:
            current["steps"].append((instruction, arguments))
    if not check(len(stages) == 2, f"expected a build and a final stage, found {len(stages)}"):
        return
    build, final = stages

    rust = args.get("RUST_VERSION", "")
    check(
        re.fullmatch(r"\d+\.\d+(\.\d+)?", rust) and version(rust) >= version(package["rust-version"]),
        f"RUST_VERSION {rust!r} is older than the crate's rust-version {package['rust-version']}",
    )
    check(build["from"].endswith(" AS build"), "the first stage must be named build")

    order = []
    for instruction, arguments in build["steps"]:
        if instruction == "COPY":
            order.append(("copy", arguments))
        elif instruction == "RUN" and "cargo build" in arguments:
            builds = re.findall(r"cargo build[^&;|]*", arguments)
            check(
                [b.strip() for b in builds] == [BUILD_COMMAND],
                f"RUN must build with exactly `{BUILD_COMMAND}`: {arguments}",
            )
            order.append(("build", arguments))
    layered = check(
        [kind for kind, _ in order] == ["copy", "copy", "build", "copy", "copy", "build"]
        and order[0][1] == "Cargo.toml Cargo.lock ./"
        and order[1][1] == "simulator/Cargo.toml ./simulator/"
        and order[3][1] == "src ./src"
        and order[4][1] == "simulator/src ./simulator/src",
        "expected COPY of the manifests and Cargo.lock, a dependency build, COPY of both "
        f"crates' src, the real build; got {order}",
    )
    if layered:
        stub = order[2][1].split("&& cargo build", 1)[0]
        check(
            "src/main.rs" in stub and "src/lib.rs" in stub and "simulator/src/lib.rs" in stub,
            "the stub needs main.rs and lib.rs, and the simulator's lib.rs",
        )
        with open(stub_out, "w") as f:
            f.write("set -e\n" + stub + "\n")

    check(
        final["from"] == "gcr.io/distroless/cc-debian12:nonroot",
        f"final image {final['from']!r}, expected distroless cc-debian12:nonroot",
    )
    final_steps = dict(final["steps"])
    user = final_steps.get("USER", "")
    check(
        re.fullmatch(r"[1-9]\d*(:\d+)?", user) is not None,
        f"USER must be a numeric non-root uid (runAsNonRoot can verify only numbers), got {user!r}",
    )
    check(final_steps.get("EXPOSE") == "9100", "EXPOSE 9100")
    check(
        json.loads(final_steps.get("ENTRYPOINT", "null")) == ["/metrics-server-prom"],
        'ENTRYPOINT ["/metrics-server-prom"]',
    )
    check(
        final_steps.get("COPY") == "--from=build /build/target/release/metrics-server-prom /metrics-server-prom",
        "the final stage copies the release binary to /metrics-server-prom",
    )

    with open(os.path.join(repo, ".dockerignore")) as f:
        patterns = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    copied = {"Cargo.toml", "Cargo.lock", "src", "simulator/Cargo.toml", "simulator/src"}
    check(
        patterns[:1] == ["*"] and set(patterns[1:]) == {"!" + name for name in copied},
        f".dockerignore must exclude everything but {sorted(copied)}: {patterns}",
    )
    print("Dockerfile: two stages, cached dependency layer, CI's cargo build, non-root distroless")


if __name__ == "__main__":
    main()
    for failure in failures:
        print(f"FAIL Dockerfile: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
