# syntax=docker/dockerfile:1
# driftless: a static Go binary, run as a non-root user next to Terraform.

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
    && useradd --system --uid 10001 --home-dir /var/lib/driftless --create-home driftless
COPY --from=terraform /bin/terraform /usr/local/bin/terraform
COPY --from=build /out/driftless /usr/local/bin/driftless
USER 10001:10001
WORKDIR /var/lib/driftless
VOLUME ["/var/lib/driftless"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/driftless"]
CMD ["run", "-c", "/etc/driftless/driftless.hcl"]
