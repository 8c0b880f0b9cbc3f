// lockbox-otlp-sink: the OpenTelemetry Collector's own OTLP receiver (otlpreceiver, OTLP/HTTP: protobuf and JSON),
// with every trace batch it accepts written to stdout as one line of OTLP JSON. The tests' trace receiver
// (test/support/otlp-sink.ts builds it once into the Temporal CLI's cache, under the same kind of lock).
//
// The cached binary is reused while `--version` prints the version the test asks for: raise it with every change here.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lockbox-otlp-sink HOST:PORT | --version")
		os.Exit(2)
	}
	if os.Args[1] == "--version" {
		fmt.Println("lockbox-otlp-sink 1 (collector otlpreceiver v0.165.0)")
		return
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "lockbox-otlp-sink:", err)
		os.Exit(1)
	}
}

func run(endpoint string) error {
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig()
	// Through confmap, as the collector reads its YAML: only OTLP/HTTP, on the given address.
	conf := confmap.NewFromStringMap(map[string]any{"protocols": map[string]any{"http": map[string]any{"endpoint": endpoint}}})
	if err := conf.Unmarshal(cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var mu sync.Mutex
	marshaler := &ptrace.JSONMarshaler{}
	sink, err := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		line, err := marshaler.MarshalTraces(td)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		_, err = os.Stdout.Write(append(line, '\n'))
		return err
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	r, err := factory.CreateTraces(ctx, receivertest.NewNopSettings(factory.Type()), cfg, sink)
	if err != nil {
		return err
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "lockbox-otlp-sink listening on", endpoint)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return r.Shutdown(ctx)
}
