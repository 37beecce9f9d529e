package main

// State backends beyond the built-in SQLite register themselves by URL scheme.
import _ "github.com/cairn-dev/cairn/state/postgres" // postgres://
