# Container image of metrics-server-prom.
#
#   docker build -t metrics-server-prom .
#   docker run -p 9100:9100 -v $HOME/.kube/config:/etc/kube/config:ro \
#       -e KUBE_CONTEXT=my-context metrics-server-prom
#
# The build step is the one CI runs, `cargo build --release --locked`, run twice: first
# on a stub crate so that the dependencies are compiled in a layer of their own (rebuilt
# only when Cargo.toml or Cargo.lock change), then on the real sources.

# The toolchain CI uses; the crate's minimum is rust-version in Cargo.toml (1.89).
ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /build

# gzip on /metrics is Intel's ISA-L, built from source by the isal-sys crate: nasm
# besides the autotools and make (which the rust image has; installed here to be sure).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        nasm autoconf automake libtool make \
    && rm -rf /var/lib/apt/lists/*

# 1. Dependencies: the workspace's manifests, the lock file and an empty library and
# binary for each crate (the exporter, and the simulated cluster it links for
# --simulate). Cargo refuses a manifest whose [[bench]], [[test]] or [[example]] files
# are missing, so each gets an empty stub too; they stay, and are never built by
# `cargo build`.
COPY Cargo.toml Cargo.lock ./
COPY simulator/Cargo.toml ./simulator/
RUN mkdir -p src simulator/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs simulator/src/lib.rs \
    && for stub in $(awk '/^\[/ { dir = "" } /^\[\[bench\]\]/ { dir = "benches" } /^\[\[test\]\]/ { dir = "tests" } /^\[\[example\]\]/ { dir = "examples" } dir != "" && /^(name|path) *=/ { split($0, q, "\""); print (/^name/ ? dir "/" q[2] ".rs" : q[2]) }' Cargo.toml); do \
        mkdir -p "$(dirname "$stub")" && echo 'fn main() {}' > "$stub"; \
    done \
    && cargo build --release --locked \
    && rm -rf src simulator/src \
        target/release/metrics-server-prom \
        target/release/deps/metrics_server_prom-* \
        target/release/deps/libmetrics_server_prom-* \
        target/release/deps/libsimulator-* \
        target/release/.fingerprint/metrics-server-prom-*

# 2. The crate itself. COPY keeps the files' own modification times, which may be older
# than the stub build; the stub's outputs were removed above, so this always compiles.
COPY src ./src
COPY simulator/src ./simulator/src
RUN cargo build --release --locked \
    && ./target/release/metrics-server-prom --version | grep -q '^metrics-server-prom '

# The final image: glibc, libgcc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /build/target/release/metrics-server-prom /metrics-server-prom
# distroless' "nonroot" user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 9100
ENTRYPOINT ["/metrics-server-prom"]
