# syntax=docker/dockerfile:1
# Static build, distroless non-root runtime. The binary checks its own
# health, so the image needs no shell or curl.
# The build runs on the builder's own platform and cross-compiles to the
# target's (docker buildx build --platform linux/arm64,linux/amd64 .), which
# BuildKit names in TARGETOS and TARGETARCH.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/pump ./cmd/pump

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=
LABEL org.opencontainers.image.title="pump" \
      org.opencontainers.image.description="Drains iam's analytics records from Redis into the configured sinks; a drop-in replacement for iam-pump" \
      org.opencontainers.image.source="https://github.com/pumpd/pump" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/pump /usr/local/bin/pump
COPY configs/container.yaml /etc/pump/pump.yaml
USER nonroot:nonroot
EXPOSE 7070
# Longer than a tick, shorter than an operator's patience.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/pump", "health", "-c", "/etc/pump/pump.yaml"]
# SIGTERM starts the graceful stop; give it more than shutdown-timeout
# (docker stop -t 40, terminationGracePeriodSeconds: 40).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pump"]
CMD ["run", "-c", "/etc/pump/pump.yaml"]
