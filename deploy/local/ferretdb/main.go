// Command ferretdb runs FerretDB v1.24.2 (MongoDB wire protocol, SQLite backend) for local
// development and tests of kxflow. Built by deploy/local/infra.sh into $KXFLOW_CACHE.
//
// Why a wrapper instead of `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`:
// that binary panics in init ("Invalid build/version/version.txt file content") because
// version.txt is generated at release time and is not in the module zip; building
// cmd/ferretdb from a wrapper module panics the same way (debug.BuildInfo.Main is still
// FerretDB's module). The embeddable package github.com/FerretDB/FerretDB/ferretdb skips
// that check, always disables telemetry and starts no debug HTTP listener.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27027", "TCP listen address (keep it on loopback; empty: none)")
	listenTLS := flag.String("listen-tls", "", "TLS listen address (empty: no TLS listener)")
	tlsCert := flag.String("tls-cert-file", "", "PEM server certificate of the TLS listener")
	tlsKey := flag.String("tls-key-file", "", "PEM private key of the TLS listener")
	tlsCA := flag.String("tls-ca-file", "", "PEM CA: when set, clients must present a certificate it signed (mutual TLS)")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite URI of an existing directory, with a trailing slash")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println("ferretdb v1.24.2 (embedded, kxflow local wrapper, sqlite backend)")
		return
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "invalid --log-level: %s\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	listener := ferretdb.ListenerConfig{
		TCP: *listenAddr, TLS: *listenTLS, TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey, TLSCAFile: *tlsCA,
	}
	if err := run(listener, *sqliteURL, logger); err != nil {
		logger.Error("ferretdb failed", "error", err)
		os.Exit(1)
	}
}

func run(listener ferretdb.ListenerConfig, sqliteURL string, logger *slog.Logger) error {
	if (listener.TCP == "" && listener.TLS == "") || sqliteURL == "" {
		return errors.New("--sqlite-url and --listen-addr or --listen-tls are required")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	logger.Warn("ferretdb listening", "uri", f.MongoDBURI(), "sqlite", sqliteURL)

	return f.Run(ctx)
}
