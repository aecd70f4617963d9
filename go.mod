module github.com/pumpd/pump

go 1.26.8

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/cespare/xxhash/v2 v2.1.2 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/go-redis/redis/v8 v8.11.5 // indirect
	github.com/stretchr/testify v1.8.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)
