package config

import "slices"

// StdoutPumps names the pumps that write their records on standard output,
// sorted.
func (c Config) StdoutPumps() []string {
	var names []string
	for name, p := range c.Pumps {
		if p.Type == "stdout" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// logOffStdout sends the log to standard error when a pump writes records
// on standard output and neither the file, the environment nor a flag chose
// log.output-paths: log lines would otherwise interleave with the records
// of whoever reads the pump's stdout. tree is the configuration as decoded.
func logOffStdout(cfg *Config, tree map[string]any) {
	if len(cfg.StdoutPumps()) == 0 {
		return
	}
	if log, ok := tree["log"].(map[string]any); ok {
		if _, chosen := log["output-paths"]; chosen {
			return
		}
	}
	cfg.Log.OutputPaths = StringList{"stderr"}
}
