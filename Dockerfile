# syntax=docker/dockerfile:1
# Static build, distroless non-root runtime. The binary checks its own
# health, so the image needs no shell or curl.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/pump ./cmd/pump

FROM gcr.io/distroless/static-debian12:nonroot
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
