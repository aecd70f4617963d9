// Package all imports every sink that ships with the daemon, so that they
// register themselves. Adding a sink is one line here.
package all

import (
	_ "github.com/pumpd/pump/pumps/csv"           // csv
	_ "github.com/pumpd/pump/pumps/dummy"         // dummy
	_ "github.com/pumpd/pump/pumps/elasticsearch" // elasticsearch
	_ "github.com/pumpd/pump/pumps/http"          // http
	_ "github.com/pumpd/pump/pumps/influx"        // influx
	_ "github.com/pumpd/pump/pumps/jsonl"         // jsonl
	_ "github.com/pumpd/pump/pumps/kafka"         // kafka
	_ "github.com/pumpd/pump/pumps/mongo"         // mongo
	_ "github.com/pumpd/pump/pumps/postgres"      // postgres
	_ "github.com/pumpd/pump/pumps/prometheus"    // prometheus
	_ "github.com/pumpd/pump/pumps/stdout"        // stdout
	_ "github.com/pumpd/pump/pumps/syslog"        // syslog
)
