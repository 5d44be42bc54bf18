# syntax=docker/dockerfile:1
#
# One image for every TaskFlow app: the binaries of cmd/actors, cmd/api,
# cmd/notifier, cmd/auditor and the taskflow CLI sit in /usr/local/bin and a
# Kubernetes Deployment picks its app with `command` (see k8s/base). The Dapr
# runtime is not in the image: on Kubernetes the sidecar injector adds daprd.
#
#   docker build -t taskflow:dev .
#   docker run --rm -e DATABASE_URL=... taskflow:dev migrate up
#
# Needs BuildKit (cache mounts). Builds for the target platform on the build
# platform, so `docker buildx build --platform linux/amd64,linux/arm64` is fast.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags=-s -o /out/ ./cmd/actors ./cmd/api ./cmd/notifier ./cmd/auditor ./cmd/taskflow

# Static binaries only: no shell, no package manager; CA certificates (for
# JWKS_URL and TLS to PostgreSQL) and tzdata come with the base image.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# Numeric, so the kubelet can verify runAsNonRoot (65532 is distroless' nonroot).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/taskflow"]
CMD ["help"]
