# syntax=docker/dockerfile:1
# driftless: a static Go binary next to Terraform.
#
# The daemon runs as root inside its container and Terraform as the
# unprivileged user "terraform" (terraform { run_as = "terraform" } in
# driftless.hcl). Terraform code comes from the watched repositories and
# runs on merge, before any approval: as another user it cannot read the
# daemon's environment (API, Git and Slack tokens) through /proc, nor the
# NATS store, the Git clones or other stacks' state under state_dir. A
# daemon running as a non-root user cannot switch users: there, Terraform
# shares its uid and only the daemon being non-dumpable keeps /proc out of
# reach (state_dir is not). Root here needs only a few capabilities:
#
#   docker run --cap-drop=ALL \
#     --cap-add=SETUID --cap-add=SETGID --cap-add=CHOWN --cap-add=FOWNER \
#     --cap-add=DAC_OVERRIDE --cap-add=KILL \
#     --security-opt=no-new-privileges \
#     -v driftless-state:/var/lib/driftless -v ./driftless.hcl:/etc/driftless/driftless.hcl:ro \
#     driftless
#
# (SETUID/SETGID to start Terraform as the user, CHOWN/FOWNER/DAC_OVERRIDE
# to hand each stack's work dir to it and back, KILL to interrupt it.
# Never add SYS_PTRACE: it would let root read a non-dumpable process.)

ARG GO_VERSION=1.26
ARG TERRAFORM_VERSION=1.11.4

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/driftless ./cmd/driftless

FROM hashicorp/terraform:${TERRAFORM_VERSION} AS terraform

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10002 --user-group --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin terraform \
    && install -d -m 0700 -o root -g root /var/lib/driftless
COPY --from=terraform /bin/terraform /usr/local/bin/terraform
COPY --from=build /out/driftless /usr/local/bin/driftless
# Root, on purpose: see above. driftless.hcl sets terraform { run_as = "terraform" }.
USER root
WORKDIR /var/lib/driftless
VOLUME ["/var/lib/driftless"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/driftless"]
CMD ["run", "-c", "/etc/driftless/driftless.hcl"]
