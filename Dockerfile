# A minimal image: the static binary on distroless's static base, non-root,
# no shell. Build: docker build -t credbatch .
# Run:   docker run --rm -e OKTA_CLIENT_ORGURL -e OKTA_CLIENT_TOKEN \
#          -v "$PWD:/work" -w /work credbatch run incident.csv --yes
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/credbatch ./cmd/credbatch

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/credbatch /usr/local/bin/credbatch
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/credbatch"]
