# PolicyGate PDP container image.
#
# Why this shape:
# - Two stages: a Rust toolchain image builds `policygate`; the runtime image is
#   distroless (glibc + CA certificates, no shell, no package manager), so the
#   only program in the final image is the PDP itself.
# - Runs as the distroless `nonroot` user (65532), listens on 0.0.0.0:8000
#   (set explicitly: the binary's default is loopback-only).
# - The example policy is validated at build time and baked in at
#   /etc/policygate/policy.yaml; mount a file or ConfigMap over that path (or
#   set POLICYGATE_POLICY) to use another one. The server refuses to start on an
#   invalid policy either way.
# - Audit events go to stdout (JSON lines), operational logs to stderr.
#
# Base images are pinned by tag (toolchain version / Debian release). They are
# not pinned by digest because digests could not be resolved on the machine
# that wrote this file (no registry access); see docs/deploy.md for the
# one-line command that adds `@sha256:...` pins before a release build.
#
# Build (BuildKit, the default since Docker 23):
#   docker build -t policygate:dev .

FROM rust:1.95-slim-trixie AS build
WORKDIR /src
# The whole workspace is needed for `--locked` resolution; .dockerignore keeps
# target/, .git/, virtualenvs and deployment state out of the context.
COPY . .
# target/ and the cargo registry live in BuildKit cache mounts, so the binary is
# copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p policygate-cli \
    && install -D -m 0555 target/release/policygate /out/usr/local/bin/policygate
# Fail the image build, not the deployment, when the baked-in policy is invalid.
RUN /out/usr/local/bin/policygate validate policy/policy.yaml \
    && install -D -m 0444 policy/policy.yaml /out/etc/policygate/policy.yaml

FROM gcr.io/distroless/cc-debian13:nonroot AS runtime
ARG POLICYGATE_VERSION=dev
ARG POLICYGATE_REVISION=unknown
LABEL org.opencontainers.image.title="policygate" \
      org.opencontainers.image.description="PolicyGate policy decision point (PDP) for AI services" \
      org.opencontainers.image.version="${POLICYGATE_VERSION}" \
      org.opencontainers.image.revision="${POLICYGATE_REVISION}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=build /out/ /
ENV POLICYGATE_POLICY=/etc/policygate/policy.yaml \
    POLICYGATE_LISTEN=0.0.0.0:8000 \
    POLICYGATE_LOG_FORMAT=json \
    POLICYGATE_HEALTHCHECK_URL=http://127.0.0.1:8000/health
USER 65532:65532
EXPOSE 8000
# SIGTERM is the graceful shutdown that flushes pending audit events.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/policygate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/policygate"]
CMD ["serve"]
